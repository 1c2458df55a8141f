import assert from 'node:assert/strict';
import { get, request, type IncomingMessage } from 'node:http';
import { after, test } from 'node:test';
import { newInstanceId, publish } from '../events/diagnostics.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import type { ObservedFlow } from '../learn/observed-flow.ts';
import { startAdminServer, type AdminServer } from './admin-server.ts';
import { startFlowFeed } from './flow-feed.ts';
import { FlowHub } from './flow-hub.ts';
import { UI_CSP, uiRoutes } from './ui-routes.ts';

const hub = new FlowHub({ minIntervalMs: 20, maxWatchers: 2 });
let admin: AdminServer;
const closers: (() => unknown)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

async function server(): Promise<string> {
  if (!admin) {
    admin = await startAdminServer(
      {
        ui: uiRoutes(hub),
        metrics: async () => ({ contentType: 'text/plain', text: '' }),
        configDump: async () => null,
        ready: () => ({ ready: true, why: 'ok' }),
      },
      '127.0.0.1',
      0,
    );
    closers.push(
      () => admin.close(),
      () => hub.close(),
    );
  }
  return `127.0.0.1:${admin.address.port}`;
}

const flow = (source: string, decision: ObservedFlow['decision']): ObservedFlow => ({
  t: Date.now(),
  kind: 'tunnel',
  counted: true,
  source,
  gateway: 'istio-system/g',
  serviceEntry: 'ns/se',
  host: 'httpbin.org',
  authority: 'httpbin.org:443',
  port: 443,
  upstream: null,
  sni: null,
  decision,
  code: decision === 'deny' ? 'PCL_AUTHZ_DENIED_EXPLICIT' : 'PCL_AUTHZ_ALLOWED_BY_POLICY',
  reason: '',
  layers: [],
  bytesIn: 0,
  bytesOut: 0,
});

/** Open an event stream and collect its `flows` events. */
function stream(
  at: string,
  query = '',
): Promise<{
  res: IncomingMessage;
  events: unknown[];
  next(n: number): Promise<unknown[]>;
  raw(): string;
  ended: Promise<void>;
}> {
  return new Promise((resolve, reject) => {
    get(`http://${at}/flows/events${query}`, { agent: false }, (res) => {
      let buf = '';
      const events: unknown[] = [];
      const waiters: (() => void)[] = [];
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (/^event: flows$/m.test(block) && data) events.push(JSON.parse(data));
          for (const w of waiters.splice(0)) w();
        }
      });
      let all = '';
      res.on('data', (d: string) => (all += d));
      const ended = new Promise<void>((r) => res.once('end', () => r()));
      resolve({
        res,
        events,
        raw: () => all,
        ended,
        next: (n) =>
          new Promise((ok, fail) => {
            const deadline = setTimeout(() => fail(new Error(`only ${events.length} events`)), 10_000);
            const check = (): void => {
              if (events.length >= n) {
                clearTimeout(deadline);
                ok(events);
              } else waiters.push(check);
            };
            check();
          }),
      });
    }).on('error', reject);
  });
}

test('flow hub: a browser gets the view at once, then an update only when something changed, filtered as it asked', async () => {
  const at = await server();
  const all = await stream(at);
  const denied = await stream(at, '?decision=deny');
  closers.push(
    () => all.res.destroy(),
    () => denied.res.destroy(),
  );
  assert.equal(all.res.headers['content-type'], 'text/event-stream');
  assert.equal(all.res.headers['content-security-policy'], UI_CSP);
  await all.next(1);
  hub.addFlows([flow('spiffe://cluster.local/ns/a/sa/x', 'allow'), flow('spiffe://cluster.local/ns/b/sa/y', 'deny')]);
  const events = (await all.next(2)) as { view: { totals: { decisions: number }; rows: unknown[] } }[];
  assert.equal(events[1].view.totals.decisions, 2);
  const d = (await denied.next(2)) as { view: { rows: { source: string }[] } }[];
  assert.deepEqual(
    d[1].view.rows.map((r) => r.source),
    ['spiffe://cluster.local/ns/b/sa/y'],
  );
  // Nothing changed: no further event within several intervals.
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(all.events.length, 2);
  // A third browser is one too many.
  const third = await stream(at);
  assert.equal(third.res.statusCode, 503);
  await third.ended;
  assert.match(third.raw(), /2 browsers are watching already/);
});

