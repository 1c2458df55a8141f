/**
 * Hostile input at the L7 waypoint and its upstream side: path-normalization bypasses of an L7 policy, request
 * smuggling through `Connection: content-length` and cross-identity capture on a pooled upstream connection, a
 * stray upstream response, names resolving to refused addresses (any refused address refuses the name), the
 * gateway's own listener as an L7 upstream, an open L7 tunnel after `allowedPrivateCidrs` shrinks, and an authority
 * port with a leading zero. Every case runs inside a network namespace holding only loopback.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { after, before, test } from 'node:test';
import { startGateway, type RunningGateway } from '../src/gateway/gateway.ts';
import { parseAuthority } from '../src/net/authority.ts';
import { CredentialStore } from '../src/waypoint/credentials.ts';
import { caller } from './support/hbone-caller.ts';
import {
  interfaceNames,
  IN_LOOPBACK_NETNS,
  loopbackNetnsUnavailable,
  runInLoopbackNetns,
} from './support/loopback-netns.ts';
import { makeTestPki, type TestPki } from './support/pki.ts';
import {
  closedPort,
  l7Policy,
  send,
  snapshotFrom,
  startTunnelListener,
  type Reply,
  type TunnelListener,
  WAYPOINT_API,
} from './support/waypoint-harness.ts';

const APP1 = 'spiffe://cluster.local/ns/team/sa/app1';
const APP2 = 'spiffe://cluster.local/ns/team/sa/app2';
const API = { host: 'api.example.com' };

if (!IN_LOOPBACK_NETNS) {
  test('the hostile L7 cases pass inside a network namespace holding only loopback', {
    skip: loopbackNetnsUnavailable(),
    timeout: 600_000,
  }, async () => {
    const run = await runInLoopbackNetns(import.meta.filename, 580_000);
    assert.equal(run.failed, 0, run.output);
    assert.equal(run.status, 0, run.output);
    assert.ok(run.passed >= 10, `expected every hostile case to run inside the namespace:\n${run.output}`);
  });
} else {
  hostileCases();
}

const BASE = WAYPOINT_API;

/** What the upstream saw of one request. */
interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  readonly remotePort: number;
}

/** A keep-alive HTTP upstream that records every request and answers its URL as JSON (Content-Length framed). */
async function recordingUpstream(): Promise<{ port: number; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('latin1'),
        remotePort: req.socket.remotePort ?? 0,
      });
      const body = JSON.stringify({ url: req.url, authorization: req.headers.authorization ?? null });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Sequential HTTP/1.1 exchanges on one duplex: write raw bytes, read one Content-Length-framed response. */
function conversation(stream: Duplex) {
  let buffered = Buffer.alloc(0);
  let ended = false;
  let wake: (() => void) | null = null;
  stream.on('data', (d: Buffer) => {
    buffered = Buffer.concat([buffered, d]);
    wake?.();
  });
  const onEnd = () => {
    ended = true;
    wake?.();
  };
  stream.on('end', onEnd);
  stream.on('close', onEnd);
  stream.on('error', onEnd);
  return async (bytes: string, timeoutMs = 15_000): Promise<{ status: number; head: string; body: string }> => {
    stream.write(Buffer.from(bytes, 'latin1'));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = buffered.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = buffered.subarray(0, end).toString('latin1');
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length >= end + 4 + length) {
          const body = buffered.subarray(end + 4, end + 4 + length).toString('latin1');
          buffered = buffered.subarray(end + 4 + length);
          return { status: Number(head.slice(9, 12)), head, body };
        }
      }
      if (ended) throw new Error(`the stream ended before a complete response (${buffered.length} bytes)`);
      if (Date.now() > deadline)
        throw new Error(`no complete response within ${timeoutMs} ms (${buffered.length} bytes)`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 100);
      });
      wake = null;
    }
  };
}

/** Poll until `done` holds (a reload applies asynchronously), for at most ten seconds. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !done(); i++) await new Promise((r) => setTimeout(r, 25));
}

function rawConnect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** A request through the harness, failing instead of hanging when no response comes. */
function sendWithin(port: number, agent: http.Agent, opts: Parameters<typeof send>[2], ms = 15_000): Promise<Reply> {
  return Promise.race([
    send(port, agent, opts),
    new Promise<never>((_, reject) => {
      setTimeout(() => reject(new Error(`no response within ${ms} ms: the request was captured or lost`)), ms).unref();
    }),
  ]);
}

