/** The HBONE server: CONNECT tunnels through a handler, and every kind of hostile input refused without harm to others. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { issueClientCert, issueWorkloadCert, initCa } from '../identity/ca.ts';
import { join } from 'node:path';
import { HboneClient, HboneStatusError } from './client.ts';
import type { HboneRequest } from './server.ts';
import {
  CLIENT_ID,
  GATEWAY_ID,
  clientTls,
  makePki,
  rawAttempt,
  readAll,
  startServer,
  type Pki,
} from '../../test/support/hbone.ts';

const HOUR = 3_600_000;

/** A handler that answers 200 and echoes bytes, propagating half-close. */
async function echo(req: HboneRequest): Promise<void> {
  req.respond(200);
  req.stream.pipe(req.stream);
}

function client(
  pki: Pki,
  port: number,
  extra: Partial<ConstructorParameters<typeof HboneClient>[0]> = {},
): HboneClient {
  return new HboneClient({
    certificates: pki.client,
    gateway: { host: '127.0.0.1', port },
    expectedSans: [GATEWAY_ID],
    keepaliveIntervalMs: 0,
    ...extra,
  });
}

test('a CONNECT tunnels bytes both ways once the handler answers 200, with half-close', async (t) => {
  const pki = await makePki(t);
  const seen: HboneRequest[] = [];
  const { port } = await startServer(t, pki, async (req) => {
    seen.push(req);
    await echo(req);
  });
  const c = client(pki, port);
  t.after(() => c.destroy());
  const tunnel = await c.connect('10.0.0.7:443', {
    baggage: 'k8s.namespace.name=bookinfo',
    forwarded: { address: '10.1.2.3', port: 4567 },
  });
  assert.equal(tunnel.status, 200);
  tunnel.stream.write('hello ');
  tunnel.stream.end('world');
  assert.equal(await readAll(tunnel.stream), 'hello world');

  const [req] = seen;
  assert.equal(req.peer.uri, CLIENT_ID);
  assert.deepEqual(req.authority, { host: '10.0.0.7', port: 443, isIp: true, raw: '10.0.0.7:443' });
  assert.equal(req.baggage, 'k8s.namespace.name=bookinfo');
  assert.equal(req.forwarded, 'for="10.1.2.3:4567"');
  assert.match(req.traceparent ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  assert.equal(req.traceparent, tunnel.traceparent);
  assert.equal(req.peerAddress, '127.0.0.1');
  assert.equal(req.localPort, port);

  // A hostname authority, and a second tunnel on the same session.
  const t2 = await c.connect('httpbin.org:443');
  t2.stream.end('again');
  assert.equal(await readAll(t2.stream), 'again');
  assert.deepEqual(seen[1].authority, { host: 'httpbin.org', port: 443, isIp: false, raw: 'httpbin.org:443' });
  assert.match(seen[1].forwarded ?? '', /^for="127\.0\.0\.1:\d+"$/);
  assert.equal(seen[1].sessionId, seen[0].sessionId);
  assert.equal(c.sessionCount, 1);
});

test('the handler decides the status: 401 and 503 reach the client as errors with the status', async (t) => {
  const pki = await makePki(t);
  const { port } = await startServer(t, pki, async (req) => {
    if (req.authority.port === 80)
      req.respond(401, { 'x-portcullis-reason': 'allow policies exist, but none allowed' });
    else req.respond(503);
  });
  const c = client(pki, port);
  t.after(() => c.destroy());
  await assert.rejects(c.connect('httpbin.org:80'), (err: unknown) => {
    assert.ok(err instanceof HboneStatusError);
    assert.equal(err.status, 401);
    assert.equal(err.code, 'PCL_HBONE_STATUS');
    assert.equal(err.reason, 'allow policies exist, but none allowed');
    return true;
  });
  await assert.rejects(
    c.connect('httpbin.org:443'),
    (err: unknown) => err instanceof HboneStatusError && err.status === 503,
  );
});

test('a handler that fails before answering gets 503; request.close() tears an open tunnel down', async (t) => {
  const pki = await makePki(t);
  const open: HboneRequest[] = [];
  const srv = await startServer(t, pki, async (req) => {
    if (req.authority.host === 'boom.example') throw new Error('upstream dial exploded');
    req.respond(200);
    open.push(req);
  });
  const c = client(pki, srv.port);
  t.after(() => c.destroy());
  await assert.rejects(
    c.connect('boom.example:443'),
    (err: unknown) => err instanceof HboneStatusError && err.status === 503,
  );
  assert.match((await srv.refusal('PCL_HBONE_HANDLER_FAILED')).reason, /upstream dial exploded/);

  const tunnel = await c.connect('ok.example:443');
  const closedEvent = once(srv.server, 'tunnel-closed');
  const streamClosed = once(tunnel.stream, 'close');
  assert.equal(srv.server.tunnels().size, 1);
  open[0].close('connection closed due to policy change');
  const [event] = await closedEvent;
  assert.equal(event.reason, 'connection closed due to policy change');
  assert.equal(event.peer, CLIENT_ID);
  await streamClosed;
  assert.equal(tunnel.stream.rstCode, http2.constants.NGHTTP2_CANCEL);
  assert.equal(open[0].signal.aborted, true);
});

test('a caller that resets its stream: `gone` and a signal taken before it abort, and one taken after starts aborted', async (t) => {
  const pki = await makePki(t);
  const answered: HboneRequest[] = [];
  const srv = await startServer(t, pki, async (req) => {
    req.respond(200);
    answered.push(req);
  });
  const c = client(pki, srv.port);
  t.after(() => c.destroy());
  const tunnel = await c.connect('ok.example:443');
  const req = answered[0];
  assert.equal(req.gone.aborted, false);
  const early = req.signal;
  assert.equal(early.aborted, false);
  const goneFired = new Promise<void>((resolve) => req.gone.addEventListener('abort', resolve, { once: true }));
  const earlyFired = once(early, 'abort');
  tunnel.stream.close(http2.constants.NGHTTP2_CANCEL);
  await goneFired;
  await earlyFired;
  assert.equal(req.gone.aborted, true);
  assert.match(String((early.reason as Error).message), /HBONE stream closed \(RST_STREAM code 8\)/);
  // A second tunnel whose signal nobody took while it was open.
  const second = await c.connect('ok.example:443');
  const req2 = answered[1];
  const gone2 = new Promise<void>((resolve) => req2.gone.addEventListener('abort', resolve, { once: true }));
  second.stream.close(http2.constants.NGHTTP2_CANCEL);
  await gone2;
  const late = req2.signal;
  assert.equal(late.aborted, true, 'a signal first taken after the stream closed is already aborted');
  assert.match(String((late.reason as Error).message), /HBONE stream closed/);
});

test('a client offering only http/1.1 is refused during the TLS handshake', async (t) => {
  const pki = await makePki(t);
  const srv = await startServer(t, pki, echo);
  const sock = tls.connect({ ...clientTls(pki, srv.port), ALPNProtocols: ['http/1.1'] });
  const [err] = (await once(sock, 'error')) as [Error & { code?: string }];
  assert.match(`${err.code} ${err.message}`, /no.application.protocol/i);
  assert.equal((await srv.refusal('PCL_HBONE_ALPN_REFUSED')).stage, 'tls');
  // ...and a client offering no ALPN at all is refused too.
  const bare = tls.connect({ ...clientTls(pki, srv.port), ALPNProtocols: [] });
  bare.on('error', () => {});
  await once(bare, 'close');
  assert.ok(srv.refusals.filter((r) => r.code === 'PCL_HBONE_ALPN_REFUSED').length >= 1);
});

test('TLS refuses no client certificate, another CA, and an expired certificate', async (t) => {
  const pki = await makePki(t);
  const srv = await startServer(t, pki, echo);
  const other = await initCa(join(pki.dir, 'other-ca'), { trustDomain: 'cluster.local' });
  const foreign = await issueWorkloadCert(other, { spiffe: CLIENT_ID, ttl: HOUR });
  const expired = await issueWorkloadCert(pki.ca, {
    spiffe: CLIENT_ID,
    ttl: HOUR,
    notBefore: new Date(Date.now() - 3 * HOUR),
  });
  const connect = { ':method': 'CONNECT', ':authority': '10.0.0.1:443' };
  for (const [name, identity] of [
    ['no certificate', null],
    ['another CA', foreign],
    ['expired', expired],
  ] as const) {
    const before = srv.refusals.filter((r) => r.code === 'PCL_HBONE_TLS_HANDSHAKE_FAILED').length;
    const got = await rawAttempt(clientTls(pki, srv.port, identity), connect);
    assert.equal(got.kind, 'error', `${name}: ${JSON.stringify(got)}`);
    while (srv.refusals.filter((r) => r.code === 'PCL_HBONE_TLS_HANDSHAKE_FAILED').length === before) {
      await once(srv.server, 'refused');
    }
  }
  const reasons = srv.refusals.filter((r) => r.code === 'PCL_HBONE_TLS_HANDSHAKE_FAILED').map((r) => r.reason);

  assert.match(reasons[0], /peer did not return a certificate/);
  assert.match(
    reasons[1],
    /client certificate rejected: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED_CERT_IN_CHAIN)/,
  );
  assert.match(reasons[2], /client certificate rejected: CERT_HAS_EXPIRED/);
  assert.ok(
    srv.refusals.every((r) => r.peerAddress === '127.0.0.1'),
    'refusals name the peer address',
  );
  assert.equal(srv.server.sessionCount, 0);
});

