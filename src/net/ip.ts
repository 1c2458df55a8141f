/**
 * The one IP and CIDR parser of Portcullis. Addresses and blocks are plain 32-bit words, so matching on the
 * per-connection path is a few integer compares; `ipBits`/`formatIpBits` give the same values as one integer for
 * arithmetic (VIP allocation, address-set intervals).
 */

/**
 * An address as four 32-bit words (IPv4 uses `w0` only). IPv4-mapped IPv6 (`::ffff:1.2.3.4`, what a
 * dual-stack Node socket reports for an IPv4 peer) is normalised to IPv4, so `1.2.3.0/24` matches it.
 */
export interface IpAddress {
  readonly v6: boolean;
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
  readonly w3: number;
}

/** A CIDR block with its address pre-masked and one mask per word. */
export interface CidrBlock {
  readonly v6: boolean;
  readonly prefix: number;
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
  readonly w3: number;
  readonly m0: number;
  readonly m1: number;
  readonly m2: number;
  readonly m3: number;
  /** The text it was compiled from, for records and messages. */
  readonly text: string;
}

function parseIpv4Words(s: string): number | null {
  let value = 0;
  let octets = 0;
  let start = 0;
  for (let i = 0; i <= s.length; i++) {
    if (i < s.length && s.charCodeAt(i) !== 46 /* . */) continue;
    const len = i - start;
    if (len < 1 || len > 3) return null;
    // Leading zeros are ambiguous (octal in some parsers); Go's netip and Node's net.isIPv4 reject them too.
    if (len > 1 && s.charCodeAt(start) === 48) return null;
    let octet = 0;
    for (let j = start; j < i; j++) {
      const c = s.charCodeAt(j) - 48;
      if (c < 0 || c > 9) return null;
      octet = octet * 10 + c;
    }
    if (octet > 255) return null;
    value = value * 256 + octet;
    octets++;
    start = i + 1;
  }
  return octets === 4 ? value >>> 0 : null;
}

function parseHextet(s: string): number | null {
  if (s.length < 1 || s.length > 4) return null;
  let v = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let d: number;
    if (c >= 48 && c <= 57) d = c - 48;
    else if (c >= 97 && c <= 102) d = c - 87;
    else if (c >= 65 && c <= 70) d = c - 55;
    else return null;
    v = v * 16 + d;
  }
  return v;
}

function parseIpv6Hextets(input: string): number[] | null {
  let s = input;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const dbl = s.indexOf('::');
  if (dbl >= 0 && s.indexOf('::', dbl + 1) >= 0) return null;
  const parsePart = (part: string, allowV4Tail: boolean): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const groups = part.split(':');
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (allowV4Tail && i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIpv4Words(g);
        if (v4 === null) return null;
        out.push(v4 >>> 16, v4 & 0xffff);
        continue;
      }
      const h = parseHextet(g);
      if (h === null) return null;
      out.push(h);
    }
    return out;
  };
  if (dbl < 0) {
    const all = parsePart(s, true);
    return all !== null && all.length === 8 ? all : null;
  }
  const head = parsePart(s.slice(0, dbl), false);
  const tail = parsePart(s.slice(dbl + 2), true);
  if (head === null || tail === null || head.length + tail.length > 7) return null;
  const zeros = new Array<number>(8 - head.length - tail.length).fill(0);
  return [...head, ...zeros, ...tail];
}

function fromHextets(h: readonly number[]): IpAddress {
  const w0 = ((h[0] << 16) | h[1]) >>> 0;
  const w1 = ((h[2] << 16) | h[3]) >>> 0;
  const w2 = ((h[4] << 16) | h[5]) >>> 0;
  const w3 = ((h[6] << 16) | h[7]) >>> 0;
  // ::ffff:a.b.c.d is an IPv4 peer on a dual-stack socket.
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return { v6: false, w0: w3, w1: 0, w2: 0, w3: 0 };
  return { v6: true, w0, w1, w2, w3 };
}