function hostileCases(): void {
  let upstream: Awaited<ReturnType<typeof recordingUpstream>>;
  const closers: (() => unknown)[] = [];
  const credentials = new CredentialStore();

  before(async () => {
    upstream = await recordingUpstream();
    closers.push(
      () => upstream.close(),
      () => credentials.close(),
    );
  });
  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  async function tunnel(
    peer: string,
    extra = '',
    hosts: Record<string, string[]> = { 'api.example.com': ['127.0.0.1'] },
  ): Promise<TunnelListener> {
    const snap = snapshotFrom([
      { path: 'base.yaml', text: BASE },
      { path: 'extra.yaml', text: extra },
    ]);
    const authority = 'api.example.com:80';
    const l = await startTunnelListener({
      peer,
      snapshot: () => snap,
      authority,
      credentials,
      hosts,
      ports: { 80: upstream.port },
    });
    closers.push(() => l.close());
    return l;
  }

  test('the namespace holds only loopback', () => {
    assert.deepEqual(interfaceNames(), ['lo']);
  });

  test('path policy bypass: the normalised path is authorized, routed and forwarded, %2e%2e included', {
    timeout: 60_000,
  }, async () => {
    const policies =
      l7Policy('deny-admin', 'api', 'DENY', '{paths: ["/admin*"]}') +
      l7Policy('public-only', 'waypoint', 'ALLOW', '{paths: ["/public/*"]}');
    const l = await tunnel(APP1, policies);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    closers.push(() => agent.destroy());
    const from = upstream.seen.length;
    const ok = await sendWithin(l.port, agent, { path: '/public/ok', headers: API });
    assert.equal(ok.status, 200);
    for (const path of [
      '/public/../admin',
      '/public/%2e%2e/admin',
      '/public/%2E%2E/admin',
      '/public/./../internal/delete',
      '/public/..%2fx/../../admin',
    ]) {
      const r = await sendWithin(l.port, agent, { path, headers: API });
      assert.equal(r.status, 403, `${path} must be decided as the path it would be forwarded as`);
      assert.equal(r.headers['x-portcullis-code'], 'PCL_WAYPOINT_DENIED', path);
    }
    assert.equal(l.events.at(-1)?.path, '/admin', 'the log shows the path that was decided');
    // %2F stays encoded under BASE: the upstream receives exactly the path that was authorized.
    const encoded = await sendWithin(l.port, agent, { path: '/public/a%2f..%2fadmin', headers: API });
    assert.equal(encoded.status, 200);
    const bad = await sendWithin(l.port, agent, { path: '/public/a\\..\\admin', headers: API });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers['x-portcullis-code'], 'PCL_WAYPOINT_PATH_NOT_NORMALIZABLE');
    const urls = upstream.seen.slice(from).map((s) => s.url);
    assert.deepEqual(urls, ['/public/ok', '/public/a%2F..%2Fadmin']);
  });

  test('smuggling through Connection: content-length is refused and app2 is never captured by app1', {
    timeout: 60_000,
  }, async () => {
    const app1 = await tunnel(APP1);
    const app2 = await tunnel(APP2);
    const from = upstream.seen.length;
    // app1 hides an unfinished POST in the body of a GET whose Content-Length its Connection header names.
    const smuggled = 'POST /capture HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 400\r\n\r\n';
    const s1 = await rawConnect(app1.port);
    closers.push(() => s1.destroy());
    const talk1 = conversation(s1);
    const r1 = await talk1(
      `GET /warmup HTTP/1.1\r\nHost: api.example.com\r\nConnection: content-length\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
    );
    assert.equal(r1.status, 400, `app1 must be refused, got:\n${r1.head}`);
    assert.match(r1.head, /x-portcullis-code: PCL_WAYPOINT_CONNECTION_FRAMING/i);

    // app2's next request, credentials included, must reach the upstream as its own request and get its own answer.
    const agent2 = new http.Agent({ keepAlive: true, maxSockets: 1 });
    closers.push(() => agent2.destroy());
    const r2 = await sendWithin(app2.port, agent2, {
      path: '/mine',
      headers: { ...API, authorization: 'Bearer app2-secret' },
    });
    assert.equal(r2.status, 200);
    assert.deepEqual(JSON.parse(r2.body), { url: '/mine', authorization: 'Bearer app2-secret' });
    const seen = upstream.seen.slice(from);
    assert.deepEqual(
      seen.map((s) => s.url),
      ['/mine'],
    );
    assert.ok(
      !seen.some((s) => s.body.includes('app2-secret')),
      "app2's request never became the body of another request",
    );
  });

  test('a body is always forwarded with explicit framing: a GET body holding a request stays a body', {
    timeout: 60_000,
  }, async () => {
    const l = await tunnel(APP1);
    const from = upstream.seen.length;
    const inner = 'POST /internal/delete HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 0\r\n\r\n';
    const s = await rawConnect(l.port);
    closers.push(() => s.destroy());
    const talk = conversation(s);
    const withLength = await talk(
      `GET /with-body HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: ${inner.length}\r\n\r\n${inner}`,
    );
    assert.equal(withLength.status, 200);
    const chunk = inner.length.toString(16);
    const chunked = await talk(
      `DELETE /chunked HTTP/1.1\r\nHost: api.example.com\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}\r\n${inner}\r\n0\r\n\r\n`,
    );
    assert.equal(chunked.status, 200);
    const post = await talk('POST /empty HTTP/1.1\r\nHost: api.example.com\r\n\r\n');
    assert.equal(post.status, 200);
    const seen = upstream.seen.slice(from);
    assert.deepEqual(
      seen.map((x) => x.url),
      ['/with-body', '/chunked', '/empty'],
    );
    assert.equal(seen[0].headers['content-length'], String(inner.length));
    assert.equal(seen[0].body, inner);
    assert.equal(seen[1].headers['transfer-encoding'], 'chunked');
    assert.equal(seen[1].body, inner);
    assert.equal(seen[2].headers['content-length'], '0');
    assert.equal(seen[2].headers['transfer-encoding'], undefined);
  });

  test('no upstream connection is shared by two identities, plain HTTP included', { timeout: 60_000 }, async () => {
    const app1 = await tunnel(APP1);
    const app2 = await tunnel(APP2);
    const from = upstream.seen.length;
    const a1 = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const a2 = new http.Agent({ keepAlive: true, maxSockets: 1 });
    closers.push(
      () => a1.destroy(),
      () => a2.destroy(),
    );
    for (let i = 0; i < 3; i++) {
      assert.equal((await sendWithin(app1.port, a1, { path: `/app1/${i}`, headers: API })).status, 200);
      assert.equal((await sendWithin(app2.port, a2, { path: `/app2/${i}`, headers: API })).status, 200);
    }
    const seen = upstream.seen.slice(from);
    const ports = (who: string) => new Set(seen.filter((s) => s.url.startsWith(`/${who}/`)).map((s) => s.remotePort));
    const p1 = ports('app1');
    const p2 = ports('app2');
    assert.equal(p1.size, 1, "app1's requests share app1's pooled connection");
    assert.equal(p2.size, 1, "app2's requests share app2's pooled connection");
    assert.ok(
      ![...p1].some((p) => p2.has(p)),
      `app1 and app2 came on different upstream connections (${[...p1]} vs ${[...p2]})`,
    );
  });

  test('an unasked upstream response on an idle pooled connection is never given to the next request', {
    timeout: 60_000,
  }, async () => {
    // A hostile upstream: answers each request, then sends a second, unasked response a moment later.
    const sockets = new Set<net.Socket>();
    const evil = net.createServer((sock) => {
      sockets.add(sock);
      let buf = '';
      sock.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        while (buf.includes('\r\n\r\n')) {
          buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
          sock.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nmine');
          setTimeout(() => sock.writable && sock.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nSTRAY'), 50);
        }
      });
      sock.on('error', () => {});
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    closers.push(
      () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          evil.close(() => r());
        }),
    );
    const snap = snapshotFrom([{ path: 'base.yaml', text: BASE }]);
    const l = await startTunnelListener({
      peer: APP1,
      snapshot: () => snap,
      authority: 'api.example.com:80',
      credentials,
      hosts: { 'api.example.com': ['127.0.0.1'] },
      ports: { 80: (evil.address() as net.AddressInfo).port },
    });
    closers.push(() => l.close());
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    closers.push(() => agent.destroy());
    for (let i = 0; i < 3; i++) {
      const r = await sendWithin(l.port, agent, { path: `/n${i}`, headers: API });
      assert.equal(r.status, 200);
      assert.equal(r.body, 'mine', `request ${i} got a response that was not its own`);
      await new Promise((res) => setTimeout(res, 200));
    }
  });

  test('a name whose answer holds any refused address is refused whole (L7 as L4), metadata included', {
    timeout: 60_000,
  }, async () => {
    const from = upstream.seen.length;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    closers.push(() => agent.destroy());
    const mixed = await tunnel(APP1, '', { 'api.example.com': ['127.0.0.1', '10.1.2.3'] });
    const r = await sendWithin(mixed.port, agent, { path: '/', headers: API });
    assert.equal(r.status, 503);
    assert.equal(r.headers['x-portcullis-code'], 'PCL_WAYPOINT_NO_ENDPOINT');
    assert.match(
      r.body,
      /PCL_DATAPLANE_PRIVATE_ADDRESS: api\.example\.com resolves to 10\.1\.2\.3 is private \(RFC 1918\)/,
    );
    const agent2 = new http.Agent({ keepAlive: true, maxSockets: 1 });
    closers.push(() => agent2.destroy());
    const metadata = await tunnel(APP1, '', { 'api.example.com': ['169.254.169.254'] });
    const m = await sendWithin(metadata.port, agent2, { path: '/latest/meta-data/', headers: API });
    assert.equal(m.status, 503);
    assert.match(m.body, /169\.254\.169\.254 is link-local/);
    assert.equal(upstream.seen.length, from, 'nothing reached the upstream');
  });

  test('an authority port with a leading zero is refused (HBONE :authority and L7 Host)', {
    timeout: 60_000,
  }, async () => {
    const p = parseAuthority('api.example.com:0443');
    assert.equal(p.ok, false);
    if (!p.ok) assert.match(p.reason, /without leading zeros/);
    assert.equal(parseAuthority('api.example.com:443').ok, true);
    const l = await tunnel(APP1);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    closers.push(() => agent.destroy());
    const r = await sendWithin(l.port, agent, { path: '/', headers: { host: 'api.example.com:080' } });
    assert.equal(r.status, 400);
    assert.match(String(r.headers['x-portcullis-reason']), /"080" is not a port number 1-65535 without leading zeros/);
  });

  describeGateway(closers);
}

/** The same through a whole gateway (`startGateway`): snapshot changes, the gateway's own ports, the HBONE front. */
function describeGateway(closers: (() => unknown)[]): void {
  let pki: TestPki;
  let gw: RunningGateway;
  let dir: string;
  let upstream: Awaited<ReturnType<typeof recordingUpstream>>;
  let hbonePort: number;
  const GATEWAY_ID = 'spiffe://cluster.local/ns/egress/sa/waypoint';
  const settings = (cidrs: string) => `allowedPrivateCidrs: [${cidrs}]\n`;

  before(async () => {
    pki = await makeTestPki();
    closers.push(() => pki.cleanup());
    upstream = await recordingUpstream();
    closers.push(() => upstream.close());
    hbonePort = await closedPort();
    dir = mkdtempSync(join(tmpdir(), 'portcullis-hostile-l7-'));
    closers.push(() => rmSync(dir, { recursive: true, force: true }));
    const entry = (name: string, host: string, targetPort: number) => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: egress, labels: {istio.io/use-waypoint: waypoint}}
spec:
  hosts: [${host}]
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: ${targetPort}}]
  resolution: DNS
`;
    writeFileSync(join(dir, 'gateway.yaml'), BASE.split('---')[0]);
    writeFileSync(join(dir, 'internal.yaml'), entry('internal', 'internal.example', upstream.port));
    writeFileSync(join(dir, 'self.yaml'), entry('self', 'self.example', hbonePort));
    writeFileSync(join(dir, 'portcullis.yaml'), settings('127.0.0.0/8'));
    const table: Record<string, string[]> = { 'internal.example': ['127.0.0.1'], 'self.example': ['127.0.0.1'] };
    gw = await startGateway({
      configDir: dir,
      caDir: pki.caDir,
      listen: { host: '127.0.0.1', port: hbonePort },
      admin: null,
      resolver: { resolve: async (h) => table[h.toLowerCase()] ?? Promise.reject(new Error(`ENOTFOUND ${h}`)) },
      log: null,
      drainMs: 0,
      configDebounceMs: 20,
    });
    closers.push(() => gw.close());
  });

  async function app(): Promise<ReturnType<typeof caller>> {
    const c = caller(await pki.workload('team', 'app1'), { host: '127.0.0.1', port: gw.hbonePort }, GATEWAY_ID);
    closers.push(() => c.close());
    return c;
  }

  test('an open L7 tunnel uses the current guard: after allowedPrivateCidrs shrinks, its next request is refused', {
    timeout: 120_000,
  }, async () => {
    const c = await app();
    const t = await c.connect('internal.example:80');
    assert.ok(t.ok, t.ok ? '' : `${t.status} ${t.reason}`);
    const talk = conversation(t.tunnel.stream);
    const one = await talk('GET /one HTTP/1.1\r\nHost: internal.example\r\n\r\n');
    assert.equal(one.status, 200, one.head);
    const generation = gw.snapshot().generation;
    writeFileSync(join(dir, 'portcullis.yaml'), settings('127.0.0.2/32'));
    await gw.reload();
    await until(() => gw.snapshot().generation > generation);
    assert.ok(gw.snapshot().generation > generation, 'the new settings were loaded');
    assert.deepEqual(gw.snapshot().settings.allowedPrivateCidrs, ['127.0.0.2/32']);
    const two = await talk('GET /two HTTP/1.1\r\nHost: internal.example\r\n\r\n');
    assert.equal(two.status, 503, two.head);
    assert.match(two.head, /x-portcullis-code: PCL_WAYPOINT_NO_ENDPOINT/i);
    assert.match(two.body, /127\.0\.0\.1 is loopback/);
    assert.deepEqual(
      upstream.seen.map((s) => s.url),
      ['/one'],
    );
    t.tunnel.stream.destroy();
    writeFileSync(join(dir, 'portcullis.yaml'), settings('127.0.0.0/8'));
    await gw.reload();
  });

  test("an L7 backend that resolves to the gateway's own HBONE port is refused (the guard gets the port)", {
    timeout: 120_000,
  }, async () => {
    await until(() => gw.snapshot().settings.allowedPrivateCidrs[0] === '127.0.0.0/8');
    const c = await app();
    const t = await c.connect('self.example:80');
    assert.ok(t.ok, t.ok ? '' : `${t.status} ${t.reason}`);
    const talk = conversation(t.tunnel.stream);
    const r = await talk('GET / HTTP/1.1\r\nHost: self.example\r\n\r\n');
    assert.equal(r.status, 503, r.head);
    assert.match(r.body, new RegExp(`127\\.0\\.0\\.1:${hbonePort} is one of the gateway's own listeners`));
    t.tunnel.stream.destroy();
  });

  test('CONNECT to a port written with a leading zero is refused with 400 by the HBONE server', {
    timeout: 60_000,
  }, async () => {
    // The project's HBONE client refuses such an authority itself, so the CONNECT is written with node's HTTP/2 client.
    const cert = await pki.workload('team', 'app1');
    const session = http2.connect(`https://127.0.0.1:${gw.hbonePort}`, {
      cert: cert.certChainPem,
      key: cert.keyPem,
      ca: pki.ca.rootCertPem,
      ALPNProtocols: ['h2'],
      checkServerIdentity: () => undefined,
    });
    closers.push(() => session.destroy());
    session.on('error', () => {});
    const status = await new Promise<{ status: number; reason: string }>((resolve, reject) => {
      const req = session.request({ ':method': 'CONNECT', ':authority': 'internal.example:080' });
      req.on('response', (h) => {
        resolve({ status: Number(h[':status']), reason: String(h['x-portcullis-reason'] ?? '') });
      });
      req.on('error', reject);
    });
    assert.equal(status.status, 400);
    assert.match(status.reason, /without leading zeros/);
  });
}