test('a certificate from the right CA without a SPIFFE SAN in the trust domain is refused', async (t) => {
  const pki = await makePki(t);
  const srv = await startServer(t, pki, echo);
  const otherDomain = await issueWorkloadCert(pki.ca, { spiffe: 'spiffe://other.domain/ns/bookinfo/sa/x', ttl: HOUR });
  const plain = await issueClientCert(pki.ca, { subject: 'CN=team-namespace.app1', ttl: HOUR });
  const connect = { ':method': 'CONNECT', ':authority': '10.0.0.1:443' };
  assert.equal((await rawAttempt(clientTls(pki, srv.port, otherDomain), connect)).kind, 'error');
  assert.equal((await rawAttempt(clientTls(pki, srv.port, plain), connect)).kind, 'error');
  const refused = srv.refusals.filter((r) => r.code === 'PCL_HBONE_PEER_IDENTITY_REFUSED');
  assert.equal(refused.length, 2);
  assert.match(refused[0].reason, /trust domain "cluster\.local".*PCL_IDENTITY_TRUST_DOMAIN_MISMATCH/);
  assert.match(refused[1].reason, /PCL_IDENTITY_NO_SPIFFE_SAN/);
  assert.equal(srv.server.sessionCount, 0);
});

test('non-CONNECT methods, malformed authorities and oversized headers are answered 400/431', async (t) => {
  const pki = await makePki(t);
  let handled = 0;
  const srv = await startServer(t, pki, async (req) => {
    handled++;
    await echo(req);
  });
  const opts = clientTls(pki, srv.port);
  const get = await rawAttempt(opts, { ':method': 'GET', ':path': '/', ':authority': '10.0.0.1:80' });
  assert.deepEqual([get.kind, get.kind === 'response' && get.status], ['response', 400]);
  assert.equal((await srv.refusal('PCL_HBONE_NON_CONNECT')).status, 400);

  for (const authority of ['example.com', '10.0.0.1:0', '10.0.0.1:65536', '10.0.0.1:http', '1.2.3:80', '[::1:80']) {
    const got = await rawAttempt(opts, { ':method': 'CONNECT', ':authority': authority });
    assert.equal(got.kind === 'response' && got.status, 400, `${authority}: ${JSON.stringify(got)}`);
  }
  assert.ok(srv.refusals.filter((r) => r.code === 'PCL_HBONE_BAD_AUTHORITY').length >= 5);

  const big = await rawAttempt(
    opts,
    { ':method': 'CONNECT', ':authority': '10.0.0.1:443', 'x-big': 'a'.repeat(70_000) },
    { maxSendHeaderBlockLength: 1 << 20 },
  );
  assert.equal(big.kind === 'response' && big.status, 431, JSON.stringify(big));
  assert.match((await srv.refusal('PCL_HBONE_HEADERS_TOO_LARGE')).reason, /exceeds 65536/);
  assert.equal(handled, 0, 'the handler never sees a refused request');

  const ok = await rawAttempt(opts, { ':method': 'CONNECT', ':authority': '[fd00::1]:443' });
  assert.equal(ok.kind === 'response' && ok.status, 200);
});

