/**
 * Seed 002 end to end at the module level: the seed's manifests verbatim (examples/seed-002) plus app2's resources
 * by analogy and Secrets from the dev CA, an external mTLS server that answers `/subject`, and `handleHttpTunnel`
 * serving app1's and app2's tunnels. Then the same against nginx, the seed's own reference server, where installed.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import { readConfigDir } from '../src/config/config-dir.ts';
import type { ConfigFile } from '../src/config/load.ts';
import {
  initCa,
  issueClientCert,
  issueServerCert,
  type CertificateAuthority,
  type IssuedCertificate,
} from '../src/identity/ca.ts';
import { CredentialStore } from '../src/waypoint/credentials.ts';
import { SOURCE_PRINCIPAL_HEADER } from '../src/waypoint/principal-header.ts';
import { subjectText } from '../src/waypoint/secret-keys.ts';
import {
  closedPort,
  send,
  snapshotFrom,
  startTunnelListener,
  type TunnelListener,
} from './support/waypoint-harness.ts';

const SEED_DIR = join(import.meta.dirname, '..', 'examples', 'seed-002');
const APP1 = 'spiffe://cluster.local/ns/team-namespace/sa/app1';
const APP2 = 'spiffe://cluster.local/ns/team-namespace/sa/app2';
const APP3 = 'spiffe://cluster.local/ns/team-namespace/sa/app3';
const HOST = { host: 'my-nginx.foo.bar' };

// app2's step-3 resources, written by analogy with the seed's app1.yaml.
const APP2_YAML = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: app2-nginx-mesh-external-se, namespace: team-namespace}
spec:
  ports: [{number: 443, name: https, protocol: HTTPS}]
  hosts: [app2.team-namespace.my-nginx.foo.bar.invalid]
  location: MESH_EXTERNAL
  resolution: DNS
  endpoints: [{address: my-nginx.foo.bar}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: app2-nginx-mesh-external-dr, namespace: team-namespace}
spec:
  host: app2.team-namespace.my-nginx.foo.bar.invalid
  trafficPolicy:
    tls:
      subjectAltNames: [app2.team-namespace.my-nginx.foo.bar.invalid, my-nginx.foo.bar]
      mode: MUTUAL
      credentialName: team-namespace/app2-client-mtls-secret
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app2-api-partner-com-httproute, namespace: team-namespace}
spec:
  hostnames: [my-nginx.foo.bar]
  parentRefs: [{name: nginx-mesh-external-se, kind: ServiceEntry, group: networking.istio.io, namespace: istio-egress}]
  rules:
  - matches: [{headers: [{type: Exact, name: "%%source.principal%%", value: "${APP2}"}]}]
    backendRefs: [{group: networking.istio.io, kind: Hostname, name: app2.team-namespace.my-nginx.foo.bar.invalid, port: 443}]
`;

const b64 = (s: string) => Buffer.from(s).toString('base64');
function secretYaml(name: string, data: Record<string, string>): string {
  const lines = Object.entries(data).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(b64(v))}`);
  return `apiVersion: v1\nkind: Secret\nmetadata: {name: ${name}, namespace: team-namespace}\ntype: kubernetes.io/tls\ndata:\n${lines.join('\n')}\n`;
}
const tlsSecret = (name: string, c: IssuedCertificate) =>
  secretYaml(name, { 'tls.crt': c.certChainPem, 'tls.key': c.keyPem, 'ca.crt': c.rootCertPem });

const work = mkdtempSync(join(tmpdir(), 'pcl-seed002-'));
let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
let app1: IssuedCertificate;
let app2: IssuedCertificate;
let server: IssuedCertificate;
let seedFiles: ConfigFile[];
let seedSettings: string;
const closers: (() => Promise<void> | void)[] = [];

/** What the external server saw: header names per request, and the subject of the connection each came on. */
const upstreamSeen: { subject: string; headerNames: string[] }[] = [];

