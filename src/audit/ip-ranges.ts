/**
 * Sets of IP addresses as sorted, disjoint intervals, for questions CIDR lists cannot answer one by one:
 * "what does `0.0.0.0/0 except 10.0.0.0/8` leave outside the private ranges?".
 */
import { formatIpBits, ipBits, parseCidr } from '../net/ip.ts';

export interface Interval {
  readonly family: 4 | 6;
  readonly start: bigint;
  /** Inclusive. */
  readonly end: bigint;
}

/** A set of addresses: disjoint intervals sorted by family, then start. */
export type AddressSet = readonly Interval[];

const width = (family: 4 | 6): bigint => (family === 4 ? 32n : 128n);

/** The interval of one CIDR (a bare address is a /32 or /128); null when malformed. */
export function cidrInterval(text: string): Interval | null {
  const c = parseCidr(text.trim());
  if (!c) return null;
  const family = c.v6 ? 6 : 4;
  const size = 1n << (width(family) - BigInt(c.prefix));
  const start = ipBits(c);
  return { family, start, end: start + size - 1n };
}

function normalize(list: Interval[]): Interval[] {
  const sorted = [...list].sort((a, b) =>
    a.family !== b.family ? a.family - b.family : a.start < b.start ? -1 : a.start > b.start ? 1 : 0,
  );
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && last.family === i.family && i.start <= last.end + 1n) {
      if (i.end > last.end) out[out.length - 1] = { family: last.family, start: last.start, end: i.end };
    } else out.push(i);
  }
  return out;
}

/** The set of the given CIDRs; malformed entries are skipped (config validation reports them). */
export function setOf(cidrs: readonly string[]): AddressSet {
  const list: Interval[] = [];
  for (const c of cidrs) {
    const i = cidrInterval(c);
    if (i) list.push(i);
  }
  return normalize(list);
}

export function union(a: AddressSet, b: AddressSet): AddressSet {
  return normalize([...a, ...b]);
}

/** `a` minus `b`. */
export function subtract(a: AddressSet, b: AddressSet): AddressSet {
  const out: Interval[] = [];
  for (const x of a) {
    let pieces: Interval[] = [x];
    for (const y of b) {
      if (y.family !== x.family) continue;
      const next: Interval[] = [];
      for (const p of pieces) {
        if (y.end < p.start || y.start > p.end) {
          next.push(p);
          continue;
        }
        if (y.start > p.start) next.push({ family: p.family, start: p.start, end: y.start - 1n });
        if (y.end < p.end) next.push({ family: p.family, start: y.end + 1n, end: p.end });
      }
      pieces = next;
    }
    out.push(...pieces);
  }
  return normalize(out);
}

/** Addresses in both `a` and `b`. */
export function intersect(a: AddressSet, b: AddressSet): AddressSet {
  return subtract(a, subtract(a, b));
}

export function isEmpty(a: AddressSet): boolean {
  return a.length === 0;
}

/** Private, loopback, link-local and shared (CGNAT) ranges: where pod and service CIDRs live, never the internet. */
const NON_EXTERNAL_CIDRS: readonly string[] = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '0.0.0.0/8',
  'fc00::/7',
  'fe80::/10',
  '::1/128',
  '::/128',
];
const NON_EXTERNAL = setOf(NON_EXTERNAL_CIDRS);

/** The part of `a` outside the private ranges: what reaches the internet. */
export function externalPart(a: AddressSet): AddressSet {
  return subtract(a, NON_EXTERNAL);
}

export const ALL_ADDRESSES: AddressSet = setOf(['0.0.0.0/0', '::/0']);

/** The fewest CIDRs covering an interval exactly. */
function intervalToCidrs(i: Interval): string[] {
  const out: string[] = [];
  const w = width(i.family);
  let start = i.start;
  while (start <= i.end) {
    let size = w;
    // Largest aligned block starting at `start` that fits.
    while (size > 0n) {
      const block = 1n << size;
      if (start % block === 0n && start + block - 1n <= i.end) break;
      size--;
    }
    out.push(`${formatIpBits(i.family === 6, start)}/${w - size}`);
    start += 1n << size;
  }
  return out;
}

/** The set as CIDRs, at most `limit` of them (then `…`), for messages. */
export function describeSet(a: AddressSet, limit = 6): string {
  const cidrs = a.flatMap(intervalToCidrs);
  if (cidrs.length <= limit) return cidrs.join(', ');
  return `${cidrs.slice(0, limit).join(', ')}, … (${cidrs.length} ranges)`;
}

const PUBLIC_V4 = externalPart(setOf(['0.0.0.0/0']));
const PUBLIC_V6 = externalPart(setOf(['::/0']));

function sameSet(a: AddressSet, b: AddressSet): boolean {
  return (
    a.length === b.length && a.every((x, i) => x.family === b[i].family && x.start === b[i].start && x.end === b[i].end)
  );
}

/** Like describeSet, but names "every public IPv4/IPv6 address" instead of listing a hundred CIDRs. */
export function describeExternal(a: AddressSet, limit = 6): string {
  const parts: string[] = [];
  for (const [family, all, label] of [
    [4, PUBLIC_V4, 'every public IPv4 address'],
    [6, PUBLIC_V6, 'every public IPv6 address'],
  ] as const) {
    const mine = a.filter((i) => i.family === family);
    if (mine.length === 0) continue;
    parts.push(sameSet(mine, all) ? label : describeSet(mine, limit));
  }
  return parts.join('; ');
}
