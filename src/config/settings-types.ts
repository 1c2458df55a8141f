/** The shape of `portcullis.yaml`, after defaults are applied. Loading and validation live in settings.ts. */

/** How Portcullis serves a GatewayClass: the L4 egress gateway of seed 000 or the L7 egress waypoint of seed 002. */
export type GatewayMode = 'egress' | 'waypoint';

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
  /** `serve --kube`: GatewayClasses with this `spec.controllerName` get Portcullis's `Accepted`; unset = portcullis.dev/gateway-controller. */
  readonly controllerName?: string;
}

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
