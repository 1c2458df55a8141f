/**
 * Decide one tunnel against a snapshot: resolve its authority, require the destination's Gateway to be one this
 * process serves, build the AuthzRequest from the verified peer only, and run both policy layers (or egressPolicies).
 * Pure: the same function decides a new tunnel and re-decides an open one after a configuration change.
 */
import { ipFamily } from '../net/ip-syntax.ts';
import { resolveAuthority, type Authority, type Destination } from '../mesh/destination.ts';
import { decideConnection } from '../mesh/decide.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import type { DecisionRecord } from '../policy/engine.ts';
import { decideUnknownDestination, type CompiledEgressPolicies } from '../policy/egress-policies.ts';
import type { AuthzRequest } from '../policy/request.ts';

/** A ServiceEntry that declares no such port. */
export type NoSuchPortDestination = Extract<Destination, { kind: 'noSuchPort' }>;
/** A destination a tunnel can be forwarded to: a ServiceEntry port, or an unknown destination egressPolicies allow. */
export type RoutableDestination = Extract<Destination, { kind: 'serviceEntry' | 'unknown' }>;
/** An unknown destination named by host (no IP): decided on the addresses it resolves to. */
export type UnresolvedDestination = Extract<Destination, { kind: 'unknown' }> & {
  readonly ip: null;
  readonly host: string;
};

/** Each verdict carries its destination narrowed to what that verdict implies, so no caller needs a cast. */
export type TunnelDecision =
  /** Denied by policy (or by a Gateway this process does not serve): 401. */
  | { readonly kind: 'deny'; readonly dest: Destination; readonly record: DecisionRecord }
  /** Allowed, but the ServiceEntry declares no such port: 503. */
  | { readonly kind: 'noSuchPort'; readonly dest: NoSuchPortDestination; readonly record: DecisionRecord }
  | { readonly kind: 'allow'; readonly dest: RoutableDestination; readonly record: DecisionRecord }
  /**
   * An unknown destination named by host while egressPolicies have Allow entries: it can only be decided on the
   * addresses the name resolves to (decideUnknownAddresses). With no Allow entry it is denied without a lookup.
   */
  | { readonly kind: 'resolveFirst'; readonly dest: UnresolvedDestination; readonly record: DecisionRecord };

/** The address policy sees as `destination.ip`: the authority IP, else the ServiceEntry host's VIP (IPv4 first). */
function destinationIpOf(authority: Authority, dest: Destination): string {
  if (authority.isIp) return authority.host.startsWith('[') ? authority.host.slice(1, -1) : authority.host;
  if (dest.kind !== 'serviceEntry') return '';
  const vips = dest.serviceEntry.vips.filter((v) => v.host === dest.host);
  const v4 = vips.find((v) => ipFamily(v.value) === 4) ?? vips[0];
  if (v4) return v4.value;
  const plain = dest.serviceEntry.specAddresses.find((a) => ipFamily(a) !== 0);
  return plain ?? '';
}

/**
 * The AuthzRequest of a tunnel. `principal` is the verified peer SPIFFE URI from the HBONE layer, never a header;
 * `destinationPort` is the port the caller asked for (the service port, as ztunnel's authority carries it).
 */
function buildAuthzRequest(principal: string, sourceIp: string, authority: Authority, dest: Destination): AuthzRequest {
  return { principal, sourceIp, destinationIp: destinationIpOf(authority, dest), destinationPort: authority.port };
}

function notServed(dest: Extract<Destination, { kind: 'serviceEntry' | 'noSuchPort' }>): DecisionRecord {
  const reason =
    `${dest.serviceEntry.ref} is bound to Gateway ${dest.gateway.ref}, whose class "${dest.gateway.className}" ` +
    'this gateway does not serve';
  return { decision: 'deny', code: 'PCL_DATAPLANE_GATEWAY_NOT_SERVED', reason, layers: [] };
}

function isUnresolved(dest: Destination): dest is UnresolvedDestination {
  return dest.kind === 'unknown' && dest.ip === null && dest.host !== null;
}

/** Does some egressPolicies entry allow? Without one every address of an undeclared host is denied, unresolved. */
export function hasEgressAllow(snap: Snapshot): boolean {
  return snap.settings.egressPolicies.some((e) => e.policy === 'Allow');
}

/**
 * Decide a tunnel. The destination's Gateway comes from the ServiceEntry binding (resolveAuthority with no gateway),
 * and must be one this process serves. Policy is decided before the port is checked, so a caller that may not use
 * the destination learns nothing about its ports. `resolved` is the authority already resolved on `snap` (the
 * tunnel handler has it), so it is not looked up twice.
 */
export function decideTunnel(
  snap: Snapshot,
  authority: Authority,
  req: AuthzRequest | null,
  principal: string,
  sourceIp: string,
  resolved?: Destination,
): {
  readonly decision: TunnelDecision;
  readonly request: AuthzRequest;
} {
  const dest = resolved ?? resolveAuthority(snap, null, authority);
  const request = req ?? buildAuthzRequest(principal, sourceIp, authority, dest);
  if ((dest.kind === 'serviceEntry' || dest.kind === 'noSuchPort') && dest.gateway.mode === null) {
    return { decision: { kind: 'deny', dest, record: notServed(dest) }, request };
  }
  const record = decideConnection(snap, dest, request);
  if (isUnresolved(dest) && dest.invalid === undefined && hasEgressAllow(snap)) {
    return { decision: { kind: 'resolveFirst', dest, record }, request };
  }
  if (record.decision === 'deny') return { decision: { kind: 'deny', dest, record }, request };
  if (dest.kind === 'noSuchPort') return { decision: { kind: 'noSuchPort', dest, record }, request };
  return { decision: { kind: 'allow', dest, record }, request };
}

/**
 * Decide an unknown destination on every address its name resolved to: all must be allowed by egressPolicies
 * (the first denied address decides); no address at all denies.
 */
export function decideUnknownAddresses(
  egress: CompiledEgressPolicies,
  ips: readonly string[],
  port: number,
): DecisionRecord {
  if (ips.length === 0) return decideUnknownDestination(egress, null, port);
  let first: DecisionRecord | null = null;
  for (const ip of ips) {
    const d = decideUnknownDestination(egress, ip, port);
    if (d.decision === 'deny') return d;
    first ??= d;
  }
  return first!;
}
