/**
 * Where the agent sends a destination, as ztunnel's outbound `build_request` does (src/proxy/outbound.rs): a host
 * or address of a ServiceEntry bound to a gateway goes over HBONE with the VIP as `:authority`; anything else is
 * decided by `egressPolicies` (Portcullis denies unknown destinations by default, where ztunnel passes them through).
 * Pure: no sockets, no DNS. An unknown host name comes back as `resolve`; the caller resolves it once and asks again
 * with the address.
 */
import { ipFamily } from '../net/ip-syntax.ts';
import { formatAuthority } from '../net/authority.ts';
import { decideConnection } from '../mesh/decide.ts';
import { resolveAuthority } from '../mesh/destination.ts';
import type { ServiceEntryModel, Snapshot } from '../mesh/snapshot.ts';
import { decideUnknownDestination } from '../policy/egress-policies.ts';
import type { DecisionRecord } from '../policy/engine.ts';

/** What a client asked for: a host name or an IP literal (no brackets), and a port 1-65535. */
export interface AgentTarget {
  readonly host: string;
  readonly port: number;
  readonly isIp: boolean;
}

export type AgentRoute =
  | {
      readonly kind: 'hbone';
      /** The CONNECT `:authority`: the ServiceEntry VIP and port (or the dialled address, or host:port). */
      readonly authority: string;
      /** The bound gateway's SPIFFE ID; the gateway's certificate must carry it. */
      readonly expectedSan: string;
      readonly gatewayKey: string;
      /** `namespace/name` of the ServiceEntry. */
      readonly serviceEntry: string;
      /** The host name the client asked for, when it asked by name (for `forwarded: host=`). */
      readonly host: string | null;
    }
  | { readonly kind: 'direct'; readonly ip: string; readonly port: number; readonly decision: DecisionRecord }
  | { readonly kind: 'deny'; readonly decision: DecisionRecord }
  | { readonly kind: 'resolve'; readonly host: string; readonly port: number };

/** An invalid ServiceEntry's destination is denied whoever asks: the request plays no part in that record. */
const NO_REQUEST = { principal: '', sourceIp: '', destinationIp: '', destinationPort: 0 };

/** Decide where `target` goes under `snap`. */
export function routeTarget(snap: Snapshot, target: AgentTarget): AgentRoute {
  const destination = resolveAuthority(snap, null, { host: target.host, port: target.port, isIp: target.isIp });
  if (destination.kind === 'unknown') {
    // Declared only by an invalid ServiceEntry: denied here too, never resolved and sent direct (fail closed).
    if (destination.invalid !== undefined)
      return { kind: 'deny', decision: decideConnection(snap, destination, NO_REQUEST) };
    if (!target.isIp) return { kind: 'resolve', host: target.host.toLowerCase(), port: target.port };
    const decision = decideUnknownDestination(snap.egressPolicies, target.host, target.port);
    return decision.decision === 'allow'
      ? { kind: 'direct', ip: target.host, port: target.port, decision }
      : { kind: 'deny', decision };
  }
  // A bound ServiceEntry that does not declare the port still goes to the gateway, as ztunnel sends everything
  // for a waypoint-bound service VIP to the waypoint; the gateway answers 503 and logs why.
  const se = destination.serviceEntry;
  const gateway = destination.gateway;
  return {
    kind: 'hbone',
    authority: hboneAuthority(se, target),
    expectedSan: gateway.identity,
    gatewayKey: gateway.key,
    serviceEntry: se.ref,
    host: target.isIp ? null : target.host.toLowerCase(),
  };
}

/**
 * The `:authority` for a bound ServiceEntry. ztunnel sends the original destination as dialled, which for a
 * ServiceEntry host is its VIP (DNS capture answers with it; istio/istio#55163 shows `dst.hbone_addr=240.240.0.9:80`).
 * A dialled IP (VIP or `spec.addresses`) is sent as is. A name with no VIP of its own (`spec.addresses` set, so
 * nothing was auto-allocated) or matched only by a wildcard host is sent as `host:port`: the VIP of `*.example.com`
 * would lose which name the client wanted.
 */
export function hboneAuthority(se: ServiceEntryModel, target: AgentTarget): string {
  if (target.isIp) return formatAuthority(target.host, target.port);
  const host = target.host.toLowerCase().replace(/\.$/, '');
  const own = se.vips.filter((v) => v.host.toLowerCase() === host);
  const vip = own.find((v) => ipFamily(v.value) === 4) ?? own.find((v) => ipFamily(v.value) === 6);
  return vip ? formatAuthority(vip.value, target.port) : formatAuthority(host, target.port);
}
