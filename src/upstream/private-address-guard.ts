/**
 * The private-address guard: which addresses a name may resolve to and still be dialled. Smokescreen's idea (an
 * egress proxy refuses to be an SSRF springboard into the network it sits in); no mesh peer does this.
 */
import { cidrContains, parseCidr, parseIp, type CidrBlock, type IpAddress } from '../net/ip.ts';

/** Why an address is refused, or that it may be dialled. */
export type GuardVerdict =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** The refused range as written in the table (or `listener` for one of the gateway's own sockets). */
      readonly range: string;
      readonly reason: string;
    };

interface Range {
  readonly block: CidrBlock;
  readonly what: string;
}

function range(cidr: string, what: string): Range {
  const block = parseCidr(cidr);
  if (block === null) throw new TypeError(`bad built-in range ${cidr}`);
  return { block, what };
}

// IANA special-purpose registries (RFC 6890 and its updates). Anything here is not a public internet host.
const V4_RANGES: readonly Range[] = [
  range('0.0.0.0/8', 'unspecified ("this network", RFC 1122)'),
  range('10.0.0.0/8', 'private (RFC 1918)'),
  range('100.64.0.0/10', 'carrier-grade NAT (RFC 6598)'),
  range('127.0.0.0/8', 'loopback'),
  range('169.254.0.0/16', 'link-local (cloud metadata 169.254.169.254 lives here)'),
  range('172.16.0.0/12', 'private (RFC 1918)'),
  range('192.0.0.0/24', 'IETF protocol assignments (reserved)'),
  range('192.0.2.0/24', 'documentation (TEST-NET-1)'),
  range('192.88.99.0/24', '6to4 relay anycast (deprecated)'),
  range('192.168.0.0/16', 'private (RFC 1918)'),
  range('198.18.0.0/15', 'benchmarking (RFC 2544)'),
  range('198.51.100.0/24', 'documentation (TEST-NET-2)'),
  range('203.0.113.0/24', 'documentation (TEST-NET-3)'),
  range('224.0.0.0/4', 'multicast'),
  // Includes 255.255.255.255 (broadcast) and 240.240.0.0/16, where ServiceEntry VIPs are allocated: a name that
  // resolves to a VIP would loop back into the mesh (kgateway#11216 describes the same loop for waypoints).
  range('240.0.0.0/4', 'reserved (and limited broadcast)'),
];

const V6_RANGES: readonly Range[] = [
  range('::/128', 'unspecified'),
  range('::1/128', 'loopback'),
  range('::/96', 'IPv4-compatible IPv6 (deprecated)'),
  range('64:ff9b:1::/48', 'local-use NAT64 (RFC 8215)'),
  range('100::/64', 'discard-only (RFC 6666)'),
  range('2001:2::/48', 'benchmarking (and the ServiceEntry VIP range)'),
  range('2001:db8::/32', 'documentation'),
  range('3fff::/20', 'documentation (RFC 9637)'),
  range('fc00::/7', 'unique-local'),
  range('fe80::/10', 'link-local'),
  range('fec0::/10', 'site-local (deprecated)'),
  range('ff00::/8', 'multicast'),
];

const GLOBAL_UNICAST_V6 = range('2000::/3', 'global unicast');
const NAT64 = range('64:ff9b::/96', 'NAT64 (RFC 6052)');
const SIX_TO_FOUR = range('2002::/16', '6to4');
const TEREDO = range('2001::/32', 'Teredo');

function v4(word: number): IpAddress {
  return { v6: false, w0: word >>> 0, w1: 0, w2: 0, w3: 0 };
}

function formatV4(word: number): string {
  return `${word >>> 24}.${(word >>> 16) & 255}.${(word >>> 8) & 255}.${word & 255}`;
}

/** A socket address the gateway itself listens on. `0.0.0.0` / `::` mean every local address. */
export interface ListenerAddress {
  readonly ip: string;
  readonly port: number;
}

export interface AddressGuardOptions {
  /** settings.allowedPrivateCidrs: ranges a name may resolve to despite the table above. */
  readonly allowedPrivateCidrs: readonly string[];
  /** The gateway's own listeners (HBONE, admin): never dialled, whatever the exceptions say. */
  readonly listeners?: readonly ListenerAddress[];
  /** The host's own addresses, which a wildcard listener answers on (loopback is always included). */
  readonly localAddresses?: readonly string[];
}

