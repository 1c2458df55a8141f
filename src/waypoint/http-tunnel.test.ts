/** The L7 tunnel handler against real loopback sockets: framing, smuggling refusals, identity header, routing, policy, errors. */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { CredentialStore } from './credentials.ts';
import { SOURCE_PRINCIPAL_HEADER } from './principal-header.ts';
import {
  closedPort,
  l7Policy,
  rawExchange,
  send,
  snapshotFrom,
  startTunnelListener,
  type TunnelListener,
  WAYPOINT_API,
} from '../../test/support/waypoint-harness.ts';

const APP1 = 'spiffe://cluster.local/ns/team/sa/app1';
const APP2 = 'spiffe://cluster.local/ns/team/sa/app2';

const BASE = `${WAYPOINT_API}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: backend, namespace: egress}
spec:
  hosts: [backend.egress.invalid]
  ports: [{number: 8080, name: http, protocol: HTTP}]
  resolution: DNS
  endpoints: [{address: backend.example.com}]
`;

/** What the upstream saw. */
interface Seen {
  method: string;
  url: string;
  rawHeaders: string[];
  body: string;
}

let upstream: http.Server;
let upstreamPort = 0;
const seen: Seen[] = [];
/** URLs whose request line reached the upstream, complete or not. */
const started: string[] = [];
let garbage: net.Server;
let garbagePort = 0;
const credentials = new CredentialStore();
const listeners: TunnelListener[] = [];

before(async () => {
  upstream = http.createServer((req, res) => {
    started.push(req.url ?? '');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s = {
        method: req.method ?? '',
        url: req.url ?? '',
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(s);
      if (req.url === '/stream') {
        // Chunked response written in pieces: must arrive whole and in order.
        res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'yes' });
        for (let i = 0; i < 50; i++) res.write(`part-${i};`);
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes' });
      res.end(JSON.stringify({ url: s.url, bodyLength: s.body.length }));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamPort = (upstream.address() as net.AddressInfo).port;
  garbage = net.createServer((s) => s.end('NOT HTTP AT ALL\r\n\r\n'));
  await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
  garbagePort = (garbage.address() as net.AddressInfo).port;
});
after(async () => {
  for (const l of listeners) await l.close();
  credentials.close();
  await new Promise<void>((r) => upstream.close(() => r()));
  await new Promise<void>((r) => garbage.close(() => r()));
});

async function tunnel(
  extra = '',
  opts: { peer?: string; ports?: Record<number, number>; hosts?: Record<string, string[]>; settings?: string } = {},
) {
  const snap = snapshotFrom(
    [
      { path: 'base.yaml', text: BASE },
      { path: 'extra.yaml', text: extra },
    ],
    opts.settings ?? null,
  );
  const l = await startTunnelListener({
    peer: opts.peer ?? APP1,
    snapshot: () => snap,
    authority: 'api.example.com:80',
    credentials,
    hosts: opts.hosts ?? { 'api.example.com': ['127.0.0.1'], 'backend.example.com': ['127.0.0.1'] },
    ports: opts.ports ?? { 80: upstreamPort, 8080: upstreamPort },
  });
  listeners.push(l);
  return l;
}

const API = { host: 'api.example.com' };

test('no route attached: requests go to the ServiceEntry host, many over one keep-alive tunnel, streamed both ways', async () => {
  const l = await tunnel();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const before = seen.length;
  const ports = new Set<number>();
  for (let i = 0; i < 20; i++) {
    const r = await send(l.port, agent, { path: `/n/${i}?q=${i}`, headers: API });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { url: `/n/${i}?q=${i}`, bodyLength: 0 });
    ports.add(r.localPort);
  }
  assert.equal(ports.size, 1, 'one tunnel carried every request');
  assert.equal(seen.length - before, 20);
  const streamed = await send(l.port, agent, { path: '/stream', headers: API });
  assert.equal(streamed.body, Array.from({ length: 50 }, (_, i) => `part-${i};`).join(''));
  assert.equal(streamed.headers['x-upstream'], 'yes');
  const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(1024, 97 + (i % 26)));
  const up = await send(l.port, agent, {
    method: 'POST',
    path: '/upload',
    headers: { ...API, 'transfer-encoding': 'chunked' },
    body: chunks,
  });
  assert.equal(JSON.parse(up.body).bodyLength, 40 * 1024);
  assert.equal(seen.at(-1)?.body, Buffer.concat(chunks).toString());
  agent.destroy();
  const e = l.events.at(-1)!;
  assert.equal(e.method, 'POST');
  assert.equal(e.status, 200);
  assert.equal(e.principal, APP1);
  assert.equal(e.route, null);
  assert.equal(e.backend, 'api.example.com:80');
  assert.equal(e.upstreamAddress, `127.0.0.1:${upstreamPort}`);
  assert.equal(e.bytesReceived, 40 * 1024);
  assert.ok(e.bytesSent > 0);
});

