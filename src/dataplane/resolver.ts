/** Resolve a name once, A and AAAA, with the configured DNS servers (`--dns-server`), never the mesh's DNS proxy. */
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';

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
}

/** Parse `--dns-server` values: `1.2.3.4`, `1.2.3.4:5353`, `::1`, `[::1]:5353`. Returns null for a bad one. */
export function parseDnsServer(text: string): string | null {
  if (isIP(text) !== 0) return text;
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(text);
  if (v6 && isIP(v6[1]) === 6 && Number(v6[2]) >= 1 && Number(v6[2]) <= 65535) return text;
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(text);
  if (v4 && isIP(v4[1]) === 4 && Number(v4[2]) >= 1 && Number(v4[2]) <= 65535) return text;
  return null;
}

// No data for a family (or no such name) is an answer, not a failure.
const EMPTY_ANSWER = new Set(['ENODATA', 'ENOTFOUND', 'NOTFOUND', 'ENONAME']);

/**
 * A resolver on node's c-ares (`Resolver#setServers`), so `--dns-server` is honoured without touching the process's
 * global resolver. A and AAAA are queried together; the tunnel is decided on every address returned.
 */
export function createDnsResolver(options: DnsResolverOptions = {}): NameResolver {
  const resolver = new Resolver({ timeout: options.timeoutMs ?? 5000, tries: options.tries ?? 2 });
  if (options.servers && options.servers.length > 0) resolver.setServers([...options.servers]);
  const query = async (fn: () => Promise<string[]>): Promise<string[] | Error> => {
    try {
      return await fn();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      return EMPTY_ANSWER.has(code) ? [] : (err as Error);
    }
  };
  return {
    async resolve(host: string): Promise<string[]> {
      if (isIP(host) !== 0) return [host];
      const [a, aaaa] = await Promise.all([query(() => resolver.resolve4(host)), query(() => resolver.resolve6(host))]);
      if (a instanceof Error && aaaa instanceof Error) throw a;
      return [...(a instanceof Error ? [] : a), ...(aaaa instanceof Error ? [] : aaaa)];
    },
  };
}