test('garbage after the TLS handshake kills that session only; the server keeps serving', async (t) => {
  const pki = await makePki(t);
  const srv = await startServer(t, pki, echo);
  const sock = tls.connect(clientTls(pki, srv.port));
  sock.on('error', () => {});
  await once(sock, 'secureConnect');
  sock.resume(); // drain what the server sends (its SETTINGS and GOAWAY) so 'close' can follow its FIN
  sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n' + '\x00\xff'.repeat(100));
  await once(sock, 'close');
  assert.equal((await srv.refusal('PCL_HBONE_PROTOCOL_ERROR')).peer, CLIENT_ID);

  const c = client(pki, srv.port);
  t.after(() => c.destroy());
  const tunnel = await c.connect('10.0.0.1:443');
  tunnel.stream.end('still here');
  assert.equal(await readAll(tunnel.stream), 'still here');
});

test('a rapid-reset loop gets GOAWAY ENHANCE_YOUR_CALM while another client is unaffected', async (t) => {
  const pki = await makePki(t);
  // Handler that never answers, like a slow upstream dial: every reset lands before a response.
  const srv = await startServer(
    t,
    pki,
    async (req) => {
      if (req.authority.host === 'slow.example') return;
      await echo(req);
    },
    // A long window makes the test independent of timing: only the count matters.
    { maxResetsPerWindow: 10, resetWindowMs: 3_600_000 },
  );
  const good = client(pki, srv.port);
  t.after(() => good.destroy());
  const steady = await good.connect('10.0.0.1:443');

  const attacker = http2.connect(`https://127.0.0.1:${srv.port}`, {
    createConnection: () => tls.connect(clientTls(pki, srv.port)),
  });
  attacker.on('error', () => {});
  const goaway = once(attacker, 'goaway');
  await once(attacker, 'remoteSettings');
  for (let i = 0; i < 50 && !attacker.destroyed && !attacker.closed; i++) {
    try {
      const s = attacker.request({ ':method': 'CONNECT', ':authority': 'slow.example:443' }, { endStream: false });
      s.on('error', () => {});
      s.close(http2.constants.NGHTTP2_CANCEL);
    } catch {
      break;
    }
    await new Promise((r) => setImmediate(r));
  }
  const [code] = await goaway;
  assert.equal(code, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  assert.match((await srv.refusal('PCL_HBONE_RAPID_RESET')).reason, /limit 10/);
  attacker.destroy();

  steady.stream.end('unaffected');
  assert.equal(await readAll(steady.stream), 'unaffected');
});

test('tunnels over the server-wide limit are answered 503', async (t) => {
  const pki = await makePki(t);
  const srv = await startServer(t, pki, async (req) => void req.respond(200), { maxTunnels: 1 });
  const c = client(pki, srv.port);
  t.after(() => c.destroy());
  const first = await c.connect('10.0.0.1:443');
  await assert.rejects(
    c.connect('10.0.0.2:443'),
    (err: unknown) => err instanceof HboneStatusError && err.status === 503,
  );
  assert.equal((await srv.refusal('PCL_HBONE_TOO_MANY_TUNNELS')).status, 503);
  first.stream.destroy();
});

/** A raw TCP connection to the server from `source` (another 127/8 address is another peer). */
function tcpFrom(port: number, source = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: source }, () => resolve(s));
    s.once('error', reject);
  });
}

