/**
 * Longest-prefix lookup of addresses and CIDRs (ServiceEntry VIPs and `spec.addresses`), compiled once per snapshot.
 * ztunnel matches CIDR VIPs by longest prefix (ztunnel #1839); an exact VIP is a /32 or /128.
 */
import { parseCidr, parseIp, type CidrBlock, type IpAddress } from '../net/ip.ts';

function maskedKey(v6: boolean, prefix: number, ip: Pick<IpAddress, 'w0' | 'w1' | 'w2' | 'w3'>): string {
  const m = (word: number): number => {
    const bits = Math.max(0, Math.min(32, prefix - word * 32));
    return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  };
  if (!v6) return `4/${prefix}/${(ip.w0 & m(0)) >>> 0}`;
  return `6/${prefix}/${(ip.w0 & m(0)) >>> 0}.${(ip.w1 & m(1)) >>> 0}.${(ip.w2 & m(2)) >>> 0}.${(ip.w3 & m(3)) >>> 0}`;
}

/** A longest-prefix-match table from CIDRs to values. Insert at compile time, look up per connection. */
export class PrefixTable<V> {
  readonly #buckets = new Map<string, V>();
  /** Prefix lengths in use per family, longest first. */
  readonly #v4: number[] = [];
  readonly #v6: number[] = [];

  /** Insert `cidr` (text, or an already parsed block); the first value for an identical prefix wins. False when malformed. */
  insert(cidr: string | CidrBlock, value: V): boolean {
    const block = typeof cidr === 'string' ? parseCidr(cidr) : cidr;
    if (!block) return false;
    const k = maskedKey(block.v6, block.prefix, block);
    if (this.#buckets.has(k)) return true;
    this.#buckets.set(k, value);
    const list = block.v6 ? this.#v6 : this.#v4;
    if (!list.includes(block.prefix)) {
      list.push(block.prefix);
      list.sort((a, b) => b - a);
    }
    return true;
  }

  /** The value of the longest prefix containing `ip`, with that prefix; null when none (or not an IP). */
  lookup(ip: string): { value: V; prefix: number } | null {
    const parsed = parseIp(ip);
    if (!parsed) return null;
    for (const prefix of parsed.v6 ? this.#v6 : this.#v4) {
      const v = this.#buckets.get(maskedKey(parsed.v6, prefix, parsed));
      if (v !== undefined) return { value: v, prefix };
    }
    return null;
  }

  get size(): number {
    return this.#buckets.size;
  }
}