before(async () => {
  ca = await initCa(join(work, 'ca'), { trustDomain: 'cluster.local' });
  otherCa = await initCa(join(work, 'other-ca'), { trustDomain: 'cluster.local' });
  app1 = await issueClientCert(ca, { subject: 'CN=team-namespace.app1', ttl: 3_600_000 });
  app2 = await issueClientCert(ca, { subject: 'CN=team-namespace.app2', ttl: 3_600_000 });
  server = await issueServerCert(ca, { dnsNames: ['my-nginx.foo.bar'], ttl: 3_600_000 });
  const contents = await readConfigDir(SEED_DIR);
  seedFiles = contents.files;
  seedSettings = contents.settings?.text ?? '';
  assert.match(seedSettings, /istio-egress\/egress-waypoint/);
});
after(async () => {
  for (const c of closers.reverse()) await c();
  rmSync(work, { recursive: true, force: true });
});

/** The external mTLS server: answers `/subject` with the client certificate's subject. */
async function startSubjectServer(cert: IssuedCertificate): Promise<number> {
  const s = https.createServer(
    { key: cert.keyPem, cert: cert.certChainPem, ca: ca.rootCertPem, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const peer = (req.socket as tls.TLSSocket).getPeerCertificate();
      const subject = peer.raw ? subjectText(new X509Certificate(peer.raw)) : '';
      upstreamSeen.push({
        subject,
        headerNames: req.rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase()),
      });
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ subject }));
      });
    },
  );
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  closers.push(
    () =>
      new Promise<void>((r) => {
        s.closeAllConnections();
        s.close(() => r());
      }),
  );
  return (s.address() as net.AddressInfo).port;
}

interface World {
  readonly app1: TunnelListener;
  readonly app2: TunnelListener;
  readonly app3: TunnelListener;
  readonly credentials: CredentialStore;
}

/** Both apps' tunnels (and an unmapped app3) over a snapshot of the seed plus `extra` files. */
async function world(opts: {
  secrets?: string[];
  extra?: string[];
  settings?: string;
  port443: number;
}): Promise<World> {
  const files: ConfigFile[] = [
    ...seedFiles,
    { path: 'app2.yaml', text: APP2_YAML },
    ...(opts.secrets ?? [tlsSecret('app1-client-mtls-secret', app1), tlsSecret('app2-client-mtls-secret', app2)]).map(
      (text, i) => ({ path: `secret-${i}.yaml`, text }),
    ),
    ...(opts.extra ?? []).map((text, i) => ({ path: `extra-${i}.yaml`, text })),
  ];
  const snap = snapshotFrom(files, opts.settings ?? seedSettings);
  const credentials = new CredentialStore();
  closers.push(() => credentials.close());
  const listener = async (peer: string) => {
    const l = await startTunnelListener({
      peer,
      snapshot: () => snap,
      authority: 'my-nginx.foo.bar:80',
      credentials,
      hosts: { 'my-nginx.foo.bar': ['127.0.0.1'] },
      ports: { 443: opts.port443 },
    });
    closers.push(() => l.close());
    return l;
  };
  return { app1: await listener(APP1), app2: await listener(APP2), app3: await listener(APP3), credentials };
}

function agent(): http.Agent {
  const a = new http.Agent({ keepAlive: true, maxSockets: 1 });
  closers.push(() => a.destroy());
  return a;
}

/** Many interleaved keep-alive requests from app1 and app2: each must be seen with its own certificate. */
async function interleaved(w: World, rounds: number): Promise<void> {
  const a1 = agent();
  const a2 = agent();
  for (let i = 0; i < rounds; i++) {
    const [r1, r2] = await Promise.all([
      send(w.app1.port, a1, { path: '/subject', headers: HOST }),
      send(w.app2.port, a2, { path: '/subject', headers: ['Host', 'my-nginx.foo.bar', SOURCE_PRINCIPAL_HEADER, APP1] }),
    ]);
    assert.equal(r1.status, 200, r1.body);
    assert.equal(r2.status, 200, r2.body);
    assert.deepEqual(JSON.parse(r1.body), { subject: 'CN=team-namespace.app1' }, `round ${i} app1`);
    assert.deepEqual(JSON.parse(r2.body), { subject: 'CN=team-namespace.app2' }, `round ${i} app2 (claiming app1)`);
  }
}

