/**
 * Where an allowed tunnel (L4) or request (L7) goes, decided before any I/O: the ServiceEntry's `resolution` says
 * whether to resolve names (once), use its endpoints as written, or dial the original address. Then, after
 * resolution, which of the addresses may be dialled: every resolved address must pass the private-address guard,
 * with the port (and egressPolicies, for destinations that are not declared by a ServiceEntry, or declared
 * `resolution: NONE`). The one rule for both layers. Pure.
 */
import type { ServicePort } from '../config/api-types.ts';
import type { ErrorCode } from '../errors/catalogue.ts';
import { ipFamily } from '../net/ip-syntax.ts';
import { decideUnknownDestination, type CompiledEgressPolicies } from '../policy/egress-policies.ts';
import type { Destination } from '../mesh/destination.ts';
import type { ServiceEntryModel } from '../mesh/snapshot.ts';
import type { AddressGuard } from './private-address-guard.ts';

/** One thing to dial or to resolve and then dial. */
export type UpstreamTarget =
  /** An address written in the configuration (STATIC endpoint, an IP endpoint of a DNS ServiceEntry): trusted. */
  | { readonly kind: 'trusted'; readonly ip: string; readonly port: number }
  /** The address the caller dialled (`resolution: NONE` or an unknown destination): egressPolicies and the guard apply. */
  | { readonly kind: 'original'; readonly ip: string; readonly port: number }
  /** A name to resolve once; every address it yields is checked. */
  | { readonly kind: 'name'; readonly host: string; readonly port: number };

export type UpstreamPlan =
  | {
      readonly ok: true;
      readonly targets: readonly UpstreamTarget[];
      /** Resolved addresses must also be allowed by egressPolicies (unknown destinations, `resolution: NONE`). */
      readonly egressCheck: boolean;
      /** Spread connections over the addresses (DNS_ROUND_ROBIN); otherwise use them in order. */
      readonly shuffle: boolean;
    }
  | { readonly ok: false; readonly code: ErrorCode; readonly reason: string };

/** The port to dial for a ServiceEntry port: the endpoint's named port, else `targetPort`, else the port itself. */
export function upstreamPort(port: ServicePort, endpointPorts?: Readonly<Record<string, number>>): number {
  return endpointPorts?.[port.name] ?? port.targetPort ?? port.number;
}

/** Plan the upstream of an allowed destination (a ServiceEntry one, or an unknown one egressPolicies allowed). */
export function planUpstream(dest: Destination): UpstreamPlan {
  if (dest.kind === 'noSuchPort') {
    return {
      ok: false,
      code: 'PCL_MESH_NO_SUCH_PORT',
      reason: `${dest.serviceEntry.ref} declares no port ${dest.port}`,
    };
  }
  if (dest.kind === 'unknown') {
    if (dest.ip !== null)
      return {
        ok: true,
        targets: [{ kind: 'original', ip: dest.ip, port: dest.port }],
        egressCheck: true,
        shuffle: false,
      };
    if (dest.host !== null)
      return {
        ok: true,
        targets: [{ kind: 'name', host: dest.host, port: dest.port }],
        egressCheck: true,
        shuffle: false,
      };
    return {
      ok: false,
      code: 'PCL_DATAPLANE_NO_UPSTREAM',
      reason: 'the destination has neither an address nor a name',
    };
  }
  return planServiceEntry(dest.serviceEntry, dest.port, dest.host, dest.via === 'host', dest.ip);
}

/**
 * Plan the upstream of one port of a ServiceEntry: the tunnel's own (L4), or a route backend's (L7, where `host` is
 * the backend's host and `byName` is true). `dialledIp` is the address the caller dialled, used only by
 * `resolution: NONE` (the passthrough Istio does with ORIGINAL_DST).
 */
export function planServiceEntry(
  se: ServiceEntryModel,
  port: ServicePort,
  host: string,
  byName: boolean,
  dialledIp: string | null,
): UpstreamPlan {
  const isWildcard = (h: string): boolean => h.includes('*');
  switch (se.resolution) {
    case 'DNS':
    case 'DNS_ROUND_ROBIN': {
      const shuffle = se.resolution === 'DNS_ROUND_ROBIN';
      if (se.endpoints.length === 0) {
        if (isWildcard(host)) {
          return {
            ok: false,
            code: 'PCL_DATAPLANE_NO_UPSTREAM',
            reason: `${se.ref}: cannot resolve the wildcard host ${host}`,
          };
        }
        return { ok: true, targets: [{ kind: 'name', host, port: upstreamPort(port) }], egressCheck: false, shuffle };
      }
      const targets: UpstreamTarget[] = [];
      for (const ep of se.endpoints) {
        if (ep.address === undefined || ep.address.startsWith('unix://')) continue;
        const p = upstreamPort(port, ep.ports);
        targets.push(
          ipFamily(ep.address)
            ? { kind: 'trusted', ip: ep.address, port: p }
            : { kind: 'name', host: ep.address.toLowerCase(), port: p },
        );
      }
      if (targets.length === 0)
        return { ok: false, code: 'PCL_DATAPLANE_NO_UPSTREAM', reason: `${se.ref} has no usable endpoint address` };
      return { ok: true, targets, egressCheck: false, shuffle };
    }
    case 'DYNAMIC_DNS': {
      // A wildcard ServiceEntry: the name the caller asked for (already matched against the wildcard) is resolved.
      if (!byName || isWildcard(host)) {
        return {
          ok: false,
          code: 'PCL_DATAPLANE_NO_UPSTREAM',
          reason: `${se.ref} (DYNAMIC_DNS) needs a host name authority, got an address`,
        };
      }
      return {
        ok: true,
        targets: [{ kind: 'name', host, port: upstreamPort(port) }],
        egressCheck: false,
        shuffle: false,
      };
    }
    case 'STATIC': {
      const targets: UpstreamTarget[] = [];
      for (const ep of se.endpoints) {
        if (ep.address === undefined || !ipFamily(ep.address)) continue;
        targets.push({ kind: 'trusted', ip: ep.address, port: upstreamPort(port, ep.ports) });
      }
      if (targets.length === 0)
        return {
          ok: false,
          code: 'PCL_DATAPLANE_NO_UPSTREAM',
          reason: `${se.ref} (STATIC) has no endpoint with an IP address`,
        };
      return { ok: true, targets, egressCheck: false, shuffle: false };
    }
    case 'NONE': {
      // Passthrough (ztunnel: LB mode PASSTHROUGH): the original destination, which egressPolicies must also allow.
      if (dialledIp !== null)
        return {
          ok: true,
          targets: [{ kind: 'original', ip: dialledIp, port: upstreamPort(port) }],
          egressCheck: true,
          shuffle: false,
        };
      if (isWildcard(host)) {
        return {
          ok: false,
          code: 'PCL_DATAPLANE_NO_UPSTREAM',
          reason: `${se.ref} (NONE): cannot resolve the wildcard host ${host}`,
        };
      }
      return {
        ok: true,
        targets: [{ kind: 'name', host, port: upstreamPort(port) }],
        egressCheck: true,
        shuffle: false,
      };
    }
  }
}