test('flow routes: strict headers on the page, GET and HEAD only, other hosts refused', async () => {
  const at = await server();
  const call = (method: string, path: string, host?: string) =>
    new Promise<{ status: number; headers: IncomingMessage['headers']; body: string }>((resolve, reject) => {
      const [h, p] = at.split(':');
      const req = request({ host: h, port: Number(p), path, method, headers: host ? { host } : {} }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
  const page = await call('GET', '/');
  assert.equal(page.status, 200);
  assert.equal(page.headers['content-security-policy'], UI_CSP);
  assert.equal(page.headers['x-frame-options'], 'DENY');
  assert.match(page.body, /<script src="\/ui\/app\.js" defer><\/script>/);
  assert.doesNotMatch(
    page.body,
    /<script>|\sstyle=|\son[a-z]+=/,
    'no inline script, style or handler the CSP would have to allow',
  );
  assert.equal((await call('GET', '/ui/app.js')).headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal((await call('POST', '/flows')).status, 405);
  assert.equal((await call('GET', '/flows', 'evil.example')).status, 403);
  assert.equal((await call('GET', '/flows', 'localhost:15000')).status, 200);
  assert.equal((await call('GET', '/metrics')).status, 200, 'the admin endpoints are still served');
  const edges = JSON.parse((await call('GET', '/flows/edges')).body) as { edges: unknown[] };
  assert.ok(Array.isArray(edges.edges));
});

test('flow feed: a gateway instance’s events reach the hub in batches, with its status', async () => {
  const instance = newInstanceId();
  const local = new FlowHub({ minIntervalMs: 10_000 });
  const snap = {
    generation: 7,
    diagnostics: [
      {
        code: 'PCL_SCHEMA_UNKNOWN_FIELD',
        severity: 'error',
        file: 'a.yaml',
        line: 3,
        column: 1,
        message: 'unknown field',
      },
    ],
    settings: { learn: true },
    servedGateways: () => [{ ref: 'istio-system/g' }],
  } as unknown as Snapshot;
  const stop = startFlowFeed({ instance, snapshot: () => snap, startedMs: 1, sink: local.sink('w1'), intervalMs: 10 });
  closers.push(() => local.close());
  const base = {
    instance,
    tunnelId: 1,
    sessionId: 1,
    startMs: Date.now(),
    sourcePrincipal: 'spiffe://cluster.local/ns/a/sa/x',
    sourceAddress: '127.0.0.1',
    sourcePort: 1,
    authority: 'httpbin.org:443',
    gateway: 'istio-system/g',
    serviceEntry: 'a/httpbin',
    serviceEntryNamespace: 'a',
    host: 'httpbin.org',
    port: 443,
  };
  publish.tunnelDecided({
    ...base,
    decision: 'deny',
    code: 'PCL_AUTHZ_DENIED_CUSTOM_UNSUPPORTED',
    reason: 'custom',
    layers: [
      {
        layer: 'gateway',
        target: 'Gateway g',
        decision: 'deny',
        code: 'PCL_AUTHZ_DENIED_CUSTOM_UNSUPPORTED',
        policy: 'x/y',
        reason: 'custom',
      },
    ],
  });
  publish.tunnelDecided({
    ...base,
    instance: instance + 1000,
    decision: 'allow',
    code: 'PCL_AUTHZ_ALLOWED_BY_POLICY',
    reason: '',
    layers: [],
  });
  publish.problem({ instance, code: 'PCL_DATAPLANE_CONFIG_RELOAD_FAILED', message: 'bad yaml' });
  stop();
  assert.equal(local.map.decisions, 1, 'only this instance’s events');
  const s = local.status()!;
  assert.equal(s.generation, 7);
  assert.equal(s.learn, true);
  assert.equal(s.configErrorCount, 1);
  assert.match(s.configErrors[0].where, /^a\.yaml:3:1/);
  assert.deepEqual(s.failClosed, ['PCL_AUTHZ_DENIED_CUSTOM_UNSUPPORTED: gateway Gateway g']);
  assert.equal(s.problems[0].message, 'bad yaml');
});