test('seed 002: app1 is seen as CN=team-namespace.app1 and app2 as CN=team-namespace.app2 over interleaved keep-alive requests', async () => {
  const port = await startSubjectServer(server);
  const w = await world({ port443: port });
  const before = upstreamSeen.length;
  await interleaved(w, 25);
  const seen = upstreamSeen.slice(before);
  assert.equal(seen.length, 50);
  assert.ok(
    seen.every((s) => !s.headerNames.includes(SOURCE_PRINCIPAL_HEADER)),
    'the upstream never receives %%source.principal%%',
  );
  assert.equal(w.credentials.poolCount, 2, 'one pool per credential');
  const e1 = w.app1.events.at(-1)!;
  assert.equal(e1.status, 200);
  assert.equal(e1.principal, APP1);
  assert.equal(e1.externalIdentity, 'CN=team-namespace.app1');
  assert.equal(e1.secret, 'team-namespace/app1-client-mtls-secret');
  assert.deepEqual(e1.route, { name: 'team-namespace/app1-api-partner-com-httproute', rule: 0 });
  assert.equal(e1.backend, 'app1.team-namespace.my-nginx.foo.bar.invalid:443');
  assert.equal(e1.destinationRule, 'team-namespace/app1-nginx-mesh-external-dr');
  assert.equal(e1.sni, 'my-nginx.foo.bar');
  assert.equal(e1.upstreamAddress, `127.0.0.1:${port}`);
  assert.equal(e1.method, 'GET');
  assert.equal(e1.authority, 'my-nginx.foo.bar');
  assert.equal(e1.path, '/subject');
  assert.ok(e1.bytesSent > 0);
  assert.equal(w.app2.events.at(-1)?.externalIdentity, 'CN=team-namespace.app2');

  const r3 = await send(w.app3.port, agent(), { path: '/subject', headers: HOST });
  assert.equal(r3.status, 404, 'an identity with no route is not sent anywhere');
  assert.equal(r3.headers['x-portcullis-code'], 'PCL_WAYPOINT_NO_ROUTE');
});

test('seed 002 without permitCrossNamespaceResourceAccess: the route is refused (404) and the Secret too (503)', async () => {
  const port = await startSubjectServer(server);
  const noPermission = await world({ port443: port, settings: '' });
  const r = await send(noPermission.app1.port, agent(), { path: '/subject', headers: HOST });
  assert.equal(r.status, 404);
  assert.equal(r.headers['x-portcullis-code'], 'PCL_WAYPOINT_ROUTE_NOT_ACCEPTED');
  assert.match(r.body, /team-namespace\/app1-api-partner-com-httproute not accepted/);
  assert.match(r.body, /permitCrossNamespaceResourceAccess/);

  // A route in the waypoint's own namespace is always accepted; the team-namespace Secret still is not usable.
  const sameNsRoute = `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app1-from-egress, namespace: istio-egress}
spec:
  parentRefs: [{name: nginx-mesh-external-se, kind: ServiceEntry, group: networking.istio.io}]
  rules:
  - matches: [{headers: [{name: "%%source.principal%%", value: "${APP1}"}]}]
    backendRefs: [{group: networking.istio.io, kind: Hostname, name: app1.team-namespace.my-nginx.foo.bar.invalid, port: 443}]
`;
  const secretRefused = await world({ port443: port, settings: '', extra: [sameNsRoute] });
  const s = await send(secretRefused.app1.port, agent(), { path: '/subject', headers: HOST });
  assert.equal(s.status, 503);
  assert.equal(s.headers['x-portcullis-code'], 'PCL_WAYPOINT_CREDENTIAL_NOT_PERMITTED');
  assert.match(
    s.body,
    /Secret team-namespace\/app1-client-mtls-secret is in another namespace than waypoint istio-egress\/egress-waypoint/,
  );
  assert.match(s.body, /add "istio-egress\/egress-waypoint" to permitCrossNamespaceResourceAccess/);
});

