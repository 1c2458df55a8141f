/**
 * Longest-prefix lookup of addresses and CIDRs (ServiceEntry VIPs and `spec.addresses`), compiled once per snapshot.
 * ztunnel matches CIDR VIPs by longest prefix (ztunnel #1839); an exact VIP is a /32 or /128.
 */
import { isIP } from 'node:net';

export interface ParsedCidr {
  readonly family: 4 | 6;
  readonly bits: bigint;
  readonly prefix: number;
}

/** Parse an IP literal to its family and value; `::ffff:a.b.c.d` is folded to IPv4. Returns null if not an IP. */
export function parseIp(text: string): { family: 4 | 6; bits: bigint } | null {
  let t = text.trim();
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  const zone = t.indexOf('%');
  if (zone >= 0) t = t.slice(0, zone);
  const fam = isIP(t);
  if (fam === 4) {
    const parts = t.split('.').map(Number);
    return { family: 4, bits: BigInt(((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3]) };
  }
  if (fam !== 6) return null;
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  let head = t;
  let tailWords: number[] = [];
  if (v4tail) {
    const p = v4tail[1].split('.').map(Number);
    tailWords = [(p[0] << 8) | p[1], (p[2] << 8) | p[3]];
    head = t.slice(0, t.length - v4tail[1].length);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const [l, r] = head.includes('::') ? head.split('::') : [head, null];
  const left = l ? l.split(':').filter((x) => x !== '').map((x) => parseInt(x, 16)) : [];
  const right = r ? r.split(':').filter((x) => x !== '').map((x) => parseInt(x, 16)) : [];
  const fill = 8 - left.length - right.length - tailWords.length;
  const words = [...left, ...(r === null ? [] : new Array(Math.max(fill, 0)).fill(0)), ...right, ...tailWords];
  let bits = 0n;
  for (const w of words) bits = (bits << 16n) | BigInt(w);
  // IPv4-mapped IPv6 (::ffff:0:0/96) is the IPv4 address it carries.
  if (bits >> 32n === 0xffffn) return { family: 4, bits: bits & 0xffffffffn };
  return { family: 6, bits };
}

/** Parse `ip` or `ip/prefix`; returns null when malformed. */
export function parseCidr(text: string): ParsedCidr | null {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!ip) return null;
  const max = ip.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return null;
    prefix = Number(p);
    if (prefix > max) return null;
  }
  return { family: ip.family, bits: mask(ip.bits, ip.family, prefix), prefix };
}

function mask(bits: bigint, family: 4 | 6, prefix: number): bigint {
  const width = family === 4 ? 32 : 128;
  if (prefix === 0) return 0n;
  const m = ((1n << BigInt(prefix)) - 1n) << BigInt(width - prefix);
  return bits & m;
}

/** A longest-prefix-match table from CIDRs to values. Insert at compile time, look up per connection. */
export class PrefixTable<V> {
  readonly #buckets = new Map<string, V>();
  /** Prefix lengths in use per family, longest first. */
  readonly #prefixes: { 4: number[]; 6: number[] } = { 4: [], 6: [] };

  /** Insert; the first value inserted for an identical prefix wins (callers insert in precedence order). */
  insert(cidr: ParsedCidr, value: V): void {
    const k = `${cidr.family}/${cidr.prefix}/${cidr.bits}`;
    if (this.#buckets.has(k)) return;
    this.#buckets.set(k, value);
    const list = this.#prefixes[cidr.family];
    if (!list.includes(cidr.prefix)) {
      list.push(cidr.prefix);
      list.sort((a, b) => b - a);
    }
  }

  /** The value of the longest prefix containing `ip`, with that prefix; null when none. */
  lookup(ip: string): { value: V; prefix: number } | null {
    const parsed = parseIp(ip);
    if (!parsed) return null;
    for (const prefix of this.#prefixes[parsed.family]) {
      const v = this.#buckets.get(`${parsed.family}/${prefix}/${mask(parsed.bits, parsed.family, prefix)}`);
      if (v !== undefined) return { value: v, prefix };
    }
    return null;
  }

  get size(): number {
    return this.#buckets.size;
  }
}

/** Format an IPv4 or IPv6 value back to text (IPv6 in its compressed form). */
export function formatIp(family: 4 | 6, bits: bigint): string {
  if (family === 4) {
    const n = Number(bits);
    return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  const words: string[] = [];
  for (let i = 7; i >= 0; i--) words.push(((bits >> BigInt(i * 16)) & 0xffffn).toString(16));
  // Compress the longest run of zero words, as RFC 5952 asks.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return words.join(':');
  return `${words.slice(0, best).join(':')}::${words.slice(best + bestLen).join(':')}`;
}
