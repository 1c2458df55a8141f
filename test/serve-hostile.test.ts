/**
 * Hostile input at the data-plane level, on a gateway started in-process with `startGateway` on seed 000 plus one
 * test ServiceEntry: SNI fronting through an allowed VIP, a name that resolves to the cloud metadata address, and a
 * policy change that closes an open tunnel. dnsmasq is the DNS server; certificates come from the project's CA.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startGateway, type RunningGateway } from '../src/gateway/gateway.ts';
import { configFrom, EXAMPLES } from './support/cli.ts';
import { hasDnsmasq } from './support/dnsmasq.ts';
import { makeTestPki } from './support/pki.ts';
import { caller, httpGet, tlsOver } from './support/hbone-caller.ts';
import { waitForLogLine } from './support/log-file.ts';
import { GATEWAY_ID, SEED_SETTINGS, startSeedEnv, type SeedEnv } from './support/seed-env.ts';

const SKIP = hasDnsmasq() ? false : 'dnsmasq not installed: apt-get install dnsmasq';

// A ServiceEntry whose name resolves to the cloud metadata address (a DNS answer an attacker controls can do this).
const METADATA_TRAP = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: metadata-trap
  namespace: bookinfo
  labels:
    istio.io/use-waypoint: ztunnel-egress
    istio.io/use-waypoint-namespace: istio-system
spec:
  hosts: [metadata.attacker.example]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
`;

let env: SeedEnv;
let gw: RunningGateway;
let configDir: string;
let logFile: string;
const cleanups: (() => unknown)[] = [];

before(async () => {
  if (SKIP) return;
  env = await startSeedEnv({ 'metadata.attacker.example': '169.254.169.254' });
  cleanups.push(() => env.close());
  const cfg = configFrom('seed-000', { extra: { 'portcullis.yaml': SEED_SETTINGS, 'serviceentry.yaml': env.serviceEntry(), 'metadata-trap.yaml': METADATA_TRAP } });
  cleanups.push(cfg.cleanup);
  configDir = cfg.dir;
  const logDir = mkdtempSync(join(tmpdir(), 'portcullis-log-'));
  cleanups.push(() => rmSync(logDir, { recursive: true, force: true }));
  logFile = join(logDir, 'access.log');
  gw = await startGateway({
    configDir,
    certFiles: await env.pki.servingFiles(GATEWAY_ID),
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    dnsServers: [env.dns.server],
    log: logFile,
    drainMs: 0,
    configDebounceMs: 20,
  });
  cleanups.push(() => gw.close());
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function productpage() {
  const c = caller(await env.pki.workload('bookinfo', 'bookinfo-productpage'), { host: '127.0.0.1', port: gw.hbonePort }, GATEWAY_ID);
  cleanups.push(() => c.close());
  return c;
}

function httpbinVip(): string {
  const se = [...gw.snapshot().serviceEntries.values()].find((s) => s.name === 'httpbin-org')!;
  return se.vips.find((v) => !v.value.includes(':'))!.value;
}

test('the VIP with the right SNI gets through; the same VIP with SNI evil.example is cut off', { skip: SKIP, timeout: 60_000 }, async () => {
  const pp = await productpage();
  const vip = httpbinVip();
  const good = await pp.connect(`${vip}:443`);
  assert.ok(good.ok, good.ok ? '' : `${good.status} ${good.reason}`);
  const sock = await tlsOver(good.tunnel, 'httpbin.org', env.pki.ca.rootCertPem);
  assert.equal((await httpGet(sock, 'httpbin.org', '/get')).status, 200);
  good.tunnel.stream.end();

  const fronted = await pp.connect(`${vip}:443`);
  assert.ok(fronted.ok, 'the CONNECT itself is allowed; the SNI is checked on the bytes that follow');
  await assert.rejects(tlsOver(fronted.tunnel, 'evil.example', env.pki.ca.rootCertPem));
  const line = await waitForLogLine(logFile, (l) => l.code === 'PCL_DATAPLANE_SNI_MISMATCH', 'the SNI mismatch');
  assert.equal(line.decision, 'deny');
  assert.equal(line.sni, 'evil.example');
  assert.equal(line.authority, `${vip}:443`);
  assert.equal(line.response_flags, 'NR');
  assert.ok(!env.upstream.servernames.includes('evil.example'), 'the upstream never saw the fronted handshake');
});

test('a name that resolves to 169.254.169.254 is refused by the private-address guard', { skip: SKIP, timeout: 60_000 }, async () => {
  const pp = await productpage();
  const r = await pp.connect('metadata.attacker.example:80');
  assert.ok(!r.ok);
  assert.equal(r.status, 401);
  assert.match(r.reason, /^PCL_DATAPLANE_PRIVATE_ADDRESS: metadata\.attacker\.example resolves to 169\.254\.169\.254 .*link-local/);
  const line = await waitForLogLine(logFile, (l) => l.authority === 'metadata.attacker.example:80', 'the metadata refusal');
  assert.equal(line.code, 'PCL_DATAPLANE_PRIVATE_ADDRESS');
  assert.equal(line.upstream_address, null);
  // Both policy layers allowed it: the refusal is the guard's alone.
  assert.deepEqual((line.policies as { decision: string }[]).map((l) => l.decision), ['allow', 'allow']);
});

test('a policy change closes an open tunnel that lost its permission and logs it', { skip: SKIP, timeout: 60_000 }, async () => {
  const pp = await productpage();
  const r = await pp.connect('httpbin.org:443');
  assert.ok(r.ok, r.ok ? '' : `${r.status} ${r.reason}`);
  const sock = await tlsOver(r.tunnel, 'httpbin.org', env.pki.ca.rootCertPem);
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  sock.on('error', () => {});
  const before = gw.snapshot().generation;

  // The explicit DENY now names bookinfo: productpage's open tunnel is no longer allowed.
  const file = join(configDir, 'gateway-policies.yaml');
  const text = readFileSync(join(EXAMPLES, 'seed-000', 'gateway-policies.yaml'), 'utf8');
  const changed = text.replace('namespaces: ["default"]', 'namespaces: ["default", "bookinfo"]');
  assert.notEqual(changed, text);
  writeFileSync(file, changed);
  await closed;
  assert.ok(gw.snapshot().generation > before);

  const line = await waitForLogLine(logFile, (l) => l.code === 'PCL_DATAPLANE_POLICY_CHANGED', 'the policy-change close');
  assert.match(line.reason as string, /^connection closed due to policy change \(PCL_AUTHZ_DENIED_EXPLICIT: explicitly denied by: istio-system\/deny-default-egress\)/);
  assert.equal(line.status, 200);
  assert.equal(line.source_principal, 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage');
  assert.equal(gw.openTunnels(), 0);

  // New tunnels are denied too; restoring the file lets them through again.
  const again = await pp.connect('httpbin.org:443');
  assert.ok(!again.ok && again.status === 401);
  writeFileSync(file, text);
  for (let i = 0; i < 200; i++) {
    const retry = await pp.connect('httpbin.org:443');
    if (retry.ok) {
      retry.tunnel.stream.destroy();
      return;
    }
    await new Promise((res) => setTimeout(res, 25));
  }
  assert.fail('the restored policy never let productpage through again');
});

test('a caller with a certificate from another CA is refused at TLS, logged, and everyone else keeps being served', { skip: SKIP, timeout: 60_000 }, async () => {
  const stranger = await makeTestPki();
  cleanups.push(() => stranger.cleanup());
  const c = caller(await stranger.workload('bookinfo', 'bookinfo-productpage'), { host: '127.0.0.1', port: gw.hbonePort }, GATEWAY_ID);
  cleanups.push(() => c.close());
  await assert.rejects(c.connect('httpbin.org:443'));
  const line = await waitForLogLine(logFile, (l) => l.type === 'refusal' && l.code === 'PCL_HBONE_TLS_HANDSHAKE_FAILED', 'the TLS refusal');
  assert.equal(line.stage, 'tls');
  assert.match(line.peer_address as string, /^127\.0\.0\.1:\d+$/);
  const pp = await productpage();
  const ok = await pp.connect('httpbin.org:443');
  assert.ok(ok.ok);
  ok.tunnel.stream.destroy();
});