test('a TLS handshake begun after the handshake deadline is closed and its CONNECT never answered 200', async (t) => {
  const pki = await makePki(t);
  const srv = await startServer(t, pki, echo, { handshakeTimeoutMs: 300 });
  const late = await tcpFrom(srv.port);
  late.on('error', () => {});
  // Read while waiting (nothing arrives before a ClientHello), so a close by the server is seen.
  late.resume();
  await new Promise((r) => setTimeout(r, 900));
  if (!late.destroyed) {
    // Still open: begin the handshake now, well after the deadline. It must not become a tunnel.
    late.pause();
    const got = await rawAttempt(
      { ...clientTls(pki, srv.port), socket: late },
      { ':method': 'CONNECT', ':authority': '10.0.0.1:443' },
    );
    assert.equal(got.kind, 'error', `a late handshake got ${JSON.stringify(got)}`);
  }
  const refusal = await srv.refusal('PCL_HBONE_HANDSHAKE_TIMEOUT');
  assert.match(refusal.reason, /no verified client certificate 300 ms after connecting/);
  assert.equal(srv.server.sessionCount, 0);
});

test('handshakes are bounded per source and in all; the oldest gives way and a fresh workload is served', async (t) => {
  const pki = await makePki(t);
  const srv = await startServer(t, pki, echo, {
    maxPendingHandshakes: 6,
    maxPendingHandshakesPerSource: 2,
    maxConnections: 8,
    handshakeTimeoutMs: 60_000,
  });
  const held: net.Socket[] = [];
  t.after(() => held.forEach((s) => s.destroy()));
  for (let i = 0; i < 5; i++) held.push(await tcpFrom(srv.port, '127.0.0.2'));
  for (let a = 3; a < 9; a++)
    held.push(await tcpFrom(srv.port, `127.0.0.${a}`), await tcpFrom(srv.port, `127.0.0.${a}`));
  for (const s of held) s.on('error', () => {}).resume();
  await srv.refusal('PCL_HBONE_HANDSHAKE_LIMIT');
  assert.ok(srv.server.pendingHandshakes <= 6, `pending ${srv.server.pendingHandshakes}`);
  assert.ok(
    srv.refusals.some((r) => /from 127\.0\.0\.2 .*maxPendingHandshakesPerSource 2/.test(r.reason)),
    'the third from 127.0.0.2 was refused',
  );
  assert.ok(
    srv.refusals.some((r) =>
      /maxPendingHandshakes 6 reached: closed the connection longest in the TLS handshake/.test(r.reason),
    ),
  );
  const c = await rawAttempt(clientTls(pki, srv.port), { ':method': 'CONNECT', ':authority': '10.0.0.1:443' });
  assert.equal(c.kind, 'response');
  assert.equal(c.kind === 'response' && c.status, 200);
});
