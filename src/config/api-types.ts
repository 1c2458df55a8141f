/**
 * TypeScript shapes of the specs Portcullis reads, with Istio's and the Gateway API's own field names.
 * These describe a document *after* validation; fields Portcullis does not act on may be absent here
 * but are still validated (see src/config/schema).
 */
import type { Resource } from './types.ts';

// ---------- security.istio.io AuthorizationPolicy ----------
export interface PolicyTargetReference {
  group?: string;
  kind: string;
  name: string;
  namespace?: string;
}
export interface AuthzSource {
  principals?: string[];
  notPrincipals?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  serviceAccounts?: string[];
  notServiceAccounts?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
  trustDomains?: string[];
  notTrustDomains?: string[];
}
export interface AuthzOperation {
  hosts?: string[];
  notHosts?: string[];
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}
export interface AuthzCondition {
  key: string;
  values?: string[];
  notValues?: string[];
}
export interface AuthzRule {
  from?: { source?: AuthzSource }[];
  to?: { operation?: AuthzOperation }[];
  when?: AuthzCondition[];
}
export type AuthzAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';
export interface AuthorizationPolicySpec {
  selector?: { matchLabels?: Record<string, string> };
  targetRef?: PolicyTargetReference;
  targetRefs?: PolicyTargetReference[];
  /** `undefined` when absent; `[]` when written as `rules: []`. Both never match. */
  rules?: AuthzRule[];
  action?: AuthzAction;
  provider?: { name?: string };
}

// ---------- networking.istio.io ServiceEntry ----------
export type SEProtocol = 'HTTP' | 'HTTPS' | 'GRPC' | 'HTTP2' | 'MONGO' | 'TCP' | 'TLS' | string;
export interface ServicePort {
  number: number;
  protocol?: SEProtocol;
  name: string;
  targetPort?: number;
}
export interface WorkloadEntrySpec {
  address?: string;
  ports?: Record<string, number>;
  labels?: Record<string, string>;
  network?: string;
  locality?: string;
  weight?: number;
  serviceAccount?: string;
}
export type SEResolution = 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | 'DYNAMIC_DNS';
export interface ServiceEntrySpec {
  hosts: string[];
  addresses?: string[];
  ports?: ServicePort[];
  location?: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
  resolution?: SEResolution;
  endpoints?: WorkloadEntrySpec[];
  workloadSelector?: { labels?: Record<string, string> };
  exportTo?: string[];
  subjectAltNames?: string[];
}

// ---------- networking.istio.io DestinationRule (the parts Portcullis acts on) ----------
export type TLSMode = 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';
export interface ClientTLSSettings {
  mode?: TLSMode;
  clientCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  caCrl?: string;
  credentialName?: string;
  subjectAltNames?: string[];
  sni?: string;
  insecureSkipVerify?: boolean;
}
export interface TrafficPolicy {
  tls?: ClientTLSSettings;
  portLevelSettings?: { port?: { number?: number }; tls?: ClientTLSSettings }[];
  [other: string]: unknown;
}
export interface DestinationRuleSpec {
  host: string;
  trafficPolicy?: TrafficPolicy;
  subsets?: { name: string; labels?: Record<string, string>; trafficPolicy?: TrafficPolicy }[];
  exportTo?: string[];
  workloadSelector?: { matchLabels?: Record<string, string> };
}

