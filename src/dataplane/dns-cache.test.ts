/** The DNS answer cache: TTL honoured and clamped, brief negative answers, failures uncached, one shared query. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DnsCache, MAX_TTL_SECONDS, type FamilyAnswer } from './dns-cache.ts';
import { createDnsResolver } from './resolver.ts';
import { startDnsServer } from '../devtools/dns-server.ts';

/** A fake upstream DNS: answers from a table, counts queries, and can be held to test sharing. */
function fakeDns(table: Record<string, FamilyAnswer | Error>) {
  const calls: string[] = [];
  let gate: Promise<void> | null = null;
  const query = async (host: string, family: 4 | 6): Promise<FamilyAnswer> => {
    calls.push(`${host}/${family}`);
    if (gate) await gate;
    const a = table[`${host}/${family}`] ?? { addresses: [], ttlSeconds: 0 };
    if (a instanceof Error) throw a;
    return a;
  };
  return { calls, query, hold: (p: Promise<void> | null) => (gate = p) };
}

test('an answer is reused within its TTL and queried again once it expires', async () => {
  let now = 0;
  const dns = fakeDns({ 'a.example/4': { addresses: ['203.0.113.1'], ttlSeconds: 30 } });
  const cache = new DnsCache(dns.query, { now: () => now });
  assert.deepEqual(await cache.lookup('a.example', 4), ['203.0.113.1']);
  now = 29_999;
  assert.deepEqual(await cache.lookup('A.EXAMPLE', 4), ['203.0.113.1']);
  assert.equal(dns.calls.length, 1);
  now = 30_000;
  await cache.lookup('a.example', 4);
  assert.equal(dns.calls.length, 2);
});

test('TTLs are clamped to [1 s, 300 s]', async () => {
  let now = 0;
  const dns = fakeDns({
    'zero.example/4': { addresses: ['203.0.113.2'], ttlSeconds: 0 },
    'long.example/4': { addresses: ['203.0.113.3'], ttlSeconds: 86_400 },
  });
  const cache = new DnsCache(dns.query, { now: () => now });
  await cache.lookup('zero.example', 4);
  await cache.lookup('long.example', 4);
  now = 999;
  await cache.lookup('zero.example', 4);
  assert.equal(dns.calls.length, 2, 'a TTL of 0 is still kept for 1 s');
  now = 1000;
  await cache.lookup('zero.example', 4);
  assert.equal(dns.calls.length, 3);
  now = MAX_TTL_SECONDS * 1000;
  await cache.lookup('long.example', 4);
  assert.equal(dns.calls.length, 4, 'a day-long TTL is cut to 300 s');
});

test('no data is kept briefly; failures are never kept', async () => {
  let now = 0;
  const dns = fakeDns({ 'broken.example/4': new Error('SERVFAIL') });
  const cache = new DnsCache(dns.query, { now: () => now });
  assert.deepEqual(await cache.lookup('nodata.example', 6), []);
  assert.deepEqual(await cache.lookup('nodata.example', 6), []);
  assert.equal(dns.calls.length, 1);
  now = 1000;
  await cache.lookup('nodata.example', 6);
  assert.equal(dns.calls.length, 2);
  await assert.rejects(cache.lookup('broken.example', 4), /SERVFAIL/);
  await assert.rejects(cache.lookup('broken.example', 4), /SERVFAIL/);
  assert.equal(dns.calls.filter((c) => c === 'broken.example/4').length, 2);
});

test('concurrent lookups of one name share a single query, success or failure', async () => {
  const dns = fakeDns({
    'a.example/4': { addresses: ['203.0.113.1'], ttlSeconds: 30 },
    'bad.example/4': new Error('timeout'),
  });
  const cache = new DnsCache(dns.query, { now: () => 0 });
  let release!: () => void;
  dns.hold(new Promise<void>((r) => (release = r)));
  const many = Array.from({ length: 5 }, () => cache.lookup('a.example', 4));
  const bad = Array.from({ length: 3 }, () => cache.lookup('bad.example', 4).catch((e: Error) => e.message));
  release();
  for (const r of await Promise.all(many)) assert.deepEqual(r, ['203.0.113.1']);
  assert.deepEqual(await Promise.all(bad), ['timeout', 'timeout', 'timeout']);
  assert.deepEqual(dns.calls, ['a.example/4', 'bad.example/4']);
});

test('the cache is bounded: the oldest name is dropped first', async () => {
  const dns = fakeDns({});
  const cache = new DnsCache(dns.query, { now: () => 0, maxEntries: 2 });
  await cache.lookup('one.example', 4);
  await cache.lookup('two.example', 4);
  await cache.lookup('three.example', 4);
  assert.equal(cache.size, 2);
  await cache.lookup('one.example', 4);
  assert.equal(dns.calls.filter((c) => c === 'one.example/4').length, 2);
});

test('the c-ares resolver reads the TTL from real answers and serves them from the cache', async (t) => {
  const server = await startDnsServer({ 'up.example': ['198.51.100.7', '2001:db8::7'] });
  let closed = false;
  t.after(() => (closed ? undefined : server.close()));
  const resolver = createDnsResolver({ servers: [`127.0.0.1:${server.address.port}`], timeoutMs: 500, tries: 1 });
  const uncached = createDnsResolver({
    servers: [`127.0.0.1:${server.address.port}`],
    timeoutMs: 500,
    tries: 1,
    cache: false,
  });
  assert.deepEqual(await resolver.resolve('up.example'), ['198.51.100.7', '2001:db8::7']);
  assert.deepEqual(await uncached.resolve('up.example'), ['198.51.100.7', '2001:db8::7']);
  await server.close();
  closed = true;
  // The stand-in answers with a 30 s TTL: the cached resolver still answers, the uncached one cannot.
  assert.deepEqual(await resolver.resolve('up.example'), ['198.51.100.7', '2001:db8::7']);
  await assert.rejects(uncached.resolve('up.example'));
});