/** Parse an IPv4 or IPv6 address (zone ids ignored, brackets allowed). Returns null when it is not one. */
export function parseIp(text: string): IpAddress | null {
  let s = text;
  if (s.length === 0) return null;
  if (s.charCodeAt(0) === 91 /* [ */ && s.charCodeAt(s.length - 1) === 93) s = s.slice(1, -1);
  if (s.includes(':')) {
    const h = parseIpv6Hextets(s);
    return h === null ? null : fromHextets(h);
  }
  const v4 = parseIpv4Words(s);
  return v4 === null ? null : { v6: false, w0: v4, w1: 0, w2: 0, w3: 0 };
}

function wordMask(prefix: number, word: number): number {
  const bits = Math.max(0, Math.min(32, prefix - word * 32));
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/**
 * Parse `ip/len` or a bare `ip` (a /32 or /128), as AuthorizationPolicy `ipBlocks` and egressPolicies
 * `matchCidrs` allow. An IPv4-mapped IPv6 block with a prefix of at least 96 becomes the IPv4 block.
 * Returns null when the text is not an address or CIDR.
 */
export function parseCidr(text: string): CidrBlock | null {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const ip = parseIp(addrText);
  if (ip === null) return null;
  const wasV6Text = addrText.includes(':');
  let prefix: number;
  if (slash < 0) {
    prefix = ip.v6 ? 128 : 32;
  } else {
    const lenText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText)) return null;
    prefix = Number(lenText);
    if (prefix > (wasV6Text ? 128 : 32)) return null;
    if (wasV6Text && !ip.v6) {
      // ::ffff:0:0/96 and narrower describe IPv4 space; wider mapped blocks cannot be expressed in IPv4.
      if (prefix < 96) return null;
      prefix -= 96;
    }
  }
  const m0 = wordMask(prefix, 0);
  const m1 = ip.v6 ? wordMask(prefix, 1) : 0;
  const m2 = ip.v6 ? wordMask(prefix, 2) : 0;
  const m3 = ip.v6 ? wordMask(prefix, 3) : 0;
  return {
    v6: ip.v6,
    prefix,
    w0: (ip.w0 & m0) >>> 0,
    w1: (ip.w1 & m1) >>> 0,
    w2: (ip.w2 & m2) >>> 0,
    w3: (ip.w3 & m3) >>> 0,
    m0,
    m1,
    m2,
    m3,
    text,
  };
}

/** Whether `ip` lies inside `block`. Families never cross (as ztunnel's `IpNet::contains`). */
export function cidrContains(block: CidrBlock, ip: IpAddress): boolean {
  if (block.v6 !== ip.v6) return false;
  if ((ip.w0 & block.m0) >>> 0 !== block.w0) return false;
  if (!block.v6) return true;
  return (
    (ip.w1 & block.m1) >>> 0 === block.w1 &&
    (ip.w2 & block.m2) >>> 0 === block.w2 &&
    (ip.w3 & block.m3) >>> 0 === block.w3
  );
}

/** Whether any block contains `ip` (list items are ORed). */
export function anyCidrContains(blocks: readonly CidrBlock[], ip: IpAddress): boolean {
  for (let i = 0; i < blocks.length; i++) {
    if (cidrContains(blocks[i], ip)) return true;
  }
  return false;
}

/** The address as one integer: 32 bits for IPv4, 128 for IPv6. */
export function ipBits(ip: Pick<IpAddress, 'v6' | 'w0' | 'w1' | 'w2' | 'w3'>): bigint {
  if (!ip.v6) return BigInt(ip.w0);
  return (BigInt(ip.w0) << 96n) | (BigInt(ip.w1) << 64n) | (BigInt(ip.w2) << 32n) | BigInt(ip.w3);
}

/** Text of an address given as one integer (IPv6 compressed as RFC 5952 asks). */
export function formatIpBits(v6: boolean, bits: bigint): string {
  if (!v6) {
    const n = Number(bits);
    return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  const words: string[] = [];
  for (let i = 7; i >= 0; i--) words.push(((bits >> BigInt(i * 16)) & 0xffffn).toString(16));
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