// ---------- gateway.networking.k8s.io ----------
export interface AllowedRoutes {
  namespaces?: { from?: 'All' | 'Same' | 'Selector' | 'None'; selector?: LabelSelector };
  kinds?: { group?: string; kind: string }[];
}
export interface Listener {
  name: string;
  hostname?: string;
  port: number;
  protocol: string;
  tls?: unknown;
  allowedRoutes?: AllowedRoutes;
}
export interface GatewaySpec {
  gatewayClassName: string;
  listeners: Listener[];
  addresses?: { type?: string; value: string }[];
  infrastructure?: unknown;
}
export interface GatewayClassSpec {
  controllerName: string;
  description?: string;
  parametersRef?: unknown;
}
export interface ParentReference {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}
export interface HTTPPathMatch {
  type?: 'Exact' | 'PathPrefix' | 'RegularExpression';
  value?: string;
}
export interface HTTPHeaderMatch {
  type?: 'Exact' | 'RegularExpression';
  name: string;
  value: string;
}
export interface HTTPRouteMatch {
  path?: HTTPPathMatch;
  headers?: HTTPHeaderMatch[];
  queryParams?: HTTPHeaderMatch[];
  method?: string;
}
export interface HTTPHeaderFilter {
  set?: { name: string; value: string }[];
  add?: { name: string; value: string }[];
  remove?: string[];
}
export interface HTTPRouteFilter {
  type: string;
  requestHeaderModifier?: HTTPHeaderFilter;
  responseHeaderModifier?: HTTPHeaderFilter;
  urlRewrite?: {
    hostname?: string;
    path?: { type: 'ReplaceFullPath' | 'ReplacePrefixMatch'; replaceFullPath?: string; replacePrefixMatch?: string };
  };
  [other: string]: unknown;
}
export interface HTTPBackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
  filters?: HTTPRouteFilter[];
}
export interface HTTPRouteRule {
  name?: string;
  matches?: HTTPRouteMatch[];
  filters?: HTTPRouteFilter[];
  backendRefs?: HTTPBackendRef[];
  timeouts?: { request?: string; backendRequest?: string };
}
export interface HTTPRouteSpec {
  parentRefs?: ParentReference[];
  hostnames?: string[];
  rules?: HTTPRouteRule[];
}

// ---------- Kubernetes core / networking / apps ----------
export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}
export interface NetworkPolicyPort {
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  port?: number | string;
  endPort?: number;
}
export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}
export interface NetworkPolicySpec {
  podSelector: LabelSelector;
  policyTypes?: ('Ingress' | 'Egress')[];
  ingress?: { from?: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] }[];
  egress?: { to?: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] }[];
}
export interface PodSpec {
  hostNetwork?: boolean;
  serviceAccountName?: string;
  serviceAccount?: string;
  containers?: { name: string; image?: string; [k: string]: unknown }[];
  [other: string]: unknown;
}
export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: PodSpec;
}
export interface WorkloadControllerSpec {
  selector?: LabelSelector;
  template?: PodTemplate;
  [other: string]: unknown;
}
/** Namespace has no spec of interest; its labels are in metadata. */
export type NamespaceSpec = Record<string, unknown>;
/** Secret data is in `raw.data` (base64) and `raw.stringData`; see identity/secret.ts. */
export type SecretSpec = Record<string, unknown>;
export type EnvoyFilterSpec = Record<string, unknown>;

// ---------- typed resource aliases ----------
export type AuthorizationPolicy = Resource<AuthorizationPolicySpec, 'AuthorizationPolicy'>;
export type ServiceEntry = Resource<ServiceEntrySpec, 'ServiceEntry'>;
export type DestinationRule = Resource<DestinationRuleSpec, 'DestinationRule'>;
export type Gateway = Resource<GatewaySpec, 'Gateway'>;
export type GatewayClass = Resource<GatewayClassSpec, 'GatewayClass'>;
export type HTTPRoute = Resource<HTTPRouteSpec, 'HTTPRoute'>;
export type NetworkPolicy = Resource<NetworkPolicySpec, 'NetworkPolicy'>;
export type Namespace = Resource<NamespaceSpec, 'Namespace'>;
export type Secret = Resource<SecretSpec, 'Secret'>;
export type Pod = Resource<PodSpec, 'Pod'>;
export type WorkloadController = Resource<WorkloadControllerSpec, 'Deployment' | 'DaemonSet' | 'StatefulSet'>;
export type EnvoyFilter = Resource<EnvoyFilterSpec, 'EnvoyFilter'>;