test('seed 002 credential errors answer 503 with the reason: missing Secret, wrong keys, key not matching the certificate', async () => {
  const port = await startSubjectServer(server);
  const cases: [string, string[], string, RegExp][] = [
    ['missing', [], 'PCL_WAYPOINT_SECRET_NOT_FOUND', /secret team-namespace\/app1-client-mtls-secret not found/],
    [
      'empty keys',
      [secretYaml('app1-client-mtls-secret', { 'tls.crt': '', 'tls.key': '' })],
      'PCL_WAYPOINT_SECRET_KEYS',
      /found keys "tls\.crt" and "tls\.key", but they were empty/,
    ],
    [
      'unexpected keys',
      [secretYaml('app1-client-mtls-secret', { 'client.pem': app1.certPem })],
      'PCL_WAYPOINT_SECRET_KEYS',
      /didn't have expected keys \(cert and key\) or \(tls\.crt and tls\.key\); found: client\.pem/,
    ],
    [
      'mismatched key',
      [secretYaml('app1-client-mtls-secret', { 'tls.crt': app1.certChainPem, 'tls.key': app2.keyPem })],
      'PCL_WAYPOINT_SECRET_KEY_MISMATCH',
      /private key does not match the certificate \(CN=team-namespace\.app1\)/,
    ],
  ];
  for (const [name, secrets, code, reason] of cases) {
    const w = await world({ port443: port, secrets });
    const r = await send(w.app1.port, agent(), { path: '/subject', headers: HOST });
    assert.equal(r.status, 503, name);
    assert.equal(r.headers['x-portcullis-code'], code, name);
    assert.match(r.body, reason, name);
    assert.match(String(r.headers['x-portcullis-reason']), reason, `${name}: header`);
  }
});

test('seed 002 upstream errors: SAN mismatch and unknown CA (503), unreachable (503), invalid response (502)', async () => {
  const wrongName = await startSubjectServer(
    await issueServerCert(ca, { dnsNames: ['someone-else.example'], ttl: 3_600_000 }),
  );
  const san = await world({ port443: wrongName });
  const r1 = await send(san.app1.port, agent(), { path: '/subject', headers: HOST });
  assert.equal(r1.status, 503);
  assert.equal(r1.headers['x-portcullis-code'], 'PCL_WAYPOINT_UPSTREAM_SAN');
  assert.match(
    r1.body,
    /expected one of \[app1\.team-namespace\.my-nginx\.foo\.bar\.invalid, my-nginx\.foo\.bar\], certificate has DNS:someone-else\.example/,
  );

  const foreign = await startSubjectServer(
    await issueServerCert(otherCa, { dnsNames: ['my-nginx.foo.bar'], ttl: 3_600_000 }),
  );
  const caw = await world({ port443: foreign });
  const r2 = await send(caw.app1.port, agent(), { path: '/subject', headers: HOST });
  assert.equal(r2.status, 503);
  assert.equal(r2.headers['x-portcullis-code'], 'PCL_WAYPOINT_UPSTREAM_CA');

  const down = await world({ port443: await closedPort() });
  const r3 = await send(down.app1.port, agent(), { path: '/subject', headers: HOST });
  assert.equal(r3.status, 503);
  assert.equal(r3.headers['x-portcullis-code'], 'PCL_WAYPOINT_UPSTREAM_UNREACHABLE');

  // A TLS server that completes the handshake and then answers garbage.
  const junk = tls.createServer({ key: server.keyPem, cert: server.certChainPem }, (s) => {
    s.on('data', () => s.end('SSH-2.0-not-http\r\n\r\n'));
  });
  await new Promise<void>((r) => junk.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => junk.close(() => r())));
  const bad = await world({ port443: (junk.address() as net.AddressInfo).port });
  const r4 = await send(bad.app1.port, agent(), { path: '/subject', headers: HOST });
  assert.equal(r4.status, 502);
  assert.equal(r4.headers['x-portcullis-code'], 'PCL_WAYPOINT_UPSTREAM_INVALID_RESPONSE');
});

test('seed 002 with an L7 policy on the ServiceEntry: 403 naming the policy; allowed requests still map identities', async () => {
  const port = await startSubjectServer(server);
  const policy = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: subject-only, namespace: istio-egress}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: nginx-mesh-external-se}]
  action: ALLOW
  rules: [{to: [{operation: {methods: [GET], paths: [/subject]}}]}]
`;
  const w = await world({ port443: port, extra: [policy] });
  const a = agent();
  const denied = await send(w.app1.port, a, { path: '/other', headers: HOST });
  assert.equal(denied.status, 403);
  assert.equal(denied.headers['x-portcullis-code'], 'PCL_WAYPOINT_DENIED');
  const ok = await send(w.app1.port, a, { path: '/subject', headers: HOST });
  assert.deepEqual(JSON.parse(ok.body), { subject: 'CN=team-namespace.app1' });
  assert.equal(w.app1.events.at(-1)?.policy, 'istio-egress/subject-only');
});

/** Start nginx as seed 002's reference server (ssl_verify_client, $ssl_client_s_dn). */
async function startNginx(): Promise<{ port: number; proc: ChildProcess }> {
  const dir = mkdtempSync(join(work, 'nginx-'));
  const port = await closedPort();
  writeFileSync(join(dir, 'server.crt'), server.certChainPem);
  writeFileSync(join(dir, 'server.key'), server.keyPem);
  writeFileSync(join(dir, 'ca.crt'), ca.rootCertPem);
  const conf = `
