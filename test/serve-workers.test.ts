/**
 * `serve --workers N`: N processes share the HBONE port (SO_REUSEPORT); the primary's admin port aggregates their
 * metrics and readiness, and a worker that dies is replaced.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { configFrom } from './support/cli.ts';
import { hasDnsmasq } from './support/dnsmasq.ts';
import { caller } from './support/hbone-caller.ts';
import { GATEWAY_ID, SEED_SETTINGS, startSeedEnv } from './support/seed-env.ts';
import { startServe } from './support/serve-process.ts';

const SKIP = hasDnsmasq() ? false : 'dnsmasq not installed: apt-get install dnsmasq';

function workerPids(primary: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(primary)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Seed 000 served by `serve --workers 2` as a child process, with dnsmasq resolving `names`; cleaned up after `t`. */
async function startWorkers(t: TestContext, names: Readonly<Record<string, string>> = {}) {
  const env = await startSeedEnv(names);
  t.after(() => env.close());
  const cfg = configFrom('seed-000', {
    extra: { 'portcullis.yaml': SEED_SETTINGS, 'serviceentry.yaml': env.serviceEntry() },
  });
  t.after(cfg.cleanup);
  const logDir = mkdtempSync(join(tmpdir(), 'portcullis-log-'));
  t.after(() => rmSync(logDir, { recursive: true, force: true }));
  const gw = await startServe(
    [
      '--workers',
      '2',
      '--config',
      cfg.dir,
      ...(await env.pki.servingFlags(GATEWAY_ID)),
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      '--dns-server',
      env.dns.server,
    ],
    join(logDir, 'access.log'),
  );
  t.after(() => gw.stop('SIGKILL'));
  return { env, cfg, gw };
}

test('two workers serve one port; metrics add up across them; a killed worker is replaced', {
  skip: SKIP,
  timeout: 60_000,
}, async (t) => {
  const { env, gw } = await startWorkers(t);
  assert.match(gw.stderr(), /2 workers share the HBONE port/);
  assert.equal(workerPids(gw.child.pid!).length, 2);
  assert.match((await gw.admin_get('/ready')).text, /ready: generation 1, 1 gateway\(s\) served, 2 worker\(s\)/);

  // Twenty callers, each on its own session (its own TCP connection), denied by policy: namespace default.
  const denied = await env.pki.workload('default', 'sleep');
  for (let i = 0; i < 20; i++) {
    const c = caller(denied, gw.hbone, GATEWAY_ID);
    const r = await c.connect('httpbin.org:443');
    c.close();
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.status, 401);
  }
  const metrics = (await gw.admin_get('/metrics')).text;
  const m =
    /portcullis_authz_decisions_total\{decision="deny",layer="gateway",code="PCL_AUTHZ_DENIED_EXPLICIT"\} (\d+)/.exec(
      metrics,
    );
  assert.equal(Number(m?.[1]), 20, "the primary sums every worker's counters");
  const dump = JSON.parse((await gw.admin_get('/config_dump')).text);
  assert.equal(dump.generation, 1);

  // Kill one worker: the primary starts a replacement and is ready again with two.
  const [victim] = workerPids(gw.child.pid!);
  process.kill(victim, 'SIGKILL');
  let pids: number[] = [];
  for (let i = 0; i < 200; i++) {
    pids = workerPids(gw.child.pid!);
    if (pids.length === 2 && !pids.includes(victim) && (await gw.admin_get('/ready')).status === 200) break;
    await sleep(50);
  }
  assert.equal(pids.length, 2);
  assert.ok(!pids.includes(victim));
  assert.match(gw.stderr(), /worker \d+ exited \(SIGKILL\); starting a replacement/);
  assert.equal((await gw.admin_get('/ready')).status, 200);
  assert.equal(await gw.stop('SIGTERM'), 0);
});

test("a worker's guard refuses the primary's admin port as a destination, like the gateway's own sockets", {
  skip: SKIP,
  timeout: 60_000,
}, async (t) => {
  const { env, cfg, gw } = await startWorkers(t, { 'admin.trap.example': '127.0.0.1' });
  const adminPort = Number(gw.admin.slice(gw.admin.lastIndexOf(':') + 1));
  // Loopback is allowed by the test settings, so only the own-socket rule can refuse this (the config is live).
  writeFileSync(
    join(cfg.dir, 'admin-trap.yaml'),
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: admin-trap
  namespace: bookinfo
  labels: {istio.io/use-waypoint: ztunnel-egress, istio.io/use-waypoint-namespace: istio-system}
spec:
  hosts: [admin.trap.example]
  ports: [{number: ${adminPort}, name: tcp, protocol: TCP}]
  resolution: DNS
`,
  );
  const pp = caller(await env.pki.workload('bookinfo', 'bookinfo-productpage'), gw.hbone, GATEWAY_ID);
  t.after(() => pp.close());
  let r = await pp.connect(`admin.trap.example:${adminPort}`);
  for (let i = 0; i < 100 && !r.ok && r.status !== 401; i++) {
    await sleep(50); // until every worker has the new ServiceEntry (before that: an unknown destination, also 401)
    r = await pp.connect(`admin.trap.example:${adminPort}`);
  }
  for (let i = 0; i < 100 && !r.ok && !/PRIVATE_ADDRESS/.test(r.reason); i++) {
    await sleep(50);
    r = await pp.connect(`admin.trap.example:${adminPort}`);
  }
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(r.status, 401);
    assert.match(r.reason, /^PCL_DATAPLANE_PRIVATE_ADDRESS: admin\.trap\.example resolves to 127\.0\.0\.1/);
  }
});