/** A concrete address to dial, with what allowed it. */
export interface UpstreamAddress {
  readonly ip: string;
  readonly port: number;
  /** The name it was resolved from, when it was. */
  readonly from: string | null;
}

export type VetResult =
  | { readonly ok: true; readonly addresses: readonly UpstreamAddress[] }
  | { readonly ok: false; readonly code: ErrorCode; readonly reason: string };

/** What resolving the plan's names gave: addresses per name (an empty list = the name did not resolve). */
export type Resolutions = ReadonlyMap<string, readonly string[]>;

/**
 * Turn a plan plus its resolutions into addresses to dial. Refuses the whole tunnel when ANY address a name
 * resolved to is refused (a name that answers with one public and one private address is an attack, not a
 * choice), or when egressPolicies must allow and do not.
 */
export function vetAddresses(
  plan: Extract<UpstreamPlan, { ok: true }>,
  resolutions: Resolutions,
  guard: AddressGuard,
  egress: CompiledEgressPolicies,
): VetResult {
  const out: UpstreamAddress[] = [];
  for (const t of plan.targets) {
    if (t.kind === 'trusted') {
      // Written in the configuration, so trusted as written; the gateway's own listeners are still refused.
      const v = guard.check(t.ip, t.port);
      if (!v.ok && v.range === 'listener')
        return { ok: false, code: 'PCL_DATAPLANE_PRIVATE_ADDRESS', reason: v.reason };
      out.push({ ip: t.ip, port: t.port, from: null });
      continue;
    }
    const ips = t.kind === 'original' ? [t.ip] : (resolutions.get(t.host) ?? []);
    if (ips.length === 0) {
      return {
        ok: false,
        code: 'PCL_DATAPLANE_DNS_FAILED',
        reason: `${t.kind === 'name' ? t.host : t.ip} resolved to no address`,
      };
    }
    for (const ip of ips) {
      const shown = t.kind === 'name' ? `${t.host} resolves to ${ip}, which` : `${ip}`;
      const v = guard.check(ip, t.port);
      if (!v.ok)
        return {
          ok: false,
          code: 'PCL_DATAPLANE_PRIVATE_ADDRESS',
          reason: `${t.kind === 'name' ? `${t.host} resolves to ` : ''}${v.reason}`,
        };
      if (plan.egressCheck) {
        const d = decideUnknownDestination(egress, ip, t.port);
        if (d.decision !== 'allow')
          return {
            ok: false,
            code: d.code,
            reason: t.kind === 'name' ? `${shown} egressPolicies deny: ${d.reason}` : d.reason,
          };
      }
      out.push({ ip, port: t.port, from: t.kind === 'name' ? t.host : null });
    }
  }
  return { ok: true, addresses: out };
}

/** The names a plan needs resolved. */
export function namesToResolve(plan: Extract<UpstreamPlan, { ok: true }>): string[] {
  const names = new Set<string>();
  for (const t of plan.targets) if (t.kind === 'name') names.add(t.host);
  return [...names];
}

/**
 * Resolve every name of a plan once (names already resolved while deciding are reused, never asked again: a second
 * answer could differ, which is DNS rebinding). The first failure ends it.
 */
export async function resolvePlan(
  plan: Extract<UpstreamPlan, { ok: true }>,
  resolve: (host: string) => Promise<readonly string[]>,
  known: ReadonlyMap<string, readonly string[]> | null = null,
): Promise<
  | { readonly ok: true; readonly resolutions: Resolutions }
  | { readonly ok: false; readonly name: string; readonly reason: string }
> {
  const resolutions = new Map<string, readonly string[]>(known ?? []);
  for (const name of namesToResolve(plan)) {
    if (resolutions.has(name)) continue;
    try {
      resolutions.set(name, await resolve(name));
    } catch (err) {
      return { ok: false, name, reason: `${name}: ${(err as Error).message}` };
    }
  }
  return { ok: true, resolutions };
}

/** Spread connections over the addresses (DNS_ROUND_ROBIN): a Fisher-Yates shuffle of a copy. */
export function shuffled<T>(items: readonly T[], random: () => number = Math.random): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
