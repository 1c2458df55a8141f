/**
 * ServiceEntry VIP auto-allocation as istiod's ipallocate controller does it (istio/istio
 * pilot/pkg/controllers/ipallocate/ipallocate.go, pilot/pkg/networking/serviceentry/ip_autoallocation.go):
 * addresses already in `status.addresses` are kept, new hosts get the next free IPv4 and IPv6 of 240.240.0.0/16 and
 * 2001:2::/48, the cursor only moves forward, and a conflict moves every address of the losing ServiceEntry.
 */
import type { ServiceEntry } from '../config/api-types.ts';
import { autoAllocates } from '../config/rules/auto-allocate.ts';
import { formatIpBits, ipBits, parseIp } from '../net/ip.ts';

/** What one compile leaves for the next: the addresses per host and where each family's cursor stands. */
export interface VipAllocations {
  /** Addresses per `${seKey}#${host}` (IPv4 first), as istiod would have written them to `status.addresses`. */
  readonly byHost: ReadonlyMap<string, readonly string[]>;
  /** istiod's `prefixUse.next` per family: the next candidate, so a released address is not handed out at once. */
  readonly next4: bigint;
  readonly next6: bigint;
}

/** A ServiceEntry address as istiod's `ServiceEntryAddress` (status.addresses item). */
export interface ServiceEntryVip {
  readonly value: string;
  readonly host: string;
}

export interface VipAllocationResult {
  readonly allocations: VipAllocations;
  /** ServiceEntry keys whose addresses moved because of a conflict (istiod logs "reassigned ... due to IP Address conflict"). */
  readonly reassigned: readonly string[];
  /** Set when a range ran out; the hosts that could not be given an address have none (they stay unknown). */
  readonly exhausted: string | null;
}

interface Prefix {
  readonly v6: boolean;
  readonly base: bigint;
  readonly last: bigint;
  readonly text: string;
}

// istiod's PILOT_IP_AUTOALLOCATE_IPV4_PREFIX / _IPV6_PREFIX defaults (pilot/pkg/features/pilot.go).
function prefix(text: string): Prefix {
  const [addr, len] = text.split('/');
  const ip = parseIp(addr)!;
  const base = ipBits(ip);
  return { v6: ip.v6, base, last: base + (1n << BigInt((ip.v6 ? 128 : 32) - Number(len))) - 1n, text };
}
const V4 = prefix('240.240.0.0/16');
const V6 = prefix('2001:2::/48');

export const NO_VIP_ALLOCATIONS: VipAllocations = Object.freeze({
  byHost: new Map<string, readonly string[]>(),
  next4: V4.base + 1n,
  next6: V6.base + 1n,
});

/**
 * istiod's `shouldV2AutoAllocateIPFromPieces`: not for resolution NONE, not when the opt-out label says `false`
 * (compared case-insensitively, `strings.EqualFold`), not when the user gave `spec.addresses`.
 */
function shouldAutoAllocate(se: ServiceEntry): boolean {
  return autoAllocates(se.spec.resolution, se.metadata.labels, se.spec.addresses);
}

/** istiod's `keepHost`: a wildcard host gets an address only with DYNAMIC_DNS. */
function keptHosts(se: ServiceEntry): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const h of se.spec.hosts) {
    if (h.includes('*') && se.spec.resolution !== 'DYNAMIC_DNS') continue;
    // A host listed several times gets one pair (istiod's assignedHosts.InsertContains).
    if (seen.has(h)) continue;
    seen.add(h);
    out.push(h);
  }
  return out;
}

/** Canonical text of an address, or null when it is not one (istiod skips what it cannot parse). */
function canonical(text: string): string | null {
  const ip = parseIp(text);
  return ip === null ? null : formatIpBits(ip.v6, ipBits(ip));
}

/** `status.addresses` of a ServiceEntry as written in its manifest, per host (istiod's GetHostAddressesFromServiceEntry). */
function statusAddresses(se: ServiceEntry): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const status = se.status as { addresses?: unknown } | undefined;
  if (!Array.isArray(status?.addresses)) return out;
  for (const item of status.addresses as unknown[]) {
    const { value, host } = (item ?? {}) as { value?: unknown; host?: unknown };
    if (typeof value !== 'string' || typeof host !== 'string') continue;
    const addr = canonical(value);
    if (addr === null) continue;
    const list = out.get(host);
    if (list) list.push(addr);
    else out.set(host, [addr]);
  }
  return out;
}

function inRange(address: string): Prefix | null {
  const ip = parseIp(address);
  if (ip === null) return null;
  const p = ip.v6 ? V6 : V4;
  const bits = ipBits(ip);
  return bits >= p.base && bits <= p.last ? p : null;
}

/** Who holds an address: a user (spec.addresses) or an allocation, ranked as the conflict rule needs. */
interface Claim {
  readonly seKey: string;
  /** 0: spec.addresses; 1: status.addresses from the manifest (istiod's own); 2: Portcullis's previous allocation. */
  readonly rank: 0 | 1 | 2;
  /** Position in creation order (the input is sorted oldest first). */
  readonly age: number;
}

/**
 * Allocate the VIPs of `entries` (sorted oldest first, by creationTimestamp as istiod's conflict rule compares).
 * For each host the addresses come from, in order: the manifest's `status.addresses` (what istiod wrote, which
 * ztunnel sends as the CONNECT authority), this ServiceEntry's allocation in `previous`, or the next free pair.
 */
