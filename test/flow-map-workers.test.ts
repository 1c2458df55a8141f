/**
 * The flow map with `serve --workers 2`: each worker's decisions reach the primary's admin port over IPC and are
 * counted once, whichever worker the kernel gave each connection to.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { configFrom } from './support/cli.ts';
import { hasDnsmasq, startDnsmasq } from './support/dnsmasq.ts';
import { GATEWAY_ID, PRODUCTPAGE, SLEEP, seedServiceEntry, seedSettings } from './support/flow-traffic.ts';
import { caller, httpGet, tlsOver } from './support/hbone-caller.ts';
import { makeTestPki } from './support/pki.ts';
import { startServe } from './support/serve-process.ts';
import { startTlsUpstream } from './support/tls-upstream.ts';

const SKIP = hasDnsmasq() ? false : 'dnsmasq not installed: apt-get install dnsmasq';
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

interface Edge {
  source: string;
  destination: string;
  allowed: number;
  denied: number;
}

test('flow map: serve --workers 2 aggregates every worker’s decisions on the primary’s admin port', {
  skip: SKIP,
  timeout: 120_000,
}, async () => {
  const pki = await makeTestPki();
  cleanups.push(() => pki.cleanup());
  const upstream = await startTlsUpstream(await pki.server('httpbin.org'), '127.0.0.1', 0);
  cleanups.push(() => upstream.close());
  const dns = await startDnsmasq({ 'httpbin.org': '127.0.0.1' });
  cleanups.push(() => dns.stop());
  const cfg = configFrom('seed-000', {
    files: [
      'gateway.yaml',
      'namespace.yaml',
      'default-deny.yaml',
      'gateway-policies.yaml',
      'serviceentry-policies.yaml',
    ],
    extra: { 'portcullis.yaml': seedSettings(false), 'serviceentry.yaml': seedServiceEntry(upstream.port) },
  });
  cleanups.push(cfg.cleanup);
  const logDir = mkdtempSync(join(tmpdir(), 'portcullis-log-'));
  cleanups.push(() => rmSync(logDir, { recursive: true, force: true }));
  const gw = await startServe(
    [
      '--config',
      cfg.dir,
      ...(await pki.servingFlags('spiffe://cluster.local/ns/istio-system/sa/ztunnel-egress')),
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      '--dns-server',
      dns.server,
      '--drain-seconds',
      '1',
      '--workers',
      '2',
    ],
    join(logDir, 'access.log'),
  );
  cleanups.push(() => gw.stop());

  // A new HBONE session per tunnel, so the kernel spreads them over both workers.
  for (let i = 0; i < 4; i++) {
    const c = caller(await pki.workload('bookinfo', 'bookinfo-productpage'), gw.hbone, GATEWAY_ID);
    const t = await c.connect('httpbin.org:443');
    assert.ok(t.ok, t.ok ? '' : t.reason);
    const res = await httpGet(await tlsOver(t.tunnel, 'httpbin.org', pki.ca.rootCertPem), 'httpbin.org', '/get');
    assert.equal(res.status, 200);
    t.tunnel.stream.end();
    c.close();
  }
  for (let i = 0; i < 2; i++) {
    const c = caller(await pki.workload('default', 'sleep'), gw.hbone, GATEWAY_ID);
    const t = await c.connect('httpbin.org:443');
    assert.ok(!t.ok);
    c.close();
  }

  let edges: Edge[] = [];
  type Status = { gateways: string[]; generation: number } | null;
  let status: Status = null;
  for (let i = 0; i < 200; i++) {
    const snap = JSON.parse((await gw.admin_get('/flows')).text) as {
      status: Status;
      view: { totals: { decisions: number } };
    };
    status = snap.status;
    if (snap.view.totals.decisions >= 6) {
      edges = (JSON.parse((await gw.admin_get('/flows/edges')).text) as { edges: Edge[] }).edges;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const allowed = edges.find((e) => e.source === PRODUCTPAGE && e.destination === 'httpbin.org:443');
  const denied = edges.find((e) => e.source === SLEEP && e.destination === 'httpbin.org:443');
  assert.deepEqual([allowed?.allowed, allowed?.denied], [4, 0], JSON.stringify(edges));
  assert.deepEqual([denied?.allowed, denied?.denied], [0, 2]);
  assert.deepEqual(status?.gateways, ['istio-system/ztunnel-egress']);
  assert.equal(status?.generation, 1);
  const page = await gw.admin_get('/');
  assert.equal(page.status, 200);
  assert.match(page.text, /Portcullis/);
  assert.equal(await gw.stop(), 0);
});
