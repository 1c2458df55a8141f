/**
 * Seed 000 end to end: `portcullis serve` as a child process on the seed's manifests verbatim, dnsmasq resolving
 * httpbin.org to a local TLS server, HBONE callers holding certificates from the project's CA.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { configFrom, EXAMPLES } from './support/cli.ts';
import { hasDnsmasq, startDnsmasq, type Dnsmasq } from './support/dnsmasq.ts';
import { caller, httpGet, tlsOver } from './support/hbone-caller.ts';
import { makeTestPki, type TestPki } from './support/pki.ts';
import { startServe, type ServeProcess } from './support/serve-process.ts';
import { startTlsUpstream, type TlsUpstream } from './support/tls-upstream.ts';

const GATEWAY_ID = 'spiffe://cluster.local/ns/istio-system/sa/ztunnel-egress';
const PRODUCTPAGE = 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage';
const SKIP = hasDnsmasq() ? false : 'dnsmasq not installed: apt-get install dnsmasq';

// The seed's settings plus the one exception the tests need: the stand-in for httpbin.org lives on loopback.
const SETTINGS = `${readFileSync(join(EXAMPLES, 'seed-000', 'portcullis.yaml'), 'utf8')}\nallowedPrivateCidrs: [127.0.0.0/8]\n`;

let pki: TestPki;
let dns: Dnsmasq;
let upstream: TlsUpstream;
let upstreamIp = '127.0.0.1';
const cleanups: (() => unknown)[] = [];

before(async () => {
  if (SKIP) return;
  pki = await makeTestPki();
  cleanups.push(() => pki.cleanup());
  // The stand-in for httpbin.org listens on 443 of its own loopback address when allowed to (root), so the
  // ServiceEntry is used exactly as the seed writes it; otherwise on a free port reached through targetPort.
  const cert = await pki.server('httpbin.org');
  upstreamIp = `127.0.${2 + Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;
  try {
    upstream = await startTlsUpstream(cert, upstreamIp, 443);
  } catch {
    upstreamIp = '127.0.0.1';
    upstream = await startTlsUpstream(cert, upstreamIp, 0);
  }
  cleanups.push(() => upstream.close());
  dns = await startDnsmasq({ 'httpbin.org': upstreamIp, 'undeclared.example': upstreamIp });
  cleanups.push(() => dns.stop());
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Serve a config folder with the ServiceEntry port pointed at the local upstream (targetPort keeps the seed's 443). */
async function serve(dir: string): Promise<ServeProcess> {
  const logDir = mkdtempSync(join(tmpdir(), 'portcullis-log-'));
  cleanups.push(() => rmSync(logDir, { recursive: true, force: true }));
  const p = await startServe(
    [
      '--config',
      dir,
      ...(await pki.servingFlags(GATEWAY_ID)),
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      '--dns-server',
      dns.server,
      '--drain-seconds',
      '1',
    ],
    join(logDir, 'access.log'),
  );
  cleanups.push(() => p.stop());
  return p;
}

/**
 * The seed's ServiceEntry, verbatim when the stand-in listens on 443; otherwise with a `targetPort` to its free port.
 * `extraPorts` adds ports after the seed's one (the port-80 variant).
 */
function serviceEntry(extraPorts = ''): string {
  const se = readFileSync(join(EXAMPLES, 'seed-000', 'serviceentry.yaml'), 'utf8');
  const target = upstream.port === 443 ? '' : `      targetPort: ${upstream.port}\n`;
  return se.replace('      protocol: TLS\n', `      protocol: TLS\n${target}${extraPorts}`);
}

