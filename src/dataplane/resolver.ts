/** Resolve a name once, A and AAAA, with the configured DNS servers (`--dns-server`), never the mesh's DNS proxy. */
import { Resolver } from 'node:dns/promises';
import { ipFamily } from '../net/ip-syntax.ts';
import { DnsCache, type DnsCacheOptions, type FamilyAnswer } from './dns-cache.ts';

/** Resolves a host to every IPv4 and IPv6 address it has; an empty list when it has none. Throws on resolver failure. */
export interface NameResolver {
  resolve(host: string): Promise<string[]>;
}

export interface DnsResolverOptions {
  /** `IP` or `IP:PORT` or `[IPv6]:PORT`; empty = the system's servers (/etc/resolv.conf). */
  readonly servers?: readonly string[];
  /** Per-query timeout (c-ares), default 5 s. */
  readonly timeoutMs?: number;
  readonly tries?: number;
  /**
   * Keep answers for their TTL (clamped to [1 s, 300 s]; "no data" for 1 s; failures never), as Envoy's DNS cache
   * does. Default on; `false` queries on every call.
   */
  readonly cache?: boolean | DnsCacheOptions;
}

/** Parse `--dns-server` values: `1.2.3.4`, `1.2.3.4:5353`, `::1`, `[::1]:5353`. Returns null for a bad one. */
export function parseDnsServer(text: string): string | null {
  if (ipFamily(text) !== 0) return text;
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(text);
  if (v6 && ipFamily(v6[1]) === 6 && Number(v6[2]) >= 1 && Number(v6[2]) <= 65535) return text;
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(text);
  if (v4 && ipFamily(v4[1]) === 4 && Number(v4[2]) >= 1 && Number(v4[2]) <= 65535) return text;
  return null;
}

// No data for a family (or no such name) is an answer, not a failure.
const EMPTY_ANSWER = new Set(['ENODATA', 'ENOTFOUND', 'NOTFOUND', 'ENONAME']);

/**
 * A resolver on node's c-ares (`Resolver#setServers`), so `--dns-server` is honoured without touching the process's
 * global resolver. A and AAAA are queried together; the tunnel is decided on every address returned. Answers are
 * cached for their TTL (`resolve4/resolve6` with `{ ttl: true }`); each call still returns the whole answer.
 */
export function createDnsResolver(options: DnsResolverOptions = {}): NameResolver {
  const resolver = new Resolver({ timeout: options.timeoutMs ?? 5000, tries: options.tries ?? 2 });
  if (options.servers && options.servers.length > 0) resolver.setServers([...options.servers]);
  const query = async (host: string, family: 4 | 6): Promise<FamilyAnswer> => {
    try {
      const records =
        family === 4 ? await resolver.resolve4(host, { ttl: true }) : await resolver.resolve6(host, { ttl: true });
      let ttl = Infinity;
      const addresses: string[] = [];
      for (const r of records) {
        addresses.push(r.address);
        if (r.ttl < ttl) ttl = r.ttl;
      }
      return { addresses, ttlSeconds: addresses.length === 0 ? 0 : ttl };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (EMPTY_ANSWER.has(code)) return { addresses: [], ttlSeconds: 0 };
      throw err;
    }
  };
  const cacheOpt = options.cache ?? true;
  const cache = cacheOpt === false ? null : new DnsCache(query, cacheOpt === true ? {} : cacheOpt);
  const lookup = cache
    ? (host: string, family: 4 | 6) => cache.lookup(host, family)
    : async (host: string, family: 4 | 6) => (await query(host, family)).addresses;
  return resolverOver(lookup);
}

/** A and AAAA together over a per-family lookup: a family that fails counts as empty unless both fail. */
function resolverOver(lookup: (host: string, family: 4 | 6) => Promise<readonly string[]>): NameResolver {
  const settle = (p: Promise<readonly string[]>): Promise<readonly string[] | Error> =>
    p.catch((err: unknown) => err as Error);
  return {
    async resolve(host: string): Promise<string[]> {
      if (ipFamily(host) !== 0) return [host];
      const [a, aaaa] = await Promise.all([settle(lookup(host, 4)), settle(lookup(host, 6))]);
      if (a instanceof Error && aaaa instanceof Error) throw a;
      return [...(a instanceof Error ? [] : a), ...(aaaa instanceof Error ? [] : aaaa)];
    },
  };
}
