/** The admin port of `portcullis serve` (a child process on seed 000), and SIGTERM: drain, then exit 0. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { configFrom } from './support/cli.ts';
import { hasDnsmasq } from './support/dnsmasq.ts';
import { caller, tlsOver } from './support/hbone-caller.ts';
import { GATEWAY_ID, SEED_SETTINGS, startSeedEnv, type SeedEnv } from './support/seed-env.ts';
import { startServe, type ServeProcess } from './support/serve-process.ts';

const SKIP = hasDnsmasq() ? false : 'dnsmasq not installed: apt-get install dnsmasq';
let env: SeedEnv;
const cleanups: (() => unknown)[] = [];

before(async () => {
  if (SKIP) return;
  env = await startSeedEnv();
  cleanups.push(() => env.close());
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function serve(drainSeconds: number): Promise<ServeProcess> {
  const cfg = configFrom('seed-000', {
    extra: { 'portcullis.yaml': SEED_SETTINGS, 'serviceentry.yaml': env.serviceEntry() },
  });
  cleanups.push(cfg.cleanup);
  const logDir = mkdtempSync(join(tmpdir(), 'portcullis-log-'));
  cleanups.push(() => rmSync(logDir, { recursive: true, force: true }));
  const p = await startServe(
    [
      '--config',
      cfg.dir,
      ...(await env.pki.servingFlags(GATEWAY_ID)),
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      '--dns-server',
      env.dns.server,
      '--drain-seconds',
      String(drainSeconds),
    ],
    join(logDir, 'access.log'),
  );
  cleanups.push(() => p.stop('SIGKILL'));
  return p;
}

test('admin: /healthz, /ready, /metrics, /config_dump; anything else 404', {
  skip: SKIP,
  timeout: 60_000,
}, async () => {
  const gw = await serve(1);
  assert.deepEqual(await gw.admin_get('/healthz'), { status: 200, text: 'ok\n' });
  const ready = await gw.admin_get('/ready');
  assert.equal(ready.status, 200);
  assert.match(ready.text, /generation 1, 1 gateway\(s\) served/);
  const metrics = await gw.admin_get('/metrics');
  assert.equal(metrics.status, 200);
  assert.match(metrics.text, /# TYPE istio_tcp_connections_opened_total counter/);
  assert.match(metrics.text, /# TYPE portcullis_authz_decisions_total counter/);

  const dump = await gw.admin_get('/config_dump');
  assert.equal(dump.status, 200);
  const cfg = JSON.parse(dump.text);
  assert.equal(cfg.generation, 1);
  assert.equal(cfg.settings.trustDomain, 'cluster.local');
  assert.deepEqual(cfg.settings.allowedPrivateCidrs, ['127.0.0.0/8']);
  const gateway = cfg.gateways.find((g: { ref: string }) => g.ref === 'istio-system/ztunnel-egress');
  assert.equal(gateway.served, true);
  assert.equal(gateway.identity, GATEWAY_ID);
  const se = cfg.serviceEntries.find((s: { ref: string }) => s.ref === 'bookinfo/httpbin-org');
  assert.equal(se.waypoint, 'istio-system/ztunnel-egress');
  assert.ok(se.vips.some((v: { value: string }) => v.value === '240.240.0.1'));
  const deny = cfg.policies.find((p: { ref: string }) => p.ref === 'istio-system/deny-default-egress');
  assert.equal(deny.action, 'DENY');
  assert.deepEqual(deny.attachedTo, ['Gateway/istio-system/ztunnel-egress']);
  assert.ok(deny.conditions.length > 0);

  assert.equal((await gw.admin_get('/stats')).status, 404);
  assert.equal((await gw.admin_get('/')).status, 200, '/ is the flow map');
  const post = await fetch(`http://${gw.admin}/metrics`, { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(await gw.stop(), 0);
});

test('SIGTERM: not ready and no new sessions while an open tunnel drains; exit 0 once it ends', {
  skip: SKIP,
  timeout: 60_000,
}, async () => {
  const gw = await serve(60);
  const productpage = caller(await env.pki.workload('bookinfo', 'bookinfo-productpage'), gw.hbone, GATEWAY_ID);
  cleanups.push(() => productpage.close());
  const r = await productpage.connect('httpbin.org:443');
  assert.ok(r.ok, r.ok ? '' : `${r.status} ${r.reason}`);
  const sock = await tlsOver(r.tunnel, 'httpbin.org', env.pki.ca.rootCertPem);
  sock.on('error', () => {});

  gw.child.kill('SIGTERM');
  let status = 0;
  for (let i = 0; i < 400 && status !== 503; i++) {
    status = (await gw.admin_get('/ready')).status;
    if (status !== 503) await sleep(25);
  }
  assert.equal(status, 503, '/ready answers 503 while draining');
  assert.equal((await gw.admin_get('/healthz')).status, 200, '/healthz stays 200 while the process lives');

  // A new caller cannot open a session: the listener is closed.
  const late = caller(await env.pki.workload('bookinfo', 'bookinfo-productpage'), gw.hbone, GATEWAY_ID);
  cleanups.push(() => late.close());
  await assert.rejects(late.connect('httpbin.org:443'));
  assert.equal(gw.child.exitCode, null, 'still draining while the tunnel is open');

  productpage.close();
  assert.equal(await gw.exited(), 0);
  const line = await gw.waitForLog(
    (l) => l.type === 'tunnel' && l.authority === 'httpbin.org:443',
    'the drained tunnel',
  );
  assert.equal(line.decision, 'allow');
});