master_process off;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port} ssl;
    server_name my-nginx.foo.bar;
    ssl_certificate ${dir}/server.crt;
    ssl_certificate_key ${dir}/server.key;
    ssl_client_certificate ${dir}/ca.crt;
    ssl_verify_client on;
    location /subject {
      default_type application/json;
      return 200 '{"subject":"$ssl_client_s_dn"}';
    }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const proc = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir, '-g', 'error_log stderr;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  closers.push(() => {
    proc.kill('SIGTERM');
  });
  // Wait until it accepts connections (or exits with its error).
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) return { port, proc };
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("seed 002 against nginx (ssl_verify_client, $ssl_client_s_dn), the seed's own reference server", async (t) => {
  if (spawnSync('which', ['nginx']).status !== 0) {
    t.skip('nginx not installed: apt-get install nginx-light');
    return;
  }
  const { port } = await startNginx();
  const w = await world({ port443: port });
  await interleaved(w, 10);
  assert.equal(w.app1.events.at(-1)?.externalIdentity, 'CN=team-namespace.app1');
});

test('one keep-alive tunnel follows each new snapshot: a rotated Secret, a removed Secret and a narrowed route apply to the next request', async () => {
  const port = await startSubjectServer(server);
  const rotated = await issueClientCert(ca, { subject: 'CN=team-namespace.app1-rotated', ttl: 3_600_000 });
  const base = [...seedFiles, { path: 'app2.yaml', text: APP2_YAML }];
  const withSecret = (c: IssuedCertificate | null, generation: number) =>
    snapshotFrom(
      c === null ? base : [...base, { path: 'secret.yaml', text: tlsSecret('app1-client-mtls-secret', c) }],
      seedSettings,
      generation,
    );
  const snaps = [withSecret(app1, 1), withSecret(rotated, 2), withSecret(null, 3), withSecret(app1, 4)];
  let current = snaps[0];
  const credentials = new CredentialStore();
  closers.push(() => credentials.close());
  const l = await startTunnelListener({
    peer: APP1,
    snapshot: () => current,
    authority: 'my-nginx.foo.bar:80',
    credentials,
    hosts: { 'my-nginx.foo.bar': ['127.0.0.1'] },
    ports: { 443: port },
  });
  closers.push(() => l.close());
  const a = agent();
  const subjectOf = async (): Promise<{ status: number; body: string; localPort: number }> =>
    send(l.port, a, { path: '/subject', headers: HOST });

  const r1 = await subjectOf();
  const r1b = await subjectOf();
  assert.deepEqual([r1.status, JSON.parse(r1.body)], [200, { subject: 'CN=team-namespace.app1' }]);
  assert.equal(r1b.localPort, r1.localPort, 'the same tunnel carries both requests');
  current = snaps[1];
  const r2 = await subjectOf();
  assert.equal(r2.localPort, r1.localPort, 'still the same tunnel');
  assert.deepEqual(
    [r2.status, JSON.parse(r2.body)],
    [200, { subject: 'CN=team-namespace.app1-rotated' }],
    'the rotated Secret applies at once',
  );
  current = snaps[2];
  const r3 = await subjectOf();
  assert.equal(r3.status, 503, r3.body);
  assert.match(r3.body, /app1-client-mtls-secret/);
  current = snaps[3];
  const r4 = await subjectOf();
  assert.deepEqual([r4.status, JSON.parse(r4.body)], [200, { subject: 'CN=team-namespace.app1' }]);
  // A snapshot without app1's route: the tunnel's next request is not routed by what the old snapshot said.
  current = snapshotFrom(
    seedFiles.filter((f) => !/app1/.test(f.path)),
    seedSettings,
    5,
  );
  const r5 = await subjectOf();
  assert.notEqual(r5.status, 200, r5.body);
});
