/**
 * What the Kubernetes source reads and writes: one table that the informers, `portcullis install`'s RBAC rules and
 * the tests all use, so the RBAC a user applies is exactly what the code calls (no more).
 */

/** One API resource the source touches. */
export interface KubeResource {
  /** The API group ('' for the core group). */
  readonly group: string;
  /** The version Portcullis asks for: the one the CRDs in ../shared/conformance serve (the storage version). */
  readonly version: string;
  readonly kind: string;
  /** The plural resource name, as in the URL and in RBAC rules. */
  readonly resource: string;
  readonly namespaced: boolean;
  /** RBAC verbs the code uses on the resource itself. */
  readonly verbs: readonly string[];
  /** RBAC verbs the code uses on the `/status` subresource, when it writes status. */
  readonly statusVerbs?: readonly string[];
  /**
   * Who needs it: `serve` (the gateway, and `status`/`check --kube`), or `audit` (read only by `audit --kube`).
   * Secrets are special: never listed cluster-wide, only read by name in the namespaces a DestinationRule names.
   */
  readonly usedBy: 'serve' | 'audit';
}

// Exactly the verbs the code uses (a test compares them with the fake API server's request log): informers list
// and watch, and never get one object of these kinds.
const LIST_WATCH = ['list', 'watch'] as const;

/** Config kinds the gateway watches (`serve --kube`, `status --kube`, `check --kube`). */
export const SERVE_RESOURCES: readonly KubeResource[] = [
  {
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    kind: 'Gateway',
    resource: 'gateways',
    namespaced: true,
    verbs: LIST_WATCH,
    statusVerbs: ['patch'],
    usedBy: 'serve',
  },
  {
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    kind: 'GatewayClass',
    resource: 'gatewayclasses',
    namespaced: false,
    verbs: LIST_WATCH,
    statusVerbs: ['patch'],
    usedBy: 'serve',
  },
  {
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    kind: 'HTTPRoute',
    resource: 'httproutes',
    namespaced: true,
    verbs: LIST_WATCH,
    usedBy: 'serve',
  },
  {
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    kind: 'ReferenceGrant',
    resource: 'referencegrants',
    namespaced: true,
    verbs: LIST_WATCH,
    usedBy: 'serve',
  },
  {
    group: 'networking.istio.io',
    version: 'v1',
    kind: 'ServiceEntry',
    resource: 'serviceentries',
    namespaced: true,
    verbs: LIST_WATCH,
    usedBy: 'serve',
  },
  {
    group: 'networking.istio.io',
    version: 'v1',
    kind: 'DestinationRule',
    resource: 'destinationrules',
    namespaced: true,
    verbs: LIST_WATCH,
    usedBy: 'serve',
  },
  {
    group: 'networking.istio.io',
    version: 'v1alpha3',
    kind: 'EnvoyFilter',
    resource: 'envoyfilters',
    namespaced: true,
    verbs: LIST_WATCH,
    usedBy: 'serve',
  },
  {
    group: 'security.istio.io',
    version: 'v1',
    kind: 'AuthorizationPolicy',
    resource: 'authorizationpolicies',
    namespaced: true,
    verbs: LIST_WATCH,
    usedBy: 'serve',
  },
  {
    group: '',
    version: 'v1',
    kind: 'Namespace',
    resource: 'namespaces',
    namespaced: false,
    verbs: LIST_WATCH,
    usedBy: 'serve',
  },
];

/**
 * Secrets: read one by one, in the namespaces named: the gateway lists and watches each with a fieldSelector on its
 * name; `status`/`check`/`audit --kube` get it by name.
 */
export const SECRET_RESOURCE: KubeResource = {
  group: '',
  version: 'v1',
  kind: 'Secret',
  resource: 'secrets',
  namespaced: true,
  verbs: ['get', 'list', 'watch'],
  usedBy: 'serve',
};

/** The leader election Lease (one status writer among the replicas). */
export const LEASE_RESOURCE: KubeResource = {
  group: 'coordination.k8s.io',
  version: 'v1',
  kind: 'Lease',
  resource: 'leases',
  namespaced: true,
  verbs: ['get', 'create', 'update'],
  usedBy: 'serve',
};

/** The Service whose ClusterIP `--publish-service NS/NAME` publishes as the Gateways' address (read by name only). */
export const SERVICE_RESOURCE: KubeResource = {
  group: '',
  version: 'v1',
  kind: 'Service',
  resource: 'services',
  namespaced: true,
  verbs: ['get'],
  usedBy: 'serve',
};

/** What `audit --kube` reads on top of the config kinds; a missing CRD (Kyverno) is a finding, not a crash. */
export const AUDIT_RESOURCES: readonly KubeResource[] = [
  {
    group: 'networking.k8s.io',
    version: 'v1',
    kind: 'NetworkPolicy',
    resource: 'networkpolicies',
    namespaced: true,
    verbs: ['list'],
    usedBy: 'audit',
  },
  { group: '', version: 'v1', kind: 'Pod', resource: 'pods', namespaced: true, verbs: ['list'], usedBy: 'audit' },
  {
    group: 'apps',
    version: 'v1',
    kind: 'Deployment',
    resource: 'deployments',
    namespaced: true,
    verbs: ['list'],
    usedBy: 'audit',
  },
  {
    group: 'apps',
    version: 'v1',
    kind: 'StatefulSet',
    resource: 'statefulsets',
    namespaced: true,
    verbs: ['list'],
    usedBy: 'audit',
  },
  {
    group: 'apps',
    version: 'v1',
    kind: 'DaemonSet',
    resource: 'daemonsets',
    namespaced: true,
    verbs: ['list'],
    usedBy: 'audit',
  },
  { group: 'batch', version: 'v1', kind: 'Job', resource: 'jobs', namespaced: true, verbs: ['list'], usedBy: 'audit' },
  {
    group: 'batch',
    version: 'v1',
    kind: 'CronJob',
    resource: 'cronjobs',
    namespaced: true,
    verbs: ['list'],
    usedBy: 'audit',
  },
  {
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    kind: 'ValidatingAdmissionPolicy',
    resource: 'validatingadmissionpolicies',
    namespaced: false,
    verbs: ['list'],
    usedBy: 'audit',
  },
  {
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    resource: 'validatingadmissionpolicybindings',
    namespaced: false,
    verbs: ['list'],
    usedBy: 'audit',
  },
  {
    group: 'kyverno.io',
    version: 'v1',
    kind: 'ClusterPolicy',
    resource: 'clusterpolicies',
    namespaced: false,
    verbs: ['list'],
    usedBy: 'audit',
  },
];

/** The controller name Portcullis's GatewayClasses carry (settable in portcullis.yaml as `controllerName`). */
export { DEFAULT_CONTROLLER_NAME } from '../config/settings-types.ts';

/** The field manager for server-side apply of the status Portcullis owns. */
export const FIELD_MANAGER = 'portcullis';
