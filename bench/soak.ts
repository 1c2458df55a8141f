/**
 * The soak: a `portcullis serve` child carrying N concurrent L4 tunnels with churn (each tunnel opens, moves bytes
 * at a steady pace, closes gracefully after its lifetime and is replaced), plus L7 keep-alive requests from two
 * identities through the seed-002 waypoint; the gateways' RSS, open descriptors (/proc/<pid>/fd) and event-loop
 * delay (their /metrics, perf_hooks monitorEventLoopDelay) are read after a warm-up and at the end. Full size is
 * what an operator would run before a release (10,000 tunnels for 10 minutes); `npm test` runs a toy size.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HboneClient, type HboneTunnel } from '../src/hbone/client.ts';
import { GATEWAY_SAN, rssBytes, startEcho, startServe, writeL4Config, type BenchPki, type ServeChild } from './env.ts';
import { APPS, HttpConn, startL7Env, WAYPOINT_SAN } from './l7.ts';
import { sleep } from './stats.ts';

export interface SoakOptions {
  /** Concurrent L4 tunnels. */
  readonly tunnels: number;
  readonly seconds: number;
  /** Tunnels closed and replaced per second, in total. */
  readonly churnPerSecond: number;
  /** Each tunnel sends this many bytes and reads them back every `exchangeMs`. */
  readonly bytesPerExchange: number;
  readonly exchangeMs: number;
  /** L7 keep-alive tunnels per identity (app1, app2), one request each per `l7IntervalMs`. */
  readonly l7PerIdentity: number;
  readonly l7IntervalMs: number;
  /** Settling time before the first reading. */
  readonly warmupSeconds: number;
}

export const FULL_SOAK: SoakOptions = {
  tunnels: 10_000,
  seconds: 600,
  churnPerSecond: 200,
  bytesPerExchange: 1024,
  exchangeMs: 5000,
  l7PerIdentity: 8,
  l7IntervalMs: 20,
  warmupSeconds: 20,
};

export const TOY_SOAK: SoakOptions = {
  tunnels: 60,
  seconds: 4,
  churnPerSecond: 30,
  bytesPerExchange: 256,
  exchangeMs: 200,
  l7PerIdentity: 1,
  l7IntervalMs: 50,
  warmupSeconds: 1,
};

/** One reading of a gateway process. */
export interface ProcessSample {
  readonly rssMiB: number;
  readonly fds: number;
  /** Event-loop delay since the previous reading (the gateway's /metrics resets it on each scrape). */
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  /** `portcullis_open_tunnels` summed over its labels. */
  readonly openTunnels: number;
  /** `portcullis_hbone_connections{state="handshake"}`. */
  readonly pendingHandshakes: number;
}

export interface SoakResult {
  readonly options: SoakOptions;
  readonly opened: number;
  readonly closed: number;
  readonly exchanges: number;
  readonly l7Requests: number;
  /** L7 answers that carried the other identity's client certificate subject (must be 0). */
  readonly l7WrongSubject: number;
  readonly errors: number;
  readonly firstError: string | null;
  readonly gateway: { readonly start: ProcessSample; readonly end: ProcessSample };
  /** Null with the reason when the L7 part could not run (port 443 on loopback needs root). */
  readonly waypoint: { readonly start: ProcessSample; readonly end: ProcessSample } | string;
}