test('Expect: 100-continue is answered by the waypoint, and Expect never reaches the upstream', async () => {
  const l = await tunnel();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const r = await send(l.port, agent, {
    method: 'PUT',
    path: '/continue',
    headers: { ...API, expect: '100-continue', 'content-length': '5' },
    body: ['hello'],
    expectContinue: true,
  });
  agent.destroy();
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(r.body).bodyLength, 5);
  const s = seen.at(-1)!;
  assert.equal(s.url, '/continue');
  assert.ok(!s.rawHeaders.some((h) => h.toLowerCase() === 'expect'));
});

test('the client-sent %%source.principal%% is overwritten for matching and removed before the request leaves', async () => {
  const route = `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: by-principal, namespace: egress}
spec:
  parentRefs: [{name: api, kind: ServiceEntry, group: networking.istio.io}]
  rules:
  - matches: [{headers: [{name: "%%source.principal%%", value: "${APP1}"}]}]
    filters:
    - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: "%%source.principal%%", value: leaked}], add: [{name: x-routed, value: app1}]}}
    backendRefs: [{group: networking.istio.io, kind: Hostname, name: backend.egress.invalid, port: 8080}]
`;
  const l = await tunnel(route, { peer: APP2 });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const forged = await send(l.port, agent, {
    path: '/x',
    headers: ['Host', 'api.example.com', SOURCE_PRINCIPAL_HEADER, APP1, '%%Source.Principal%%', APP1],
  });
  assert.equal(forged.status, 404, 'app2 claiming to be app1 is still app2: no route');
  assert.equal(forged.headers['x-portcullis-code'], 'PCL_WAYPOINT_NO_ROUTE');
  agent.destroy();

  const l1 = await tunnel(route, { peer: APP1 });
  const agent1 = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const ok = await send(l1.port, agent1, {
    path: '/x',
    headers: ['Host', 'api.example.com', SOURCE_PRINCIPAL_HEADER, APP2],
  });
  agent1.destroy();
  assert.equal(ok.status, 200, 'app1 routes as app1 whatever it claims');
  const s = seen.at(-1)!;
  assert.ok(!s.rawHeaders.some((h) => h.toLowerCase() === SOURCE_PRINCIPAL_HEADER), 'not even a filter can forward it');
  assert.ok(!s.rawHeaders.includes('leaked'));
  assert.ok(s.rawHeaders.includes('x-routed'));
  assert.equal(s.rawHeaders[s.rawHeaders.findIndex((h) => h.toLowerCase() === 'host') + 1], 'api.example.com');
  const e = l1.events.at(-1)!;
  assert.deepEqual(e.route, { name: 'egress/by-principal', rule: 0 });
  assert.equal(e.backend, 'backend.egress.invalid:8080');
});