test('seed 000: productpage gets through, default is denied, an undeclared host is denied; log and metrics show it', {
  skip: SKIP,
  timeout: 60_000,
}, async () => {
  const cfg = configFrom('seed-000', { extra: { 'portcullis.yaml': SETTINGS, 'serviceentry.yaml': serviceEntry() } });
  cleanups.push(cfg.cleanup);
  const gw = await serve(cfg.dir);
  const productpage = caller(await pki.workload('bookinfo', 'bookinfo-productpage'), gw.hbone, GATEWAY_ID);
  const sleepDefault = caller(await pki.workload('default', 'sleep'), gw.hbone, GATEWAY_ID);
  cleanups.push(
    () => productpage.close(),
    () => sleepDefault.close(),
  );

  // bookinfo-productpage: a real TLS handshake with SNI httpbin.org through the tunnel, and GET /get answered.
  const ok = await productpage.connect('httpbin.org:443');
  assert.ok(ok.ok, ok.ok ? '' : `refused ${ok.status}: ${ok.reason}`);
  const tlsSocket = await tlsOver(ok.tunnel, 'httpbin.org', pki.ca.rootCertPem);
  const res = await httpGet(tlsSocket, 'httpbin.org', '/get');
  assert.equal(res.status, 200);
  assert.equal(JSON.parse(res.body).url, 'https://httpbin.org/get');
  assert.ok(upstream.servernames.includes('httpbin.org'));
  // The upstream closed its side after answering; the caller half-closes its own, which ends the tunnel.
  ok.tunnel.stream.end();

  // Namespace default: the explicit DENY on the Gateway layer.
  const denied = await sleepDefault.connect('httpbin.org:443');
  assert.ok(!denied.ok);
  assert.equal(denied.status, 401);
  assert.match(denied.reason, /^PCL_AUTHZ_DENIED_EXPLICIT: explicitly denied by: istio-system\/deny-default-egress/);

  // A host no ServiceEntry declares: egressPolicies (0.0.0.0/0 Deny) decide, and deny.
  const undeclared = await productpage.connect('undeclared.example:443');
  assert.ok(!undeclared.ok);
  assert.equal(undeclared.status, 401);
  assert.match(undeclared.reason, /^PCL_EGRESS_/);

  // The access log has one line per tunnel with the decision, code and per-layer policy.
  const allowLine = await gw.waitForLog(
    (l) => l.type === 'tunnel' && l.source_principal === PRODUCTPAGE && l.authority === 'httpbin.org:443',
    'the allowed tunnel',
  );
  assert.equal(allowLine.decision, 'allow');
  assert.equal(allowLine.service_entry, 'bookinfo/httpbin-org');
  assert.equal(allowLine.status, 200);
  assert.equal(allowLine.sni, 'httpbin.org');
  assert.equal(allowLine.upstream_address, `${upstreamIp}:${upstream.port}`);
  assert.ok((allowLine.bytes_received as number) > 0 && (allowLine.bytes_sent as number) > 0);
  const layers = allowLine.policies as { layer: string; decision: string; policy: string | null }[];
  assert.deepEqual(
    layers.map((l) => [l.layer, l.decision]),
    [
      ['gateway', 'allow'],
      ['serviceentry', 'allow'],
    ],
  );
  const denyLine = await gw.waitForLog(
    (l) => l.type === 'tunnel' && l.source_principal === 'spiffe://cluster.local/ns/default/sa/sleep',
    'the denied tunnel',
  );
  assert.equal(denyLine.decision, 'deny');
  assert.equal(denyLine.code, 'PCL_AUTHZ_DENIED_EXPLICIT');
  assert.equal(denyLine.status, 401);
  assert.equal(denyLine.response_flags, 'UAEX');
  const undeclaredLine = await gw.waitForLog(
    (l) => l.type === 'tunnel' && l.authority === 'undeclared.example:443',
    'the undeclared host',
  );
  assert.equal(undeclaredLine.decision, 'deny');
  assert.equal(undeclaredLine.service_entry, null);

  // /metrics counts each decision by layer and code, with Istio's TCP metrics beside them.
  const metrics = (await gw.admin_get('/metrics')).text;
  assert.match(
    metrics,
    /portcullis_authz_decisions_total\{decision="allow",layer="gateway",code="PCL_AUTHZ_ALLOWED_BY_POLICY"\} [1-9]/,
  );
  assert.match(
    metrics,
    /portcullis_authz_decisions_total\{decision="deny",layer="gateway",code="PCL_AUTHZ_DENIED_EXPLICIT"\} [1-9]/,
  );
  assert.match(
    metrics,
    /portcullis_authz_decisions_total\{decision="deny",layer="egressPolicies",code="PCL_EGRESS_[A-Z_]+"\} [1-9]/,
  );
  assert.match(
    metrics,
    /istio_tcp_connections_opened_total\{[^}]*source_principal="spiffe:\/\/cluster.local\/ns\/bookinfo\/sa\/bookinfo-productpage"[^}]*destination_service="httpbin.org"/,
  );
  assert.match(
    metrics,
    /istio_tcp_connections_closed_total\{[^}]*source_workload_namespace="default"[^}]*response_flags="UAEX"/,
  );
  assert.match(metrics, /istio_tcp_received_bytes_total\{[^}]*destination_service="httpbin.org"[^}]*\} [1-9]/);

  assert.equal(await gw.stop(), 0);
});

test('seed 000: with the ServiceEntry also declaring port 80, port 80 is denied under the https-only policy alone', {
  skip: SKIP,
  timeout: 60_000,
}, async () => {
  // Only the https-only Gateway policy (plus the default-deny) and the seed's ServiceEntry-layer policies.
  const gatewayPolicies = readFileSync(join(EXAMPLES, 'seed-000', 'gateway-policies.yaml'), 'utf8')
    .split(/^---$/m)
    .filter((doc) => doc.includes('name: allow-bookinfo-https-only'))
    .join('\n');
  const cfg = configFrom('seed-000', {
    files: ['gateway.yaml', 'namespace.yaml', 'default-deny.yaml', 'serviceentry-policies.yaml'],
    extra: {
      'portcullis.yaml': SETTINGS,
      'gateway-policies.yaml': gatewayPolicies,
      'serviceentry.yaml': serviceEntry('    - number: 80\n      name: http\n      protocol: HTTP\n'),
    },
  });
  cleanups.push(cfg.cleanup);
  const gw = await serve(cfg.dir);
  const productpage = caller(await pki.workload('bookinfo', 'bookinfo-productpage'), gw.hbone, GATEWAY_ID);
  cleanups.push(() => productpage.close());

  const port80 = await productpage.connect('httpbin.org:80');
  assert.ok(!port80.ok);
  assert.equal(port80.status, 401);
  assert.match(port80.reason, /^PCL_AUTHZ_DENIED_NOT_ALLOWED: allow policies exist, but none allowed/);

  const port443 = await productpage.connect('httpbin.org:443');
  assert.ok(port443.ok, port443.ok ? '' : `${port443.status} ${port443.reason}`);
  port443.tunnel.stream.destroy();

  const line = await gw.waitForLog((l) => l.type === 'tunnel' && l.authority === 'httpbin.org:80', 'port 80');
  assert.equal(line.code, 'PCL_AUTHZ_DENIED_NOT_ALLOWED');
  const gwLayer = (line.policies as { layer: string; decision: string }[]).find((l) => l.layer === 'gateway');
  assert.equal(gwLayer?.decision, 'deny');
  assert.equal(await gw.stop(), 0);
});
