/**
 * ServiceEntry VIP auto-allocation as istiod's ipallocate controller does it (ztunnel-hbone-facts §2.6):
 * sequential from 240.240.0.1 and 2001:2::1, one IPv4 and one IPv6 per kept host, skipping addresses in use,
 * and stable across reloads: a (ServiceEntry, host) pair keeps the addresses it had in the previous snapshot.
 */
import { formatIpBits, ipBits, parseIp } from '../net/ip.ts';

export interface VipPair {
  readonly v4: string;
  readonly v6: string;
}

/** Allocations from the last snapshot, keyed by `ServiceEntry/ns/name#host`. */
export type VipAllocations = ReadonlyMap<string, VipPair>;

export interface AllocationRequest {
  readonly key: string; // `${seKey}#${host}`
}

const V4_BASE = ipBits(parseIp('240.240.0.0')!);
const V4_SIZE = 1n << 16n; // 240.240.0.0/16
const V6_BASE = ipBits(parseIp('2001:2::')!);
const V6_SIZE = 1n << 80n; // 2001:2::/48

/**
 * Allocate a pair for each request, in order. `previous` allocations are kept when still requested;
 * `reserved` are addresses users wrote themselves (never handed out).
 * Throws when a range is exhausted (65,535 IPv4 VIPs), as istiod errors.
 */
export function allocateVips(
  requests: readonly AllocationRequest[],
  previous: VipAllocations,
  reserved: ReadonlySet<string> = new Set(),
): Map<string, VipPair> {
  const out = new Map<string, VipPair>();
  const used = new Set<string>(reserved);
  // Keep the previous allocations first, so a new ServiceEntry can never take an address an old one had.
  for (const r of requests) {
    const prev = previous.get(r.key);
    if (prev && !used.has(prev.v4) && !used.has(prev.v6)) {
      out.set(r.key, prev);
      used.add(prev.v4);
      used.add(prev.v6);
    }
  }
  let n4 = 1n;
  let n6 = 1n;
  for (const r of requests) {
    if (out.has(r.key)) continue;
    let v4 = '';
    while (n4 < V4_SIZE - 1n) {
      const candidate = formatIpBits(false, V4_BASE + n4++);
      if (!used.has(candidate)) {
        v4 = candidate;
        break;
      }
    }
    let v6 = '';
    while (n6 < V6_SIZE - 1n) {
      const candidate = formatIpBits(true, V6_BASE + n6++);
      if (!used.has(candidate)) {
        v6 = candidate;
        break;
      }
    }
    if (v4 === '' || v6 === '') throw new Error('ServiceEntry VIP range 240.240.0.0/16 is exhausted');
    out.set(r.key, { v4, v6 });
    used.add(v4);
    used.add(v6);
  }
  return out;
}

/**
 * The addresses istiod's ipallocate controller wrote into a ServiceEntry's `status.addresses` (`{value, host}`,
 * istio/api networking/v1alpha3 ServiceEntryAddress), for hosts the ServiceEntry declares. ztunnel sends these VIPs as
 * the CONNECT authority, so they win over any address of our own. Entries that are not an IP of a declared host are
 * left out.
 */
export function istiodAddresses(status: unknown, hosts: readonly string[]): { host: string; value: string }[] {
  const list = (status as { addresses?: unknown } | null | undefined)?.addresses;
  if (!Array.isArray(list)) return [];
  const out: { host: string; value: string }[] = [];
  for (const a of list) {
    const { value, host } = (a ?? {}) as { value?: unknown; host?: unknown };
    if (typeof value !== 'string' || typeof host !== 'string' || !hosts.includes(host) || parseIp(value) === null) continue;
    out.push({ host, value });
  }
  return out;
}