test('request smuggling and malformed requests get 400 (or 501) and never reach the upstream', async () => {
  const l = await tunnel();
  const before = seen.length;
  const cases: [string, string, number][] = [
    [
      'CL and TE together',
      'POST / HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      400,
    ],
    [
      'conflicting Content-Length',
      'POST / HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
      400,
    ],
    ['Content-Length list', 'POST / HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 5, 5\r\n\r\nhello', 400],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: api.example.com\r\nX-A: a\r\n  b\r\n\r\n', 400],
    [
      'bad chunk size',
      'POST / HTTP/1.1\r\nHost: api.example.com\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
      400,
    ],
    [
      'chunk without CR',
      'POST / HTTP/1.1\r\nHost: api.example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n',
      400,
    ],
    ['oversized headers', `GET / HTTP/1.1\r\nHost: api.example.com\r\nX-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`, 400],
    ['space before colon', 'GET / HTTP/1.1\r\nHost : api.example.com\r\n\r\n', 400],
    ['bad request line', 'GET /\r\nHost: api.example.com\r\n\r\n', 400],
    ['missing Host', 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n', 400],
    [
      'two Host headers',
      'GET / HTTP/1.1\r\nHost: api.example.com\r\nHost: evil.example\r\nConnection: close\r\n\r\n',
      400,
    ],
    ['asterisk target', 'GET * HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n\r\n', 400],
    [
      'TE gzip',
      'POST / HTTP/1.1\r\nHost: api.example.com\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n0\r\n\r\n',
      501,
    ],
    ['CONNECT inside the tunnel', 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n', 400],
  ];
  for (const [name, bytes, status] of cases) {
    const out = await rawExchange(l.port, bytes);
    assert.match(out, new RegExp(`^HTTP/1\\.1 ${status} `), `${name}: ${out.slice(0, 120)}`);
    assert.match(
      out,
      status === 501
        ? /x-portcullis-code: PCL_WAYPOINT_UNSUPPORTED_TRANSFER_ENCODING/i
        : /x-portcullis-code: PCL_WAYPOINT_BAD_REQUEST/i,
      name,
    );
  }
  assert.equal(seen.length, before, 'the upstream received nothing');
});

test('a chunked body that breaks after the headers aborts the upstream request: it never sees a complete request', async () => {
  const l = await tunnel();
  const before = seen.length;
  const out = await new Promise<string>((resolve) => {
    const chunks: Buffer[] = [];
    const sock = net.connect(l.port, '127.0.0.1', () => {
      sock.write('POST /late HTTP/1.1\r\nHost: api.example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
      // The broken part is written once the upstream has the request line: ordering, not timing.
      const wait = setInterval(() => {
        if (started.includes('/late')) {
          clearInterval(wait);
          sock.write('zz\r\nbad\r\n0\r\n\r\n');
        }
      }, 5);
    });
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', () => resolve(Buffer.concat(chunks).toString()));
    sock.on('close', () => resolve(Buffer.concat(chunks).toString()));
  });
  assert.match(out, /^HTTP\/1\.1 400 /);
  assert.ok(!seen.slice(before).some((s) => s.url === '/late'), 'the upstream never completed /late');
});

test('403 from an L7 AuthorizationPolicy on either layer, naming the policy', async () => {
  const policies =
    l7Policy('deny-admin', 'api', 'DENY', '{paths: ["/admin*"]}') +
    l7Policy('get-only', 'waypoint', 'ALLOW', '{methods: ["GET"]}');
  const l = await tunnel(policies);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const admin = await send(l.port, agent, { path: '/admin/users', headers: API });
  assert.equal(admin.status, 403);
  assert.equal(admin.headers['x-portcullis-code'], 'PCL_WAYPOINT_DENIED');
  assert.match(String(admin.headers['x-portcullis-reason']), /explicitly denied by: egress\/deny-admin/);
  assert.equal(l.events.at(-1)?.policy, 'egress/deny-admin');
  const post = await send(l.port, agent, {
    method: 'POST',
    path: '/x',
    headers: { ...API, 'content-length': '2' },
    body: ['hi'],
  });
  assert.equal(post.status, 403);
  assert.match(
    String(post.headers['x-portcullis-reason']),
    /Gateway egress\/waypoint: allow policies exist, but none allowed/,
  );
  const get = await send(l.port, agent, { path: '/fine', headers: API });
  assert.equal(get.status, 200, 'the tunnel stays usable after denials');
  assert.equal(l.events.at(-1)?.policy, 'egress/get-only');
  agent.destroy();
});

test('routes: 404 when none matches, URLRewrite and ResponseHeaderModifier applied, 500 for weight-0 rules', async () => {
  const routes = `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: egress}
spec:
  parentRefs: [{name: api, kind: ServiceEntry, group: networking.istio.io}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /v1}}]
    filters:
    - {type: URLRewrite, urlRewrite: {hostname: backend.example.com, path: {type: ReplacePrefixMatch, replacePrefixMatch: /api/v2}}}
    - {type: ResponseHeaderModifier, responseHeaderModifier: {remove: [x-upstream], add: [{name: x-served-by, value: waypoint}]}}
    backendRefs: [{group: networking.istio.io, kind: Hostname, name: backend.egress.invalid, port: 8080}]
  - matches: [{path: {type: Exact, value: /nowhere}}]
    backendRefs: [{group: networking.istio.io, kind: Hostname, name: backend.egress.invalid, port: 8080, weight: 0}]
`;
  const l = await tunnel(routes);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const ok = await send(l.port, agent, { path: '/v1/items?x=1', headers: API });
  assert.equal(ok.status, 200);
  assert.equal(JSON.parse(ok.body).url, '/api/v2/items?x=1');
  assert.equal(ok.headers['x-upstream'], undefined);
  assert.equal(ok.headers['x-served-by'], 'waypoint');
  const s = seen.at(-1)!;
  assert.equal(s.rawHeaders[s.rawHeaders.findIndex((h) => h.toLowerCase() === 'host') + 1], 'backend.example.com');
  const none = await send(l.port, agent, { path: '/v2', headers: API });
  assert.equal(none.status, 404);
  assert.match(none.body, /no route matched: 1 HTTPRoute\(s\) attached to ServiceEntry egress\/api/);
  const zero = await send(l.port, agent, { path: '/nowhere', headers: API });
  assert.equal(zero.status, 500);
  assert.equal(zero.headers['x-portcullis-code'], 'PCL_WAYPOINT_BACKEND_INVALID');
  agent.destroy();
});

test('502 for an invalid upstream response, 503 for an unreachable upstream', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const bad = await tunnel('', { ports: { 80: garbagePort } });
  const r502 = await send(bad.port, agent, { path: '/', headers: API });
  assert.equal(r502.status, 502);
  assert.equal(r502.headers['x-portcullis-code'], 'PCL_WAYPOINT_UPSTREAM_INVALID_RESPONSE');
  assert.equal(bad.events.at(-1)?.responseFlags, 'UPE');
  agent.destroy();

  const agent2 = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const down = await tunnel('', { ports: { 80: await closedPort() } });
  const r503 = await send(down.port, agent2, { path: '/', headers: API });
  assert.equal(r503.status, 503);
  assert.equal(r503.headers['x-portcullis-code'], 'PCL_WAYPOINT_UPSTREAM_UNREACHABLE');
  assert.match(r503.body, /ECONNREFUSED/);
  agent2.destroy();
});

test('pathNormalization from portcullis.yaml: MERGE_SLASHES makes //admin the /admin a DENY names', async () => {
  const deny = l7Policy('deny-admin', 'api', 'DENY', '{paths: ["/admin"]}');
  const merged = await tunnel(deny, { settings: 'pathNormalization: {normalization: MERGE_SLASHES}\n' });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const r = await send(merged.port, agent, { path: '//admin', headers: API });
  assert.equal(r.status, 403);
  assert.equal(merged.events.at(-1)?.path, '/admin');
  agent.destroy();
  // BASE (the default) keeps the double slash: the DENY on /admin does not match, and //admin is what is forwarded.
  const base = await tunnel(deny);
  const agent2 = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const from = seen.length;
  const b = await send(base.port, agent2, { path: '//admin', headers: API });
  assert.equal(b.status, 200);
  assert.equal(seen.at(-1)?.url, '//admin');
  assert.equal(seen.length, from + 1);
  agent2.destroy();
  // An unknown mode is a settings error naming the file and field, and the default applies.
  assert.throws(
    () => snapshotFrom([{ path: 'base.yaml', text: BASE }], 'pathNormalization: {normalization: SOMETIMES}\n'),
    /portcullis\.yaml:1 .*pathNormalization/,
  );
});

test('an upstream that accepts TCP but never finishes the TLS handshake gets 503 within the connect budget', async () => {
  const silent = net.createServer((sock) => sock.on('error', () => {}));
  const held = new Set<net.Socket>();
  silent.on('connection', (sock) => held.add(sock));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const tlsRule = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api-tls, namespace: egress}
spec:
  host: api.example.com
  trafficPolicy: {tls: {mode: SIMPLE}}
`;
  const snap = snapshotFrom([
    { path: 'base.yaml', text: BASE },
    { path: 'dr.yaml', text: tlsRule },
  ]);
  const l = await startTunnelListener({
    peer: APP1,
    snapshot: () => snap,
    authority: 'api.example.com:80',
    credentials,
    hosts: { 'api.example.com': ['127.0.0.1'] },
    ports: { 80: (silent.address() as net.AddressInfo).port },
    connectTimeoutMs: 300,
  });
  listeners.push(l);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const r = await send(l.port, agent, { path: '/', headers: API });
  assert.equal(r.status, 503);
  assert.equal(r.headers['x-portcullis-code'], 'PCL_WAYPOINT_UPSTREAM_UNREACHABLE');
  assert.match(r.body, /ETIMEDOUT/);
  assert.equal(held.size, 1, 'the TCP connection was made; the handshake is what timed out');
  agent.destroy();
  for (const s of held) s.destroy();
  await new Promise<void>((res) => silent.close(() => res()));
});
