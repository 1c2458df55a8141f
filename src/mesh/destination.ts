/**
 * Resolve an HBONE `:authority` (parsed by net/authority.ts) to what it names, exactly as the gateway will:
 * an IP among the VIPs and `spec.addresses` of ServiceEntries bound to this gateway (longest prefix), a host among
 * their hosts; the ServiceEntry must declare the port. Anything else is an unknown destination for egressPolicies.
 */
import type { ServicePort } from '../config/api-types.ts';
import type { GatewayModel, ServiceEntryModel, Snapshot } from './snapshot.ts';

export interface Authority {
  readonly host: string;
  readonly port: number;
  readonly isIp: boolean;
}

export type Destination =
  | {
      readonly kind: 'serviceEntry';
      readonly gateway: GatewayModel;
      readonly serviceEntry: ServiceEntryModel;
      /** The ServiceEntry host this destination is (the matched host, or the VIP's host). */
      readonly host: string;
      readonly port: ServicePort;
      readonly via: 'host' | 'vip' | 'address';
      /** The IP the caller dialled, when it dialled one. */
      readonly ip: string | null;
    }
  | {
      /** A bound ServiceEntry matched, but it declares no such port: 503, as ztunnel's find_inbound_upstream. */
      readonly kind: 'noSuchPort';
      readonly gateway: GatewayModel;
      readonly serviceEntry: ServiceEntryModel;
      readonly port: number;
    }
  | {
      readonly kind: 'unknown';
      readonly gateway: GatewayModel | null;
      readonly host: string | null;
      readonly ip: string | null;
      readonly port: number;
      /** Set when only an invalid ServiceEntry declares it: denied with this reason, never left to egressPolicies. */
      readonly invalid?: string;
    };

/** Resolve `authority` as seen by `gateway` (a served gateway key), or by any gateway when null (check/agent). */
export function resolveAuthority(snap: Snapshot, gatewayKey: string | null, authority: Authority): Destination {
  const gwOf = (se: ServiceEntryModel) => snap.gateways.get(se.waypoint!)!;
  let se: ServiceEntryModel | null;
  let host: string | null = null;
  let via: 'host' | 'vip' | 'address';
  if (authority.isIp) {
    se = snap.findByAddress(gatewayKey, authority.host);
    const vip = se?.vips.find((v) => v.value === normalizeIp(authority.host));
    via = vip ? 'vip' : 'address';
    host = vip?.host ?? se?.hosts[0] ?? null;
  } else {
    se = snap.findByHost(gatewayKey, authority.host);
    via = 'host';
    host = authority.host.toLowerCase();
  }
  const gateway = gatewayKey ? (snap.gateways.get(gatewayKey) ?? null) : null;
  if (!se) {
    const unknownHost = authority.isIp ? null : authority.host.toLowerCase();
    const ip = authority.isIp ? normalizeIp(authority.host) : null;
    const invalid = snap.invalidServiceEntryFor(unknownHost, ip);
    return {
      kind: 'unknown',
      gateway,
      host: unknownHost,
      ip,
      port: authority.port,
      ...(invalid === null ? {} : { invalid }),
    };
  }
  const port = se.ports.find((p) => p.number === authority.port);
  if (!port) return { kind: 'noSuchPort', gateway: gwOf(se), serviceEntry: se, port: authority.port };
  return {
    kind: 'serviceEntry',
    gateway: gwOf(se),
    serviceEntry: se,
    host: host ?? se.hosts[0],
    port,
    via,
    ip: authority.isIp ? normalizeIp(authority.host) : null,
  };
}

function normalizeIp(ip: string): string {
  return ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
}