function metricSum(text: string, name: string, labelFilter = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    if (labelFilter !== '' && !line.includes(labelFilter)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function sample(gw: ServeChild): Promise<ProcessSample> {
  const admin = /admin on (127\.0\.0\.1:\d+)/.exec(gw.output())?.[1];
  const text = admin === undefined ? '' : await (await fetch(`http://${admin}/metrics`)).text();
  const ms = (quantile: string): number =>
    metricSum(text, 'portcullis_event_loop_delay_seconds', `quantile="${quantile}"`) * 1000;
  return {
    rssMiB: rssBytes(gw.pid) / 2 ** 20,
    fds: readdirSync(`/proc/${gw.pid}/fd`).length,
    loopDelayP99Ms: ms('0.99'),
    loopDelayMaxMs: ms('max'),
    openTunnels: metricSum(text, 'portcullis_open_tunnels'),
    pendingHandshakes: metricSum(text, 'portcullis_hbone_connections', 'state="handshake"'),
  };
}

/** Reset the gateway's event-loop histogram so the next reading covers only what follows. */
async function resetLoopDelay(gw: ServeChild): Promise<void> {
  await sample(gw);
}

export async function runSoak(
  pki: BenchPki,
  opts: SoakOptions,
  log: (line: string) => void = () => {},
): Promise<SoakResult> {
  const echo = await startEcho('echo');
  const host = 'soak.bench.internal';
  const configDir = writeL4Config(join(pki.dir, 'soak'), [{ name: 'soak', host, port: echo.port }]);
  const gateway = await startServe(configDir, pki.caDir, join(pki.dir, 'access-soak.log'));
  const l7 = await startL7Env(pki);
  const client = new HboneClient({
    certificates: pki.client,
    gateway: gateway.hbone,
    expectedSans: [GATEWAY_SAN],
    keepaliveIntervalMs: 0,
  });
  const l7Clients =
    typeof l7 === 'string'
      ? []
      : l7.workloadCerts.map(
          (c) =>
            new HboneClient({
              certificates: c,
              gateway: l7.gateway.hbone,
              expectedSans: [WAYPOINT_SAN],
              keepaliveIntervalMs: 0,
            }),
        );
  const n = { opened: 0, closed: 0, exchanges: 0, l7Requests: 0, l7Wrong: 0, errors: 0 };
  let firstError: string | null = null;
  const fail = (err: unknown): void => {
    n.errors++;
    firstError ??= err instanceof Error ? err.message : String(err);
  };
  const authority = `${host}:${echo.port}`;
  const payload = Buffer.alloc(opts.bytesPerExchange, 0x61);
  const lifetimeMs = (opts.tunnels / opts.churnPerSecond) * 1000;
  let stopping = false;

  /** Write the payload and read the same number of bytes back. */
  const exchange = (t: HboneTunnel): Promise<void> =>
    new Promise((resolve, reject) => {
      let got = 0;
      const onData = (d: Buffer): void => {
        got += d.length;
        if (got >= payload.length) done(null);
      };
      const onClose = (): void => done(new Error('tunnel closed during an exchange'));
      const done = (err: Error | null): void => {
        t.stream.off('data', onData);
        t.stream.off('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      t.stream.on('data', onData);
      t.stream.once('close', onClose);
      t.stream.write(payload);
    });

  /** One slot: open, exchange at a steady pace, close after a lifetime spread around the mean, repeat. */
  const slot = async (index: number): Promise<void> => {
    // Spread the first lifetimes so churn is steady from the start instead of arriving in waves.
    let first = true;
    while (!stopping) {
      let t: HboneTunnel;
      try {
        t = await client.connect(authority, { forwarded: false });
        n.opened++;
      } catch (err) {
        fail(err);
        await sleep(100);
        continue;
      }
      const life = first ? ((index + 1) / opts.tunnels) * lifetimeMs : lifetimeMs * (0.5 + Math.random());
      first = false;
      const until = performance.now() + life;
      try {
        while (!stopping && performance.now() < until) {
          await exchange(t);
          n.exchanges++;
          await sleep(Math.min(opts.exchangeMs, Math.max(0, until - performance.now())));
        }
        await new Promise<void>((resolve) => {
          t.stream.once('close', () => resolve());
          t.stream.resume();
          t.stream.end();
        });
        n.closed++;
      } catch (err) {
        fail(err);
        t.stream.destroy();
      }
    }
  };

  const l7Loop = async (c: HboneClient, subject: string): Promise<void> => {
    if (typeof l7 === 'string') return;
    let conn: HttpConn | null = null;
    while (!stopping) {
      try {
        conn ??= new HttpConn((await c.connect('my-nginx.foo.bar:80')).stream);
        const body = await conn.get();
        n.l7Requests++;
        if (!body.includes(subject)) n.l7Wrong++;
      } catch (err) {
        fail(err);
        conn?.close();
        conn = null;
      }
      await sleep(opts.l7IntervalMs);
    }
    conn?.close();
  };

  try {
    log(
      `soak: opening ${opts.tunnels} tunnels (churn ${opts.churnPerSecond}/s) and ${opts.l7PerIdentity * APPS.length} L7 keep-alive tunnels`,
    );
    const work: Promise<void>[] = [];
    for (let i = 0; i < opts.tunnels; i++) work.push(slot(i));
    for (let i = 0; i < opts.l7PerIdentity; i++) {
      l7Clients.forEach((c, a) => work.push(l7Loop(c, `CN=team-namespace.${APPS[a]}`)));
    }
    await sleep(opts.warmupSeconds * 1000);
    await resetLoopDelay(gateway);
    if (typeof l7 !== 'string') await resetLoopDelay(l7.gateway);
    await sleep(Math.min(5000, opts.seconds * 250));
    const gwStart = await sample(gateway);
    const wpStart = typeof l7 === 'string' ? null : await sample(l7.gateway);
    const endAt = performance.now() + opts.seconds * 1000;
    while (performance.now() < endAt) {
      await sleep(Math.min(30_000, endAt - performance.now()));
      log(
        `soak: ${Math.round((endAt - performance.now()) / 1000)} s left; ${n.opened} opened, ${n.closed} closed, ${n.exchanges} exchanges, ${n.l7Requests} L7 requests, ${n.errors} errors`,
      );
    }
    await resetLoopDelay(gateway);
    if (typeof l7 !== 'string') await resetLoopDelay(l7.gateway);
    await sleep(Math.min(5000, opts.seconds * 250));
    const gwEnd = await sample(gateway);
    const wpEnd = typeof l7 === 'string' ? null : await sample(l7.gateway);
    stopping = true;
    await Promise.all(work);
    return {
      options: opts,
      opened: n.opened,
      closed: n.closed,
      exchanges: n.exchanges,
      l7Requests: n.l7Requests,
      l7WrongSubject: n.l7Wrong,
      errors: n.errors,
      firstError,
      gateway: { start: gwStart, end: gwEnd },
      waypoint: wpStart === null || wpEnd === null ? (l7 as string) : { start: wpStart, end: wpEnd },
    };
  } finally {
    stopping = true;
    client.destroy();
    for (const c of l7Clients) c.destroy();
    await gateway.stop();
    if (typeof l7 !== 'string') await l7.stop();
    await echo.stop();
  }
}
