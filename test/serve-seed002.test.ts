/**
 * Seed 002 through the real program: `portcullis serve` as a child process on the seed's manifests verbatim (plus
 * app2's, written by analogy, and the two client-certificate Secrets from the project's CA), dnsmasq resolving
 * my-nginx.foo.bar, and HBONE callers holding app1's and app2's workload certificates. The external mTLS server
 * reports the client certificate's subject and whether the identity header ever reached it.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { loadConfigDir } from '../src/config/load.ts';
import { issueClientCert } from '../src/identity/ca.ts';
import { compileSnapshot } from '../src/mesh/compile.ts';
import { EXAMPLES } from './support/cli.ts';
import { hasDnsmasq, startDnsmasq } from './support/dnsmasq.ts';
import { caller } from './support/hbone-caller.ts';
import { makeTestPki } from './support/pki.ts';
import { startServe } from './support/serve-process.ts';

const SKIP = !hasDnsmasq()
  ? 'dnsmasq not installed: apt-get install dnsmasq'
  : process.getuid?.() !== 0
    ? 'the stand-in for my-nginx.foo.bar must listen on port 443 of a loopback address: run as root (CI does)'
    : false;
const WAYPOINT_ID = 'spiffe://cluster.local/ns/istio-egress/sa/egress-waypoint';
const b64 = (s: string) => Buffer.from(s).toString('base64');

/** Sequential HTTP/1.1 keep-alive requests on one duplex: send one, read its response (Content-Length framed). */
function keepAliveClient(stream: Duplex) {
  let buffered = Buffer.alloc(0);
  let waiting: (() => void) | null = null;
  stream.on('data', (d: Buffer) => {
    buffered = Buffer.concat([buffered, d]);
    waiting?.();
  });
  const more = () => new Promise<void>((resolve) => (waiting = resolve));
  return async (
    path: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; headers: string; body: string }> => {
    const extra = Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    stream.write(Buffer.from(`GET ${path} HTTP/1.1\r\nHost: my-nginx.foo.bar\r\n${extra}\r\n`));
    for (;;) {
      const end = buffered.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = buffered.subarray(0, end).toString();
        const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length >= end + 4 + length) {
          const body = buffered.subarray(end + 4, end + 4 + length).toString();
          buffered = buffered.subarray(end + 4 + length);
          return { status: Number(head.slice(9, 12)), headers: head, body };
        }
      }
      await more();
    }
  };
}

test('seed 002 through portcullis serve: app1 and app2 get their own external identities, interleaved on keep-alive', {
  skip: SKIP,
  timeout: 90_000,
}, async (t) => {
  const pki = await makeTestPki();
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-seed002-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  t.after(() => pki.cleanup());

  // The external server: mTLS against the mesh CA, answers the client certificate's subject and the headers it saw.
  const ip = `127.0.${2 + Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;
  const serverCert = await pki.server('my-nginx.foo.bar');
  const seen: string[] = [];
  const server: Server = createServer(
    {
      cert: serverCert.certChainPem,
      key: serverCert.keyPem,
      ca: pki.ca.rootCertPem,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      seen.push(...Object.keys(req.headers));
      const raw = (req.socket as TLSSocket).getPeerCertificate().raw;
      const body = JSON.stringify({ subject: new X509Certificate(raw).subject });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    },
  );
  await new Promise<void>((resolve) => server.listen(443, ip, resolve));
  t.after(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
  const dns = await startDnsmasq({ 'my-nginx.foo.bar': ip });
  t.after(() => dns.stop());

  // Config: the seed's files verbatim, app2 by analogy, the Secrets, and the loopback exception.
  const config = join(dir, 'config');
  cpSync(join(EXAMPLES, 'seed-002'), config, { recursive: true });
  cpSync(join(EXAMPLES, 'quickstart', 'seed002-app2.yaml'), join(config, 'app2.yaml'));
  const secrets: string[] = [];
  for (const app of ['app1', 'app2']) {
    const c = await issueClientCert(pki.ca, { subject: `CN=team-namespace.${app}`, ttl: 3_600_000 });
    secrets.push(
      `apiVersion: v1\nkind: Secret\nmetadata: {name: ${app}-client-mtls-secret, namespace: team-namespace}\ntype: kubernetes.io/tls\n` +
        `data:\n  tls.crt: ${b64(c.certChainPem)}\n  tls.key: ${b64(c.keyPem)}\n  ca.crt: ${b64(c.rootCertPem)}\n`,
    );
  }
  writeFileSync(join(config, 'secrets.yaml'), secrets.join('---\n'));
  writeFileSync(
    join(config, 'portcullis.yaml'),
    readFileSync(join(config, 'portcullis.yaml'), 'utf8') + '\nallowedPrivateCidrs: [127.0.0.0/8]\n',
  );
  assert.ok(readdirSync(config).includes('envoyfilter.yaml'), 'the seed EnvoyFilter is part of the config, verbatim');

  // ztunnel would dial the ServiceEntry's VIP: take it from the same compile the gateway does.
  const snap = compileSnapshot(await loadConfigDir(config, { env: {} }));
  const vip = snap.serviceEntries.get('ServiceEntry/istio-egress/nginx-mesh-external-se')!.vips[0].value;
  const serve = await startServe(
    [
      '--config',
      config,
      ...(await pki.servingFlags('spiffe://cluster.local/ns/istio-egress/sa/egress-waypoint')),
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      '--dns-server',
      dns.server,
    ],
    join(dir, 'access.log'),
  );
  t.after(() => serve.stop());

  const apps = await Promise.all(
    ['app1', 'app2'].map(async (app) => {
      const c = caller(await pki.workload('team-namespace', app), serve.hbone, WAYPOINT_ID);
      t.after(() => c.close());
      const opened = await c.connect(`${vip}:80`);
      assert.ok(opened.ok, `${app} tunnel: ${JSON.stringify(opened)}`);
      return { app, get: keepAliveClient(opened.tunnel.stream) };
    }),
  );
  // Interleaved keep-alive requests: each app's tunnel carries many requests; each is seen as itself every time.
  for (let i = 0; i < 10; i++) {
    for (const { app, get } of apps) {
      const r = await get('/subject');
      assert.equal(r.status, 200, `${r.headers}\n${r.body}`);
      assert.equal(JSON.parse(r.body).subject, `CN=team-namespace.${app}`, r.headers);
    }
  }
  // app2 claiming app1's identity in the pseudo-header is still app2, and the header never leaves the gateway.
  const forged = await apps[1].get('/subject', {
    '%%source.principal%%': 'spiffe://cluster.local/ns/team-namespace/sa/app1',
  });
  assert.equal(JSON.parse(forged.body).subject, 'CN=team-namespace.app2');
  assert.ok(!seen.includes('%%source.principal%%'), `the upstream saw: ${[...new Set(seen)].join(', ')}`);

  // One access-log line per request, naming the route and the external identity used.
  const line = await serve.waitForLog(
    (l) => l.type === 'request' && l.external_identity === 'CN=team-namespace.app2',
    'app2 request line',
  );
  assert.equal(line.route, 'team-namespace/app2-api-partner-com-httproute#0');
  assert.equal(line.source_principal, 'spiffe://cluster.local/ns/team-namespace/sa/app2');
  const metrics = await serve.admin_get('/metrics');
  assert.match(
    metrics.text,
    /istio_requests_total\{[^}]*source_principal="spiffe:\/\/cluster.local\/ns\/team-namespace\/sa\/app1"[^}]*response_code="200"[^}]*\} 10/,
  );
});