/** A compiled guard. `check` is pure and never throws. */
export interface AddressGuard {
  check(ip: string, port?: number): GuardVerdict;
}

/**
 * Compile the guard once (configuration is parsed here, never per connection). An unparsable
 * `allowedPrivateCidrs` entry throws, because dropping it silently could widen or narrow what is reachable.
 *
 * @example
 * const guard = compileAddressGuard({ allowedPrivateCidrs: ['127.0.0.0/8'] });
 * guard.check('169.254.169.254'); // { ok: false, range: '169.254.0.0/16', reason: '... link-local ...' }
 */
export function compileAddressGuard(options: AddressGuardOptions): AddressGuard {
  const allowed: CidrBlock[] = [];
  for (const text of options.allowedPrivateCidrs) {
    const block = parseCidr(text);
    if (block === null) throw new TypeError(`allowedPrivateCidrs: "${text}" is not an IP address or CIDR`);
    allowed.push(block);
  }
  const local = [...(options.localAddresses ?? []), '127.0.0.1', '::1']
    .map((a) => parseIp(a))
    .filter((a): a is IpAddress => a !== null);
  const listeners = (options.listeners ?? []).map((l) => ({ ...l, addr: parseIp(l.ip) }));

  const sameIp = (a: IpAddress, b: IpAddress): boolean =>
    a.v6 === b.v6 && a.w0 === b.w0 && a.w1 === b.w1 && a.w2 === b.w2 && a.w3 === b.w3;
  const isUnspecified = (a: IpAddress): boolean => a.w0 === 0 && a.w1 === 0 && a.w2 === 0 && a.w3 === 0;

  const isAllowed = (ip: IpAddress): boolean => allowed.some((b) => cidrContains(b, ip));

  function checkV4(ip: IpAddress, shown: string, via: string): GuardVerdict {
    for (const r of V4_RANGES) {
      if (cidrContains(r.block, ip) && !isAllowed(ip)) {
        return { ok: false, range: r.block.text, reason: `${shown}${via} is ${r.what} (${r.block.text})` };
      }
    }
    return { ok: true };
  }

  function checkV6(ip: IpAddress, shown: string): GuardVerdict {
    if (isAllowed(ip)) return { ok: true };
    // IPv4 embedded in IPv6 reaches the embedded IPv4 host through a translator: judge that host.
    if (cidrContains(NAT64.block, ip)) return checkV4(v4(ip.w3), shown, ` (NAT64 for ${formatV4(ip.w3)})`);
    if (cidrContains(SIX_TO_FOUR.block, ip)) {
      const embedded = ((ip.w0 & 0xffff) << 16) | (ip.w1 >>> 16);
      return checkV4(v4(embedded), shown, ` (6to4 for ${formatV4(embedded)})`);
    }
    if (cidrContains(TEREDO.block, ip)) {
      // RFC 4380 §4: server IPv4 in bits 32-63, client IPv4 obfuscated (inverted) in the last 32 bits.
      const server = checkV4(v4(ip.w1), shown, ` (Teredo server ${formatV4(ip.w1)})`);
      if (!server.ok) return server;
      const client = ~ip.w3 >>> 0;
      return checkV4(v4(client), shown, ` (Teredo client ${formatV4(client)})`);
    }
    for (const r of V6_RANGES) {
      if (cidrContains(r.block, ip))
        return { ok: false, range: r.block.text, reason: `${shown} is ${r.what} (${r.block.text})` };
    }
    if (!cidrContains(GLOBAL_UNICAST_V6.block, ip)) {
      return { ok: false, range: '!2000::/3', reason: `${shown} is not IPv6 global unicast (2000::/3)` };
    }
    return { ok: true };
  }

  return {
    check(text: string, port?: number): GuardVerdict {
      const ip = parseIp(text);
      if (ip === null) return { ok: false, range: 'invalid', reason: `"${text}" is not an IP address` };
      if (port !== undefined) {
        // A tunnel to the gateway's own listener would loop (ztunnel refuses its own ports the same way: SelfCall).
        for (const l of listeners) {
          if (l.addr === null || l.port !== port) continue;
          const hit = isUnspecified(l.addr)
            ? local.some((a) => sameIp(a, ip)) || isUnspecified(ip)
            : sameIp(l.addr, ip);
          if (hit)
            return { ok: false, range: 'listener', reason: `${text}:${port} is one of the gateway's own listeners` };
        }
      }
      return ip.v6 ? checkV6(ip, text) : checkV4(ip, text, '');
    },
  };
}
