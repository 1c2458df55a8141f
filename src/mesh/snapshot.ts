/**
 * The compiled, immutable view of the configuration that every decision reads: served gateways, ServiceEntries
 * with their VIPs and waypoint binding, attached policies, routes, and the indexes the data plane looks up per
 * connection. Built by compile.ts; never mutated after that (a reload builds a new one and swaps it).
 */
import type {
  AllowedRoutes,
  AuthorizationPolicy,
  DestinationRule,
  Gateway,
  HTTPRoute,
  ServiceEntry,
  ServicePort,
  SEResolution,
  WorkloadEntrySpec,
} from '../config/api-types.ts';
import type { LoadResult } from '../config/load.ts';
import type { GatewayMode, Settings } from '../config/settings-types.ts';
import type { Diagnostic } from '../config/types.ts';
import type { ErrorCode } from '../errors/catalogue.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import type { LayerInput } from '../policy/engine.ts';
import type { CompiledEgressPolicies } from '../policy/egress-policies.ts';
import type { Condition } from './conditions.ts';
import type { TrafficType } from './waypoint-binding.ts';
import type { VipAllocations } from './vip-allocator.ts';

export interface GatewayModel {
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  /** `namespace/name`. */
  readonly ref: string;
  readonly resource: Gateway;
  readonly className: string;
  /** How Portcullis serves it; null when its class is not one Portcullis serves. */
  readonly mode: GatewayMode | null;
  /** Usable as a waypoint: served with a valid HBONE listener, or carrying `status.addresses` from elsewhere. */
  readonly ready: boolean;
  readonly trafficType: TrafficType;
  readonly allowedRoutes: AllowedRoutes | undefined;
  /** The SPIFFE identity Istio gives a waypoint: its service account is named after the Gateway. */
  readonly identity: string;
  /** The in-cluster name istiod publishes in status.addresses. */
  readonly serviceHost: string;
}

export interface ServiceEntryModel {
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly ref: string;
  readonly resource: ServiceEntry;
  readonly hosts: readonly string[];
  readonly ports: readonly ServicePort[];
  readonly resolution: SEResolution;
  readonly endpoints: readonly WorkloadEntrySpec[];
  /** `spec.addresses` as written (IPs or CIDRs). */
  readonly specAddresses: readonly string[];
  /** Auto-allocated VIPs, one IPv4 and one IPv6 per host (istiod's status.addresses). */
  readonly vips: readonly { readonly host: string; readonly value: string }[];
  /** Key of the Gateway it is bound to, or null. */
  readonly waypoint: string | null;
}

export interface PolicyModel {
  readonly key: string;
  readonly ref: string;
  readonly resource: AuthorizationPolicy;
  /** Compiled for the mode of what it attaches to; null when it attaches to nothing. */
  readonly compiled: CompiledPolicy | null;
  /** Keys of the Gateways / ServiceEntries it is attached to. */
  readonly attachedTo: readonly string[];
}

export interface RouteParentModel {
  readonly parentKey: string;
  readonly accepted: boolean;
  readonly conditions: readonly Condition[];
}

export interface RouteModel {
  readonly key: string;
  readonly resource: HTTPRoute;
  readonly parents: readonly RouteParentModel[];
}

export interface CredentialRef {
  readonly namespace: string;
  readonly name: string;
}

export interface DestinationRuleModel {
  readonly key: string;
  readonly resource: DestinationRule;
  /** The Secret `credentialName` resolves to, when it names one and it may be used. */
  readonly credential: CredentialRef | null;
  /** Why the credential may not be used, when it may not. */
  readonly credentialError: string | null;
}

/** A configuration problem as every surface shows it: what it is about, where, and why. */
export interface ConfigProblem {
  readonly kind: string;
  /** `namespace/name` (or `name` for cluster-scoped kinds; `(unnamed)` when the document has no name). */
  readonly ref: string;
  readonly file: string;
  readonly line: number;
  readonly code: ErrorCode;
  /** The error, with its field path. */
  readonly message: string;
}

/** An invalid resource (its first error) and what fails closed because of it. */
export interface InvalidResourceModel extends ConfigProblem {
  /** What fails closed because of it, in one sentence. */
  readonly effect: string;
  /** Does its fail-closed rule deny or refuse anything in this configuration (a layer, a host, a route parent)? */
  readonly active: boolean;
}

export interface Snapshot {
  readonly generation: number;
  readonly createdAt: string;
  readonly settings: Settings;
  readonly load: LoadResult;
  /** Load diagnostics plus what compiling found. */
  readonly diagnostics: readonly Diagnostic[];
  readonly gateways: ReadonlyMap<string, GatewayModel>;
  readonly serviceEntries: ReadonlyMap<string, ServiceEntryModel>;
  readonly policies: ReadonlyMap<string, PolicyModel>;
  readonly routes: ReadonlyMap<string, RouteModel>;
  readonly destinationRules: ReadonlyMap<string, DestinationRuleModel>;
  /** Status conditions per resource key. */
  readonly conditions: ReadonlyMap<string, readonly Condition[]>;
  readonly vipAllocations: VipAllocations;
  readonly egressPolicies: CompiledEgressPolicies;

  /** Gateways Portcullis serves. */
  servedGateways(): GatewayModel[];
  /** Layer 1 (seed 000): the policies targeting this Gateway (plus the settings' default-deny). */
  gatewayLayer(gatewayKey: string): LayerInput;
  /** Layer 2 (seed 000): the policies targeting this ServiceEntry. */
  serviceEntryLayer(seKey: string): LayerInput;
  /** Both layers for a ServiceEntry behind a gateway, as one array built once per pair (no allocation per decision). */
  layersFor(gatewayKey: string, seKey: string): readonly LayerInput[];
  /** ServiceEntries bound to `gatewayKey` that declare `host` (exact, then wildcard suffix), oldest first. */
  findByHost(gatewayKey: string | null, host: string): ServiceEntryModel | null;
  /** The ServiceEntry bound to `gatewayKey` whose VIP or `spec.addresses` contains `ip` (longest prefix). */
  findByAddress(gatewayKey: string | null, ip: string): ServiceEntryModel | null;
  /** DestinationRule for a host, looked up as Istio does (proxy namespace, then the service's, then the root). */
  destinationRuleFor(host: string, namespaces: readonly string[]): DestinationRuleModel | null;
  /** Routes attached to a parent ServiceEntry (key) and accepted. */
  routesFor(parentKey: string): RouteModel[];

  /** Resources refused with no last good version, each with what fails closed because of it (fail-closed.ts). */
  readonly invalid: readonly InvalidResourceModel[];
  /** Why a destination (a host, or an IP) named only by an invalid ServiceEntry is denied, or null. */
  invalidServiceEntryFor(host: string | null, ip: string | null): string | null;
  /** Why requests to `host` answer 503 because of an invalid DestinationRule with TLS settings, or null. */
  invalidDestinationRuleFor(host: string): string | null;
  /** Why a route parent (a ServiceEntry or Gateway key) answers 503 because of invalid HTTPRoutes (empty if none). */
  invalidRoutesFor(parentKey: string): readonly string[];
}
