/** A DNS answer cache per (name, family) that honours each answer's TTL, as Envoy's DNS cache does. */

/** One family's answer: the addresses and the smallest record TTL in seconds (0 when there are none). */
export interface FamilyAnswer {
  readonly addresses: readonly string[];
  readonly ttlSeconds: number;
}

/** Queries one family (A = 4, AAAA = 6). Resolves an empty answer for "no such name / no data"; rejects on failure. */
export type FamilyQuery = (host: string, family: 4 | 6) => Promise<FamilyAnswer>;

export interface DnsCacheOptions {
  /** Monotonic milliseconds; injectable so expiry is testable without waiting. Default `performance.now`. */
  readonly now?: () => number;
  /** Cached (name, family) pairs kept at most; the oldest is dropped first. Default 10,000. */
  readonly maxEntries?: number;
}

/**
 * TTLs are clamped to [1 s, 300 s]: a TTL of 0 would otherwise defeat the cache under load, and 300 s bounds how long
 * an address that moved keeps being dialled (Envoy's `dns_min_refresh_rate` defaults to 5 s; its cache keeps an answer
 * for its TTL).
 */
const MIN_TTL_SECONDS = 1;
export const MAX_TTL_SECONDS = 300;
/** "No such name / no data" is kept this long only (RFC 2308 allows the SOA minimum; c-ares does not expose it). */
const NEGATIVE_TTL_SECONDS = 1;

interface Entry {
  readonly addresses: readonly string[];
  readonly expiresAt: number;
}

function clampTtl(ttlSeconds: number): number {
  if (!Number.isFinite(ttlSeconds)) return MIN_TTL_SECONDS;
  return Math.min(MAX_TTL_SECONDS, Math.max(MIN_TTL_SECONDS, ttlSeconds));
}

/**
 * Wraps a per-family query with a cache. Failures (timeouts, SERVFAIL, refused) are never cached; concurrent lookups
 * of the same (name, family) share one query. The answer returned is always a whole, unexpired answer: callers still
 * resolve once per connection/request and check every address, the cache only saves the repeated query.
 */
export class DnsCache {
  readonly #query: FamilyQuery;
  readonly #now: () => number;
  readonly #max: number;
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<readonly string[]>>();

  constructor(query: FamilyQuery, options: DnsCacheOptions = {}) {
    this.#query = query;
    this.#now = options.now ?? (() => performance.now());
    this.#max = options.maxEntries ?? 10_000;
  }

  /** The addresses of one family, from the cache while the answer's TTL lasts, else from one shared query. */
  lookup(host: string, family: 4 | 6): Promise<readonly string[]> {
    const key = `${family}${host.toLowerCase()}`;
    const hit = this.#entries.get(key);
    if (hit !== undefined) {
      if (hit.expiresAt > this.#now()) return Promise.resolve(hit.addresses);
      this.#entries.delete(key);
    }
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) return pending;
    const p = this.#query(host, family).then(
      (answer) => {
        this.#inFlight.delete(key);
        const ttl = answer.addresses.length === 0 ? NEGATIVE_TTL_SECONDS : clampTtl(answer.ttlSeconds);
        this.#store(key, { addresses: answer.addresses, expiresAt: this.#now() + ttl * 1000 });
        return answer.addresses;
      },
      (err: unknown) => {
        this.#inFlight.delete(key);
        throw err;
      },
    );
    this.#inFlight.set(key, p);
    return p;
  }

  /** Cached (name, family) pairs, expired ones included until they are next looked up or pushed out. */
  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
  }

  #store(key: string, entry: Entry): void {
    this.#entries.delete(key);
    while (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, entry);
  }
}
