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
