/**
 * The view of the cluster every audit layer reads: declared namespaces, workload namespaces, and every pod the
 * manifests would run (Pods and the pod templates of Deployments, DaemonSets and StatefulSets).
 */
import type { Namespace, NetworkPolicy, Pod, PodSpec, WorkloadController } from '../config/api-types.ts';
import type { FieldPath, IgnoredDocument, Resource } from '../config/types.ts';
import type { Settings } from '../config/settings-types.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import type { ResourceRef } from './finding.ts';

/** The label Gateway API implementations put on gateway pods; seed 000's NetworkPolicy exempts them by it. */
const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
export const DATAPLANE_MODE_LABEL = 'istio.io/dataplane-mode';

const WORKLOAD_KINDS = new Set(['Pod', 'Deployment', 'DaemonSet', 'StatefulSet']);

/** One pod as the manifests would create it: a Pod, or the template of a controller. */
export interface PodSubject {
  readonly resource: Resource;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly hostNetwork: boolean;
  readonly serviceAccount: string;
  readonly isTemplate: boolean;
  /** Path of the pod spec inside the resource: `spec` or `spec.template.spec`. */
  readonly specPath: FieldPath;
  /** Path of the pod metadata: `metadata` or `spec.template.metadata`. */
  readonly metaPath: FieldPath;
  /** A gateway pod (`gateway.networking.k8s.io/gateway-name`), exempt from the workload fence as in seed 000. */
  readonly isGateway: boolean;
}

export interface ClusterModel {
  readonly snapshot: Snapshot;
  readonly settings: Settings;
  /** Namespace manifests by name. */
  readonly namespaces: ReadonlyMap<string, Namespace>;
  /** Sorted names of workload namespaces. */
  readonly workloadNamespaces: readonly string[];
  /** Namespaces of the Gateways Portcullis serves. */
  readonly gatewayNamespaces: ReadonlySet<string>;
  readonly pods: readonly PodSubject[];
  readonly networkPolicies: readonly NetworkPolicy[];
  readonly ignored: readonly IgnoredDocument[];
  /** Non-gateway pods in a namespace. */
  workloadPods(namespace: string): PodSubject[];
  isWorkloadNamespace(namespace: string): boolean;
}

export function refOf(r: Resource): ResourceRef {
  return { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name };
}

export function namespaceRef(name: string): ResourceRef {
  return { kind: 'Namespace', namespace: '', name };
}

function podSubject(r: Resource): PodSubject | null {
  if (r.kind === 'Pod') {
    const pod = r as Pod;
    const spec: PodSpec = pod.spec ?? {};
    return {
      resource: r,
      namespace: r.metadata.namespace,
      labels: r.metadata.labels,
      annotations: r.metadata.annotations,
      hostNetwork: spec.hostNetwork === true,
      serviceAccount: spec.serviceAccountName || spec.serviceAccount || 'default',
      isTemplate: false,
      specPath: ['spec'],
      metaPath: ['metadata'],
      isGateway: Object.hasOwn(r.metadata.labels, GATEWAY_NAME_LABEL),
    };
  }
  if (r.kind === 'Deployment' || r.kind === 'DaemonSet' || r.kind === 'StatefulSet') {
    const template = (r as WorkloadController).spec?.template ?? {};
    const spec: PodSpec = template.spec ?? {};
    const labels = template.metadata?.labels ?? {};
    return {
      resource: r,
      namespace: r.metadata.namespace,
      labels,
      annotations: template.metadata?.annotations ?? {},
      hostNetwork: spec.hostNetwork === true,
      serviceAccount: spec.serviceAccountName || spec.serviceAccount || 'default',
      isTemplate: true,
      specPath: ['spec', 'template', 'spec'],
      metaPath: ['spec', 'template', 'metadata'],
      isGateway: Object.hasOwn(labels, GATEWAY_NAME_LABEL),
    };
  }
  return null;
}

/** Build the model. Workload namespaces: every namespace declared or used by a workload or ServiceEntry, minus system and gateway namespaces. */
export function buildClusterModel(snapshot: Snapshot): ClusterModel {
  const load = snapshot.load;
  const settings = snapshot.settings;
  const namespaces = new Map<string, Namespace>();
  const pods: PodSubject[] = [];
  const networkPolicies: NetworkPolicy[] = [];
  const seen = new Set<string>();
  for (const r of load.resources) {
    if (r.kind === 'Namespace') {
      namespaces.set(r.metadata.name, r as Namespace);
      seen.add(r.metadata.name);
    } else if (WORKLOAD_KINDS.has(r.kind) || r.kind === 'ServiceEntry') {
      seen.add(r.metadata.namespace);
    }
    if (r.kind === 'NetworkPolicy') networkPolicies.push(r as NetworkPolicy);
    const subject = podSubject(r);
    if (subject) pods.push(subject);
  }
  const gatewayNamespaces = new Set(snapshot.servedGateways().map((g) => g.namespace));
  const system = new Set(settings.systemNamespaces);
  const workloadNamespaces = [...seen]
    .filter((ns) => ns !== '' && !system.has(ns) && !gatewayNamespaces.has(ns))
    .sort();
  const workloadSet = new Set(workloadNamespaces);
  return {
    snapshot,
    settings,
    namespaces,
    workloadNamespaces,
    gatewayNamespaces,
    pods,
    networkPolicies,
    ignored: load.ignored,
    workloadPods: (ns) => pods.filter((p) => p.namespace === ns && !p.isGateway),
    isWorkloadNamespace: (ns) => workloadSet.has(ns),
  };
}
