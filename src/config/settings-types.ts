/** The shape of `portcullis.yaml`, after defaults are applied. Loading and validation live in settings.ts. */
import type { SourcePos } from './types.ts';

/** How Portcullis serves a GatewayClass: the L4 egress gateway of seed 000 or the L7 egress waypoint of seed 002. */
export type GatewayMode = 'egress' | 'waypoint';

/**
 * How the L7 waypoint normalises request paths before it authorizes, routes and forwards them: Istio's
 * `meshConfig.pathNormalization.normalization` values (`DEFAULT` is `BASE`).
 */
export type PathNormalization = 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';

export interface EgressPolicyEntry {
  matchCidrs: string[];
  policy: 'Deny' | 'Allow';
}

export interface PerimeterSettings {
  /** Pod CIDRs whose egress is dropped at the VPC or firewall. */
  podCidrs?: string[];
  /** Whether pod-CIDR egress is dropped at the perimeter. */
  podEgressDropped?: boolean;
  /** The node / SNAT addresses allowed out. */
  snatAddresses?: string[];
}

export interface Settings {
  /** Where the settings came from, or null for built-in defaults. */
  readonly source: string | null;
  /** Where each top-level field was set in the settings file (absent for defaults and the environment). */
  readonly positions?: Readonly<Record<string, SourcePos>>;
  readonly trustDomain: string;
  readonly rootNamespace: string;
  /** GatewayClass name → mode. Default: solo-ztunnel-egress → egress, istio-waypoint → waypoint. */
  readonly gatewayClasses: Readonly<Record<string, GatewayMode>>;
  /** Seed 000's ztunnel `egressPolicies`, exactly its shape. Empty = every unknown destination is denied. */
  readonly egressPolicies: readonly EgressPolicyEntry[];
  readonly egressGateway: { readonly defaultDeny: boolean };
  /** `namespace/serviceaccount` of proxies allowed cross-namespace Secrets and routes (seed 002). */
  readonly permitCrossNamespaceResourceAccess: readonly string[];
  /** Private ranges a resolved name may still point at (the private-address guard's exceptions). */
  readonly allowedPrivateCidrs: readonly string[];
  /** Namespaces that are not workload namespaces (for audit). */
  readonly systemNamespaces: readonly string[];
  readonly perimeter?: PerimeterSettings;
  /** Bounds on parsing the manifests (and how long one parse may take), so config input cannot stall the gateway. */
  readonly configLimits: ConfigLimits;
  /** The GatewayClass `spec.controllerName` that marks a class as Portcullis's own (Gateway API convention). */
  readonly controllerName: string;
  /** Istio's `meshConfig.pathNormalization`; absent means `BASE`, Istio's default. */
  readonly pathNormalization?: { readonly normalization: PathNormalization };
  /** `limits:` as written (only the fields present); `gatewayLimits()` fills in the defaults. */
  readonly limits?: Readonly<Partial<GatewayLimits>>;
  /**
   * Learn mode: policy denials are logged as `would-deny` and allowed (Istio's dry-run, for the whole gateway).
   * Never applies to the gateway's own protections (private-address guard, its own ports, malformed input).
   */
  readonly learn?: boolean;
}

export interface ConfigLimits {
  readonly maxFileBytes: number;
  readonly maxDocumentsPerFile: number;
  readonly maxKeysPerMapping: number;
  readonly parseTimeoutSeconds: number;
}

/** The `spec.controllerName` of Portcullis's own GatewayClasses, unless portcullis.yaml sets `controllerName`. */
export const DEFAULT_CONTROLLER_NAME = 'portcullis.dev/gateway-controller';

export const DEFAULT_GATEWAY_CLASSES: Readonly<Record<string, GatewayMode>> = {
  'solo-ztunnel-egress': 'egress',
  'istio-waypoint': 'waypoint',
};

export const DEFAULT_SYSTEM_NAMESPACES: readonly string[] = [
  'kube-system',
  'kube-public',
  'kube-node-lease',
  'istio-system',
  'local-path-storage',
];

// ---- limits: what one peer, one identity or one connection may hold (see ARCHITECTURE.md "Threat model") ----

/** The gateway's resource limits, durations in milliseconds. YAML names durations without `Ms` (`handshakeTimeout: 10s`). */
export interface GatewayLimits {
  /** TCP connections on the HBONE port, in the TLS handshake or established. */
  readonly maxConnections: number;
  /** Connections still in the TLS handshake, from everyone together. */
  readonly maxPendingHandshakes: number;
  /** Connections still in the TLS handshake from one source address. */
  readonly maxPendingHandshakesPerSource: number;
  /** From TCP accept to a verified peer; a connection not through by then is closed. */
  readonly handshakeTimeoutMs: number;
  /** Tunnels open across the gateway process. */
  readonly maxTunnels: number;
  /** Tunnels open for one SPIFFE identity. */
  readonly maxTunnelsPerIdentity: number;
  /** Tunnels open on one HTTP/2 connection (session). */
  readonly maxTunnelsPerSession: number;
  /** An L4 tunnel with no byte either way for this long is closed. */
  readonly tcpIdleTimeoutMs: number;
  /** An L7 (HTTP) tunnel with no byte either way for this long is closed. */
  readonly httpIdleTimeoutMs: number;
}

/**
 * Defaults, chosen so no single peer, identity or connection can take what the others need:
 * - handshake 10 s: ztunnel's CONNECTION_TIMEOUT (src/proxy.rs); pending handshakes 512 in all and 32 per source,
 *   far above what a node's ztunnel needs (it pools one connection per source/destination pair, src/proxy/pool.rs);
 * - tunnels 10,000 per process, 1,000 per identity (ten identities at least to fill the gateway), 100 per session
 *   (ztunnel's client opens a new connection at POOL_MAX_STREAMS_PER_CONNECTION = 100);
 * - idle: Envoy's tcp_proxy `idle_timeout` defaults to 1 h and its HCM `stream_idle_timeout` to 5 min; ztunnel
 *   releases an unused pooled connection after 5 min (POOL_UNUSED_RELEASE_TIMEOUT). An idle TCP tunnel here lives
 *   10 min and an idle HTTP tunnel 5 min: long enough for connection pools, far short of an hour of held sockets.
 */
export const DEFAULT_GATEWAY_LIMITS: GatewayLimits = {
  maxConnections: 10_000,
  maxPendingHandshakes: 512,
  maxPendingHandshakesPerSource: 32,
  handshakeTimeoutMs: 10_000,
  maxTunnels: 10_000,
  maxTunnelsPerIdentity: 1_000,
  maxTunnelsPerSession: 100,
  tcpIdleTimeoutMs: 10 * 60_000,
  httpIdleTimeoutMs: 5 * 60_000,
};

/** The limits in force: what the file sets, the default for the rest. */
export function gatewayLimits(settings: Pick<Settings, 'limits'>): GatewayLimits {
  return { ...DEFAULT_GATEWAY_LIMITS, ...settings.limits };
}