export function allocateServiceEntryVips(
  entries: readonly ServiceEntry[],
  previous: VipAllocations,
): VipAllocationResult {
  // ---- warm: every address in our ranges that is in use, and who holds it (populateControllerDatastructures) ----
  const claims = new Map<string, Claim[]>();
  const claim = (address: string, c: Claim): void => {
    if (inRange(address) === null) return; // istiod tracks only its own ranges (prefixUse.markUsed)
    const list = claims.get(address);
    if (!list) claims.set(address, [c]);
    else if (!list.some((x) => x.seKey === c.seKey)) list.push(c);
  };
  const existing = new Map<string, Map<string, { addresses: string[]; rank: 1 | 2 }>>();
  entries.forEach((se, age) => {
    for (const a of se.spec.addresses ?? []) {
      const addr = canonical(a);
      if (addr !== null) claim(addr, { seKey: se.key, rank: 0, age });
    }
    if (!shouldAutoAllocate(se)) return; // istiod clears the stale status of an entry that no longer qualifies
    const perHost = new Map<string, { addresses: string[]; rank: 1 | 2 }>();
    for (const [host, addresses] of statusAddresses(se)) {
      perHost.set(host, { addresses, rank: 1 });
      for (const a of addresses) claim(a, { seKey: se.key, rank: 1, age });
    }
    for (const host of keptHosts(se)) {
      if (perHost.has(host)) continue;
      const prev = previous.byHost.get(`${se.key}#${host}`);
      if (prev === undefined) continue;
      perHost.set(host, { addresses: [...prev], rank: 2 });
      for (const a of prev) claim(a, { seKey: se.key, rank: 2, age });
    }
    existing.set(se.key, perHost);
  });

  // ---- conflicts (resolveConflict): against a user's address every allocation moves; otherwise the oldest keeps
  // it. Portcullis adds one rank: an address istiod wrote (status in the manifest) beats one Portcullis chose. ----
  const moved = new Set<string>();
  for (const list of claims.values()) {
    if (list.length < 2) continue;
    const autos = list.filter((c) => c.rank !== 0).sort((a, b) => a.rank - b.rank || a.age - b.age);
    const start = list.some((c) => c.rank === 0) ? 0 : 1;
    for (const c of autos.slice(start)) moved.add(c.seKey);
  }

  // ---- allocate (statusPatchForAddresses): keep what a host has, give the next pair to a host without ----
  let next4 = previous.next4;
  let next6 = previous.next6;
  let exhausted: string | null = null;
  const allocateNext = (p: Prefix, from: bigint): { address: string; next: bigint } | null => {
    // istiod's prefixUse.allocateNext: from the cursor, wrapping to the start of the prefix once.
    let n = from;
    let looped = false;
    if (n < p.base + 1n || n > p.last) {
      looped = true;
      n = p.base + 1n;
    }
    while (claims.has(formatIpBits(p.v6, n))) {
      n++;
      if (n > p.last) {
        if (looped) return null;
        looped = true;
        n = p.base + 1n;
      }
    }
    const address = formatIpBits(p.v6, n);
    claims.set(address, []);
    return { address, next: n + 1n };
  };
  const byHost = new Map<string, readonly string[]>();
  for (const se of entries) {
    const perHost = existing.get(se.key);
    if (perHost === undefined) continue;
    const forced = moved.has(se.key);
    for (const host of keptHosts(se)) {
      const have = perHost.get(host);
      if (have !== undefined && !forced) {
        byHost.set(`${se.key}#${host}`, have.addresses);
        continue;
      }
      // A folder's manifests keep their conflicting status on every reload: an entry that was moved keeps the
      // addresses it was moved to (its previous allocation), so its VIPs stay stable while the conflict lasts.
      const prev = forced && have?.rank === 1 ? previous.byHost.get(`${se.key}#${host}`) : undefined;
      if (prev?.every((a) => (claims.get(a) ?? []).every((c) => c.seKey === se.key))) {
        for (const a of prev) if (inRange(a) !== null) claims.set(a, [{ seKey: se.key, rank: 2, age: 0 }]);
        byHost.set(`${se.key}#${host}`, prev);
        continue;
      }
      const got: string[] = [];
      const a4 = allocateNext(V4, next4);
      if (a4) {
        got.push(a4.address);
        next4 = a4.next;
      } else exhausted = `${V4.text} is exhausted`;
      const a6 = allocateNext(V6, next6);
      if (a6) {
        got.push(a6.address);
        next6 = a6.next;
      } else exhausted = `${V6.text} is exhausted`;
      if (got.length > 0) byHost.set(`${se.key}#${host}`, got);
    }
  }
  return { allocations: { byHost, next4, next6 }, reassigned: [...moved], exhausted };
}

/** The VIPs of one ServiceEntry, one entry per address, hosts in spec order (each host once). */
export function vipsOf(allocations: VipAllocations, se: ServiceEntry): ServiceEntryVip[] {
  const out: ServiceEntryVip[] = [];
  for (const host of keptHosts(se)) {
    for (const value of allocations.byHost.get(`${se.key}#${host}`) ?? []) out.push({ value, host });
  }
  return out;
}
