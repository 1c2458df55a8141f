/**
 * The agent end to end on loopback: each proxy protocol through a fake HBONE gateway (real mTLS with the dev CA),
 * routing by ServiceEntry and egressPolicies, refusals in the client's words, hostile input, several identities.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { after, before, test } from 'node:test';
import { startAgent, type RunningAgent } from './agent.ts';
import {
  connectTo,
  echoThrough,
  exchange,
  httpConnect,
  parseHead,
  readUntil,
  socks5Connect,
  socksRequest,
} from '../../test/support/agent-clients.ts';
import { testSnapshot } from '../../test/support/agent-config.ts';
import {
  createTestPki,
  memoryLogger,
  startEchoServer,
  startFakeGateway,
  type FakeGateway,
  type TestPki,
} from '../../test/support/fake-gateway.ts';

const PRODUCTPAGE = 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage';
const REVIEWS = 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews';
const snap = testSnapshot();
const vip = (host: string): string =>
  [...snap.serviceEntries.values()].flatMap((se) => se.vips).find((v) => v.host === host && !v.value.includes(':'))!
    .value;

let pki: TestPki;
let gw: FakeGateway;
let agent: RunningAgent;
let proxyPort: number;
let forwardPort: number;
let reviewsPort: number;
let echo: { port: number; close(): Promise<void> };
let httpUpstream: http.Server;
let httpUpstreamPort: number;
const log = memoryLogger();

before(async () => {
  pki = await createTestPki();
  gw = await startFakeGateway(pki);
  echo = await startEchoServer();
  httpUpstream = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          method: req.method,
          url: req.url,
          host: req.headers.host,
          proxyConnection: req.headers['proxy-connection'] ?? null,
          body,
        }),
      );
    });
  });
  await new Promise<void>((r) => httpUpstream.listen(0, '127.0.0.1', r));
  httpUpstreamPort = (httpUpstream.address() as { port: number }).port;
  gw.answer = (authority) => {
    if (authority.endsWith(':80')) return { dial: httpUpstreamPort };
    return { echo: true };
  };
  agent = await startAgent({
    gateway: { host: '127.0.0.1', port: gw.port },
    snapshot: snap,
    logger: log.logger,
    // Names no ServiceEntry declares resolve here, so no test depends on real DNS.
    resolve: async (host) => {
      if (host === 'local.test') return ['127.0.0.1'];
      if (host === 'far.test') return ['198.51.100.7'];
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    },
    workloads: [
      {
        identity: PRODUCTPAGE,
        certificates: await pki.workload(PRODUCTPAGE),
        listen: [{ host: '127.0.0.1', port: 0 }],
        forwards: [
          { listen: { host: '127.0.0.1', port: 0 }, target: { host: 'db.partner.example', port: 5432, isIp: false } },
        ],
      },
      { identity: REVIEWS, certificates: await pki.workload(REVIEWS), listen: [{ host: '127.0.0.1', port: 0 }] },
    ],
  });
  proxyPort = Number(agent.addresses[0].address.split(':')[1]);
  forwardPort = Number(agent.addresses[1].address.split(':')[1]);
  reviewsPort = Number(agent.addresses[2].address.split(':')[1]);
});

after(async () => {
  await agent.close();
  await gw.close();
  await echo.close();
  await new Promise<void>((r) => httpUpstream.close(() => r()));
  await pki.cleanup();
});

function lastSeen(): FakeGateway['seen'][number] {
  return gw.seen[gw.seen.length - 1];
}

test('listeners are reported per identity, proxy then forward', () => {
  assert.deepEqual(
    agent.addresses.map((a) => [a.identity, a.kind, a.target ?? null]),
    [
      [PRODUCTPAGE, 'proxy', null],
      [PRODUCTPAGE, 'forward', 'db.partner.example:5432'],
      [REVIEWS, 'proxy', null],
    ],
  );
});

test('CONNECT to a ServiceEntry host tunnels over HBONE with the VIP authority and ztunnel headers', async () => {
  const { head, socket } = await httpConnect(proxyPort, 'httpbin.org:443');
  assert.equal(head.status, 200);
  assert.equal(await echoThrough(socket, 'hello through hbone'), 'hello through hbone');
  socket.destroy();
  const seen = lastSeen();
  assert.equal(seen.authority, `${vip('httpbin.org')}:443`);
  assert.equal(seen.peer, PRODUCTPAGE);
  assert.match(seen.forwarded ?? '', /^for="127\.0\.0\.1:\d+";host=httpbin\.org$/);
  assert.equal(seen.baggage, 'k8s.namespace.name=bookinfo');
  assert.match(seen.traceparent ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
});

test('absolute-form HTTP goes through a tunnel to host:80 in origin-form, keep-alive, one tunnel per authority', async () => {
  const before = gw.seen.length;
  const agentHttp = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (path: string): Promise<{ status: number; json: Record<string, unknown> }> =>
    new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: proxyPort,
          path,
          agent: agentHttp,
          headers: { host: 'httpbin.org', 'proxy-connection': 'keep-alive' },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, json: JSON.parse(body) as Record<string, unknown> }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
  const a = await get('http://httpbin.org/get?x=1');
  const b = await get('http://httpbin.org/anything');
  agentHttp.destroy();
  assert.equal(a.status, 200);
  assert.deepEqual(a.json, { method: 'GET', url: '/get?x=1', host: 'httpbin.org', proxyConnection: null, body: '' });
  assert.equal(b.json.url, '/anything');
  const tunnels = gw.seen.slice(before);
  assert.deepEqual(
    tunnels.map((s) => s.authority),
    [`${vip('httpbin.org')}:80`],
    'two requests on one client connection to one authority share one tunnel',
  );
});

test('absolute-form POST bodies are forwarded', async () => {
  const res = await exchange(
    proxyPort,
    'POST http://httpbin.org/post HTTP/1.1\r\nHost: httpbin.org\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello',
  );
  const head = parseHead(res)!;
  assert.equal(head.status, 200);
  const json = JSON.parse(head.rest.toString('utf8').replace(/^[0-9a-f]+\r\n|\r\n0\r\n\r\n$/g, '')) as Record<
    string,
    unknown
  >;
  assert.deepEqual([json.method, json.url, json.body], ['POST', '/post', 'hello']);
});

test('SOCKS5 with a domain name and with an IPv4 address (inside spec.addresses) both reach the gateway', async () => {
  const byName = await socks5Connect(proxyPort, { domain: 'httpbin.org' }, 443);
  assert.equal(byName.reply, 0x00);
  assert.equal(await echoThrough(byName.socket, 'socks by name'), 'socks by name');
  byName.socket.destroy();
  assert.equal(lastSeen().authority, `${vip('httpbin.org')}:443`);

  const byIp = await socks5Connect(proxyPort, { ipv4: '203.0.113.9' }, 5432);
  assert.equal(byIp.reply, 0x00);
  assert.equal(await echoThrough(byIp.socket, 'socks by ip'), 'socks by ip');
  byIp.socket.destroy();
  assert.equal(lastSeen().authority, '203.0.113.9:5432');
});

test('--forward: a plain TCP port tunnels to its fixed destination', async () => {
  const s = await connectTo(forwardPort);
  assert.equal(await echoThrough(s, 'SELECT 1;'), 'SELECT 1;');
  s.destroy();
  assert.equal(lastSeen().authority, 'db.partner.example:5432');
  assert.equal(lastSeen().peer, PRODUCTPAGE);
});

test('an unknown destination denied by egressPolicies is refused locally with the reason; no tunnel opened', async () => {
  const before = gw.seen.length;
  const r = await httpConnect(proxyPort, '198.51.100.7:443');
  assert.equal(r.head.status, 403);
  assert.equal(r.head.headers['x-portcullis-code'], 'PCL_EGRESS_POLICY_DENY');
  assert.match(r.head.headers['x-portcullis-reason'], /198\.51\.100\.7:443 denied by egressPolicies\[1\]/);
  assert.match(r.body, /denied by egressPolicies\[1\] 0\.0\.0\.0\/0/);
  const byName = await httpConnect(proxyPort, 'far.test:443');
  assert.equal(byName.head.status, 403);
  assert.match(byName.head.headers['x-portcullis-reason'], /^far\.test resolves to 198\.51\.100\.7:443 denied/);
  const nowhere = await httpConnect(proxyPort, 'nowhere.test:443');
  assert.equal(nowhere.head.status, 403, 'a name that does not resolve fails closed');
  assert.equal(nowhere.head.headers['x-portcullis-code'], 'PCL_EGRESS_NO_MATCH');
  assert.match(
    nowhere.head.headers['x-portcullis-reason'],
    /^nowhere\.test: it does not resolve \(ENOTFOUND\); no ServiceEntry declares/,
  );
  const socks = await socks5Connect(proxyPort, { domain: 'far.test' }, 443);
  assert.equal(socks.reply, 0x02, 'SOCKS5: connection not allowed by ruleset');
  socks.socket.destroy();
  assert.equal(gw.seen.length, before, 'nothing reached the gateway');
  const logged = log.lines().filter((l) => l.event === 'refused' && l.code === 'PCL_AGENT_EGRESS_DENIED');
  assert.ok(logged.length >= 3, 'each refusal is logged');
});

test('an unknown destination allowed by egressPolicies is connected directly', async () => {
  const before = gw.seen.length;
  const r = await httpConnect(proxyPort, `127.0.0.1:${echo.port}`);
  assert.equal(r.head.status, 200);
  assert.equal(await echoThrough(r.socket, 'direct'), 'direct');
  r.socket.destroy();
  const byName = await httpConnect(proxyPort, `local.test:${echo.port}`);
  assert.equal(byName.head.status, 200);
  assert.equal(await echoThrough(byName.socket, 'direct by name'), 'direct by name');
  byName.socket.destroy();
  assert.equal(gw.seen.length, before, 'direct connections do not use the gateway');
});

test('the gateway refusing (401 + reason) reaches CONNECT, HTTP and SOCKS5 clients in their words', async () => {
  gw.answer = () => ({
    status: 401,
    headers: {
      'x-portcullis-reason': 'allow policies exist, but none allowed',
      'x-portcullis-code': 'PCL_AUTHZ_NOT_ALLOWED',
    },
  });
  try {
    const r = await httpConnect(proxyPort, 'httpbin.org:443');
    assert.equal(r.head.status, 403);
    assert.equal(r.head.headers['x-portcullis-reason'], 'allow policies exist, but none allowed');
    assert.equal(r.head.headers['x-portcullis-code'], 'PCL_AUTHZ_NOT_ALLOWED');
    assert.match(
      r.body,
      /refused by the gateway \(HBONE 401\): allow policies exist, but none allowed \[PCL_AUTHZ_NOT_ALLOWED\]/,
    );

    const h = parseHead(await exchange(proxyPort, 'GET http://httpbin.org/get HTTP/1.1\r\nHost: httpbin.org\r\n\r\n'))!;
    assert.equal(h.status, 403);
    assert.equal(h.headers['x-portcullis-reason'], 'allow policies exist, but none allowed');

    const s = await socks5Connect(proxyPort, { domain: 'httpbin.org' }, 443);
    assert.equal(s.reply, 0x02);
    s.socket.destroy();

    // The gateway's own form: `x-portcullis-reason: <code>: <reason>`.
    gw.answer = () => ({
      status: 401,
      headers: {
        'x-portcullis-reason': 'PCL_AUTHZ_EXPLICIT_DENY: explicitly denied by: istio-system/deny-default-egress',
      },
    });
    const g = await httpConnect(reviewsPort, 'httpbin.org:443');
    assert.equal(g.head.status, 403);
    assert.equal(g.head.headers['x-portcullis-code'], 'PCL_AUTHZ_EXPLICIT_DENY');
    assert.equal(g.head.headers['x-portcullis-reason'], 'explicitly denied by: istio-system/deny-default-egress');
    assert.match(g.body, /explicitly denied by: istio-system\/deny-default-egress \[PCL_AUTHZ_EXPLICIT_DENY\]/);
  } finally {
    gw.answer = (authority) => (authority.endsWith(':80') ? { dial: httpUpstreamPort } : { echo: true });
  }
  assert.ok(log.lines().some((l) => l.code === 'PCL_AGENT_GATEWAY_DENIED' && l.gatewayStatus === 401));
});

test('an unreachable upstream (gateway 503) is 503 for HTTP and host unreachable for SOCKS5', async () => {
  gw.answer = () => ({ status: 503, headers: { 'x-portcullis-reason': 'connection refused by upstream' } });
  try {
    const r = await httpConnect(proxyPort, 'httpbin.org:443');
    assert.equal(r.head.status, 503);
    assert.match(r.body, /connection refused by upstream/);
    const s = await socks5Connect(proxyPort, { domain: 'httpbin.org' }, 443);
    assert.equal(s.reply, 0x04);
    s.socket.destroy();
  } finally {
    gw.answer = (authority) => (authority.endsWith(':80') ? { dial: httpUpstreamPort } : { echo: true });
  }
});

test('a gateway that is down is 502 Bad Gateway', async () => {
  // A port where a gateway was a moment ago and nothing listens now.
  const down = await startFakeGateway(pki);
  const port = down.port;
  await down.close();
  const lonely = await startAgent({
    gateway: { host: '127.0.0.1', port },
    snapshot: snap,
    logger: memoryLogger().logger,
    workloads: [
      {
        identity: PRODUCTPAGE,
        certificates: await pki.workload(PRODUCTPAGE),
        listen: [{ host: '127.0.0.1', port: 0 }],
      },
    ],
  });
  try {
    const p = Number(lonely.addresses[0].address.split(':')[1]);
    const r = await httpConnect(p, 'httpbin.org:443');
    assert.equal(r.head.status, 502);
    assert.match(r.body, /gateway 127\.0\.0\.1:\d+ unreachable/);
    const s = await socks5Connect(p, { domain: 'httpbin.org' }, 443);
    assert.equal(s.reply, 0x05, 'SOCKS5: connection refused');
    s.socket.destroy();
  } finally {
    await lonely.close();
  }
});

test('bad client input is answered, never crashes the agent', async () => {
  const malformed = parseHead(await exchange(proxyPort, 'GARBAGE\r\n\r\n'))!;
  assert.equal(malformed.status, 400);
  const originForm = parseHead(await exchange(proxyPort, 'GET /path HTTP/1.1\r\nHost: x\r\n\r\n'))!;
  assert.equal(originForm.status, 400);
  assert.match(originForm.rest.toString(), /absolute-form/);
  const huge = parseHead(
    await exchange(proxyPort, `GET http://httpbin.org/ HTTP/1.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
  )!;
  assert.equal(huge.status, 431);
  for (const target of ['httpbin.org:0', 'httpbin.org:70000', 'httpbin.org', '[::1:443']) {
    const r = await httpConnect(proxyPort, target);
    assert.equal(r.head.status, 400, target);
    assert.match(r.body, /bad CONNECT target/, target);
  }
  // The agent's own port is never a destination (a loop), even where egressPolicies allow loopback.
  const self = await httpConnect(proxyPort, `127.0.0.1:${proxyPort}`);
  assert.equal(self.head.status, 400);
  assert.equal(self.head.headers['x-portcullis-code'], 'PCL_AGENT_SELF_CONNECT');
  // SOCKS4 (0x04) and a TLS ClientHello (0x16) are closed without a reply.
  assert.equal((await exchange(proxyPort, Buffer.from([0x04, 0x01, 0x01, 0xbb, 127, 0, 0, 1, 0]))).length, 0);
  assert.equal((await exchange(proxyPort, Buffer.from([0x16, 0x03, 0x01]))).length, 0);
  // SOCKS5: a method other than no-auth, BIND, and an unknown address type.
  assert.deepEqual([...(await exchange(proxyPort, Buffer.from([0x05, 0x01, 0x02])))], [0x05, 0xff]);
  const bind = await exchange(
    proxyPort,
    Buffer.concat([Buffer.from([0x05, 0x01, 0x00]), socksRequest({ ipv4: '1.2.3.4' }, 80, 0x02)]),
  );
  assert.equal(bind[3], 0x07, 'command not supported');
  const atyp = await exchange(proxyPort, Buffer.from([0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x09, 1, 2]));
  assert.equal(atyp[3], 0x08, 'address type not supported');
  const port0 = await exchange(
    proxyPort,
    Buffer.concat([Buffer.from([0x05, 0x01, 0x00]), socksRequest({ domain: 'httpbin.org' }, 0)]),
  );
  assert.equal(port0[3], 0x01);
  // The agent still serves.
  const ok = await httpConnect(proxyPort, 'httpbin.org:443');
  assert.equal(ok.head.status, 200);
  ok.socket.destroy();
  const codes = new Set(
    log
      .lines()
      .filter((l) => l.event === 'refused')
      .map((l) => l.code),
  );
  for (const c of [
    'PCL_AGENT_BAD_REQUEST',
    'PCL_AGENT_HEADERS_TOO_LARGE',
    'PCL_AGENT_UNKNOWN_PROTOCOL',
    'PCL_AGENT_SOCKS_UNSUPPORTED',
  ])
    assert.ok(codes.has(c), c);
});

test('clients that disconnect mid-handshake are cleaned up and the next client is served', async () => {
  // Half a CONNECT, half a SOCKS5 greeting, and half a SOCKS5 request: then gone.
  for (const partial of [
    'CONNECT httpbin.org:4',
    Buffer.from([0x05, 0x02]),
    Buffer.from([0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x03, 0x20, 0x61]),
  ]) {
    const s = await connectTo(proxyPort);
    s.write(partial);
    s.destroy();
  }
  // A client that leaves while the gateway is answering its CONNECT.
  const quitter = await connectTo(proxyPort);
  const answered = new Promise<void>((resolve) => {
    gw.answer = () => {
      quitter.destroy();
      resolve();
      return { echo: true };
    };
  });
  quitter.write('CONNECT httpbin.org:443 HTTP/1.1\r\n\r\n');
  await answered;
  gw.answer = (authority) => (authority.endsWith(':80') ? { dial: httpUpstreamPort } : { echo: true });
  const ok = await httpConnect(proxyPort, 'httpbin.org:443');
  assert.equal(ok.head.status, 200);
  assert.equal(await echoThrough(ok.socket, 'still here'), 'still here');
  ok.socket.end();
  await readUntil(ok.socket, () => false);
  // Everything the agent held for these clients is released once they are gone.
  await waitFor(() => agent.stats().every((s) => s.openStreams === 0));
  assert.deepEqual(
    agent.stats().map((s) => s.openStreams),
    [0, 0],
  );
});

test("the agent's own port written as IPv4-mapped IPv6 is refused as a loop, not tunnelled into itself", async () => {
  for (const target of [
    `[::ffff:127.0.0.1]:${proxyPort}`,
    `[::ffff:7f00:1]:${proxyPort}`,
    `[0:0:0:0:0:ffff:127.0.0.1]:${forwardPort}`,
  ]) {
    const r = await httpConnect(proxyPort, target);
    assert.equal(r.head.status, 400, target);
    assert.equal(r.head.headers['x-portcullis-code'], 'PCL_AGENT_SELF_CONNECT', target);
  }
  const socks = await exchange(
    proxyPort,
    Buffer.concat([
      Buffer.from([0x05, 0x01, 0x00]),
      socksRequest({ ipv6: Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]) }, proxyPort),
    ]),
  );
  assert.notEqual(socks[3], 0x00, 'SOCKS5 is refused too');
});

test('half-sent SOCKS5 and HTTP handshakes are closed at the handshake timeout; a complete one is unaffected', async () => {
  const quick = await startAgent({
    gateway: { host: '127.0.0.1', port: gw.port },
    snapshot: snap,
    logger: log.logger,
    handshakeTimeoutMs: 300,
    workloads: [
      {
        identity: PRODUCTPAGE,
        certificates: await pki.workload(PRODUCTPAGE),
        listen: [{ host: '127.0.0.1', port: 0 }],
      },
    ],
  });
  try {
    const port = Number(quick.addresses[0].address.split(':')[1]);
    const silent = await connectTo(port);
    const partialHttp = await connectTo(port);
    partialHttp.write('CONNECT httpbin.org:443 HTTP/1.1\r\nHost: httpbin.org\r\n');
    const partialSocks = await connectTo(port);
    partialSocks.write(Buffer.from([0x05, 0x01, 0x00, 0x05, 0x01]));
    // A trickler: one byte of a CONNECT line every 50 ms keeps an inactivity timer alive forever.
    const trickler = await connectTo(port);
    const line = 'CONNECT httpbin.org:443 HTTP/1.1\r\nX-Slow: ' + 'a'.repeat(200);
    let i = 0;
    const drip = setInterval(() => {
      if (!trickler.destroyed) trickler.write(line[i++ % line.length]);
    }, 50);
    try {
      const all = [silent, partialHttp, partialSocks, trickler];
      for (const s of all) s.on('error', () => {}).resume(); // read, so the agent's FIN is seen and the socket closes
      await Promise.all(
        all.map((s) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())))),
      );
    } finally {
      clearInterval(drip);
    }
    const timeouts = log.lines().filter((l) => l.code === 'PCL_AGENT_HANDSHAKE_TIMEOUT');
    assert.ok(timeouts.length >= 4, `four handshakes cut, saw ${timeouts.length}`);
    const ok = await httpConnect(port, 'httpbin.org:443');
    assert.equal(ok.head.status, 200);
    assert.equal(
      await echoThrough(ok.socket, 'after the deadline'),
      'after the deadline',
      'an open tunnel outlives the handshake deadline',
    );
    ok.socket.destroy();
  } finally {
    await quick.close();
  }
});

test('two workloads present their own identities on separate HTTP/2 sessions', async () => {
  const before = gw.seen.length;
  const a = await httpConnect(proxyPort, 'httpbin.org:443');
  const b = await httpConnect(reviewsPort, 'httpbin.org:443');
  assert.equal(a.head.status, 200);
  assert.equal(b.head.status, 200);
  const [sa, sb] = gw.seen.slice(before);
  assert.equal(sa.peer, PRODUCTPAGE);
  assert.equal(sb.peer, REVIEWS);
  assert.notEqual(sa.sessionId, sb.sessionId);
  // Over the whole run, every session the gateway saw carried exactly one identity.
  const peersBySession = new Map<number, Set<string>>();
  for (const s of gw.seen) peersBySession.set(s.sessionId, (peersBySession.get(s.sessionId) ?? new Set()).add(s.peer));
  for (const [id, peers] of peersBySession)
    assert.equal(peers.size, 1, `session ${id} carried ${[...peers].join(', ')}`);
  assert.ok(agent.stats().every((s) => s.hboneSessions >= 1));
  a.socket.destroy();
  b.socket.destroy();
});

/** Poll a condition the agent reaches asynchronously (no timing assertion: it only bounds a hang). */
async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
}
