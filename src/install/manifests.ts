/**
 * The objects `portcullis install` prints for one Gateway (as `linkerd install` and `istioctl manifest generate` do):
 * ServiceAccount, Deployment, Service, PodDisruptionBudget, HorizontalPodAutoscaler, RBAC and the GatewayClass.
 * Pure: the same options always give the same objects, so the output can be diffed and reviewed before applying.
 */
import { DEFAULT_CONTROLLER_NAME } from '../kube/access.ts';
import { auditClusterRules, leaseRules, secretRules, serveClusterRules, type PolicyRule } from './rbac.ts';

/** A Kubernetes object as plain data. */
export type KubeObject = {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: Record<string, unknown>;
} & Record<string, unknown>;

export interface InstallOptions {
  readonly namespace: string;
  /** The Gateway's name; the ServiceAccount, Deployment and Service carry it (Istio names a waypoint's SA so). */
  readonly name: string;
  readonly className: string;
  readonly image: string;
  readonly replicas: number;
  readonly maxReplicas: number;
  /** Namespaces whose Secrets the gateway may read (DestinationRule credentials); default the gateway's own. */
  readonly secretNamespaces: readonly string[];
  /** istiod's certificate service. */
  readonly caAddress: string;
  /** Where the configuration comes from: the Kubernetes API, or a ConfigMap mounted as `--config`. */
  readonly config: { readonly kind: 'kube' } | { readonly kind: 'configmap'; readonly name: string };
  /** Expose the admin port (15000) in the Service; it then listens on the pod IP, not loopback. */
  readonly exposeAdmin: boolean;
  /** Also print the optional ClusterRole for `portcullis audit --kube`. */
  readonly auditRole: boolean;
  /** `istio.io/waypoint-for` of the GatewayClass. */
  readonly waypointFor: 'service' | 'workload' | 'all' | 'none';
}

export const HBONE_PORT = 15008;
const ADMIN_PORT = 15000;
export const HEALTH_PORT = 15021;
/** Non-root user and group of the image (the `nonroot` id distroless images use). */
const RUN_AS = 65532;
const TOKEN_DIR = '/var/run/secrets/tokens';
const ROOT_CERT_DIR = '/var/run/secrets/istio';
const CONFIG_DIR = '/etc/portcullis/config';
const DRAIN_SECONDS = 5;

/** The label istiod reads to find a waypoint's pods (`gateway.networking.k8s.io/gateway-name`). */
const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';

/** A namespaced Role and the RoleBinding that gives it to `subject`. */
function boundRole(
  name: string,
  namespace: string,
  rules: readonly PolicyRule[],
  subject: Record<string, string>,
  labels: Record<string, string>,
): KubeObject[] {
  return [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name, namespace, labels }, rules },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name, namespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [subject],
    },
  ];
}

/** Objects in apply order: the GatewayClass, identity and access first, then the workloads. */
export function installManifests(o: InstallOptions): KubeObject[] {
  const ns = o.namespace;
  const podLabels = {
    [GATEWAY_NAME_LABEL]: o.name,
    'app.kubernetes.io/name': 'portcullis',
    'app.kubernetes.io/instance': o.name,
  };
  const labels = {
    'app.kubernetes.io/name': 'portcullis',
    'app.kubernetes.io/instance': o.name,
    'app.kubernetes.io/managed-by': 'portcullis-install',
  };
  const selector = { [GATEWAY_NAME_LABEL]: o.name };
  const clusterName = `portcullis-${ns}-${o.name}`;
  const subject = { kind: 'ServiceAccount', name: o.name, namespace: ns };
  const out: KubeObject[] = [];

  out.push({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'GatewayClass',
    metadata: { name: o.className, labels: { 'istio.io/waypoint-for': o.waypointFor } },
    spec: { controllerName: DEFAULT_CONTROLLER_NAME, description: 'Portcullis: identity-based egress gateway' },
  });
  // automountServiceAccountToken stays on only when the gateway reads the Kubernetes API.
  out.push({
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: o.name, namespace: ns, labels },
    automountServiceAccountToken: o.config.kind === 'kube',
  });

  if (o.config.kind === 'kube') {
    out.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: clusterName, labels },
      rules: serveClusterRules(),
    });
    out.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: clusterName, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterName },
      subjects: [subject],
    });
    for (const secretNs of o.secretNamespaces)
      out.push(...boundRole(`portcullis-${o.name}-secrets`, secretNs, secretRules(), subject, labels));
    out.push(...boundRole(`portcullis-${o.name}-leader`, ns, leaseRules(), subject, labels));
  }
  if (o.auditRole) {
    // Not bound to anyone: bind it to whoever runs `portcullis audit --kube` (a user, a group, or a CI account).
    out.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'portcullis-audit', labels },
      rules: auditClusterRules(),
    });
  }

  const args = [
    'serve',
    ...(o.config.kind === 'kube' ? ['--kube'] : ['--config', CONFIG_DIR]),
    '--gateway',
    `${ns}/${o.name}`,
    '--ca-address',
    o.caAddress,
    '--listen',
    `0.0.0.0:${HBONE_PORT}`,
    '--admin',
    `${o.exposeAdmin ? '0.0.0.0' : '127.0.0.1'}:${ADMIN_PORT}`,
    '--health',
    `0.0.0.0:${HEALTH_PORT}`,
    // One process per pod: the HorizontalPodAutoscaler adds pods, and the CPU limit is what one worker gets.
    '--workers',
    '1',
    '--drain-seconds',
    String(DRAIN_SECONDS),
  ];
  const volumes: Record<string, unknown>[] = [
    {
      name: 'istio-token',
      projected: {
        sources: [{ serviceAccountToken: { audience: 'istio-ca', expirationSeconds: 43200, path: 'istio-token' } }],
      },
    },
    { name: 'istiod-ca-cert', configMap: { name: 'istio-ca-root-cert' } },
    { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
  ];
  const mounts: Record<string, unknown>[] = [
    { name: 'istio-token', mountPath: TOKEN_DIR, readOnly: true },
    { name: 'istiod-ca-cert', mountPath: ROOT_CERT_DIR, readOnly: true },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  if (o.config.kind === 'configmap') {
    volumes.push({ name: 'config', configMap: { name: o.config.name } });
    mounts.push({ name: 'config', mountPath: CONFIG_DIR, readOnly: true });
  }
  const probe = (path: string, failureThreshold: number): Record<string, unknown> => ({
    httpGet: { path, port: 'health' },
    periodSeconds: 5,
    timeoutSeconds: 2,
    failureThreshold,
  });

  out.push({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: o.name, namespace: ns, labels },
    spec: {
      replicas: o.replicas,
      selector: { matchLabels: selector },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          // The gateway is a mesh edge, not a mesh workload: ztunnel must not capture its own upstream traffic.
          labels: { ...podLabels, 'istio.io/dataplane-mode': 'none' },
          annotations: { 'sidecar.istio.io/inject': 'false' },
        },
        spec: {
          serviceAccountName: o.name,
          automountServiceAccountToken: o.config.kind === 'kube',
          terminationGracePeriodSeconds: DRAIN_SECONDS + 25,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: RUN_AS,
            runAsGroup: RUN_AS,
            fsGroup: RUN_AS,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                {
                  weight: 100,
                  podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector } },
                },
              ],
            },
          },
          containers: [
            {
              name: 'portcullis',
              image: o.image,
              imagePullPolicy: 'IfNotPresent',
              args,
              env: [
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                { name: 'SERVICE_ACCOUNT', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              ],
              ports: [
                { name: 'hbone', containerPort: HBONE_PORT, protocol: 'TCP' },
                { name: 'health', containerPort: HEALTH_PORT, protocol: 'TCP' },
                ...(o.exposeAdmin ? [{ name: 'admin', containerPort: ADMIN_PORT, protocol: 'TCP' }] : []),
              ],
              readinessProbe: probe('/healthz/ready', 3),
              livenessProbe: { ...probe('/healthz/live', 6), initialDelaySeconds: 5 },
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
              securityContext: {
                runAsNonRoot: true,
                runAsUser: RUN_AS,
                runAsGroup: RUN_AS,
                allowPrivilegeEscalation: false,
                privileged: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
              volumeMounts: mounts,
            },
          ],
          volumes,
        },
      },
    },
  });
  out.push({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: o.name, namespace: ns, labels },
    spec: {
      type: 'ClusterIP',
      selector,
      ports: [
        // Istio's waypoint Service names the HBONE port `mesh`.
        { name: 'mesh', port: HBONE_PORT, targetPort: 'hbone', protocol: 'TCP' },
        ...(o.exposeAdmin ? [{ name: 'http-admin', port: ADMIN_PORT, targetPort: 'admin', protocol: 'TCP' }] : []),
      ],
    },
  });
  out.push({
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: o.name, namespace: ns, labels },
    spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
  });
  out.push({
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: o.name, namespace: ns, labels },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: o.name },
      minReplicas: o.replicas,
      maxReplicas: o.maxReplicas,
      metrics: [
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } },
      ],
    },
  });
  return out;
}
