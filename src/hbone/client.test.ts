/** The HBONE client: pooling by stream limit, exact SAN verification, no SNI, h2 only. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http2 from 'node:http2';
import { PortcullisError } from '../errors/portcullis-error.ts';
import { issueWorkloadCert } from '../identity/ca.ts';
import { StaticCertificateSource } from '../identity/cert-store.ts';
import { HboneClient } from './client.ts';
import type { HboneRequest } from './server.ts';
import { GATEWAY_ID, TRUST_DOMAIN, makePki, readAll, startServer } from '../../test/support/hbone.ts';
import { createHboneServer } from './server.ts';

test('the pool opens a second session when the first reaches the peer stream limit', async (t) => {
  const pki = await makePki(t);
  const held: HboneRequest[] = [];
  const srv = await startServer(
    t,
    pki,
    async (req) => {
      held.push(req);
      req.respond(200);
    },
    { maxStreamsPerSession: 2 },
  );
  const c = new HboneClient({
    certificates: pki.client,
    gateway: { host: '127.0.0.1', port: srv.port },
    expectedSans: [GATEWAY_ID],
    keepaliveIntervalMs: 0,
  });
  t.after(() => c.destroy());
  const tunnels = await Promise.all([c.connect('10.0.0.1:1'), c.connect('10.0.0.1:2'), c.connect('10.0.0.1:3')]);
  assert.equal(tunnels.length, 3);
  assert.equal(c.sessionCount, 2);
  assert.equal(new Set(held.map((r) => r.sessionId)).size, 2);
  assert.equal(srv.server.sessionCount, 2);
  // Once a stream ends, its slot is reused rather than a third session opened.
  const closed = once(tunnels[0].stream, 'close');
  tunnels[0].stream.destroy();
  await closed;
  await c.connect('10.0.0.1:4');
  assert.equal(c.sessionCount, 2);
});

test("the client refuses a gateway that does not present an expected SAN, with ztunnel's message", async (t) => {
  const pki = await makePki(t);
  let handled = 0;
  const srv = await startServer(t, pki, async (req) => {
    handled++;
    req.respond(200);
  });
  const c = new HboneClient({
    certificates: pki.client,
    gateway: { host: '127.0.0.1', port: srv.port },
    keepaliveIntervalMs: 0,
  });
  t.after(() => c.destroy());
  await assert.rejects(
    c.connect('10.0.0.1:443', { expectedSans: ['spiffe://cluster.local/ns/egress/sa/waypoint'] }),
    (err: unknown) => {
      assert.ok(err instanceof PortcullisError);
      assert.equal(err.code, 'PCL_IDENTITY_SAN_MISMATCH');
      assert.equal(
        err.message,
        `identity verification error: peer did not present the expected SAN (spiffe://cluster.local/ns/egress/sa/waypoint), got ${GATEWAY_ID}`,
      );
      return true;
    },
  );
  assert.equal(handled, 0);
  // The same client reaches the gateway when it expects the right identity.
  const ok = await c.connect('10.0.0.1:443', { expectedSans: ['spiffe://cluster.local/ns/other/sa/x', GATEWAY_ID] });
  assert.equal(ok.status, 200);
});

test('the client sends no SNI and speaks to a stock node HTTP/2 server', async (t) => {
  const pki = await makePki(t);
  const server = http2.createSecureServer({
    cert: pki.gateway.certChainPem,
    key: pki.gateway.keyPem,
    ca: pki.ca.rootCertPem,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
  });
  const servernames: Array<string | false | null> = [];
  server.on('secureConnection', (socket) => servernames.push(socket.servername));
  server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    stream.respond({ ':status': 200 });
    stream.end(`authority=${headers[':authority']}`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const { port } = server.address() as { port: number };
  // A hostname as gateway address: even then no SNI is sent (ztunnel `enable_sni = false`).
  const c = new HboneClient({
    certificates: pki.client,
    gateway: { host: 'localhost', port },
    expectedSans: [GATEWAY_ID],
    keepaliveIntervalMs: 0,
  });
  t.after(() => c.destroy());
  const tunnel = await c.connect('example.com:443');
  tunnel.stream.end();
  assert.equal(await readAll(tunnel.stream), 'authority=example.com:443');
  assert.deepEqual(servernames, [false]);
});

test('the server presents a rotated certificate to new sessions without a restart', async (t) => {
  const pki = await makePki(t);
  const certificates = new StaticCertificateSource(pki.gateway);
  const server = createHboneServer({
    certificates,
    trustDomain: TRUST_DOMAIN,
    handler: async (req) => void req.respond(200),
    limits: { keepaliveIntervalMs: 0 },
  });
  const { port } = await server.listen(0, '127.0.0.1');
  t.after(async () => {
    server.destroy();
    await server.close();
  });
  const rotatedId = 'spiffe://cluster.local/ns/istio-system/sa/egress-gateway-2';
  certificates.update(await issueWorkloadCert(pki.ca, { spiffe: rotatedId, ttl: 3_600_000 }));
  const c = new HboneClient({ certificates: pki.client, gateway: { host: '127.0.0.1', port }, keepaliveIntervalMs: 0 });
  t.after(() => c.destroy());
  await assert.rejects(c.connect('10.0.0.1:443', { expectedSans: [GATEWAY_ID] }), /expected SAN/);
  assert.equal((await c.connect('10.0.0.1:443', { expectedSans: [rotatedId] })).status, 200);
});

test('connect refuses a malformed authority before touching the network', async (t) => {
  const pki = await makePki(t);
  const c = new HboneClient({
    certificates: pki.client,
    gateway: { host: '127.0.0.1', port: 1 },
    expectedSans: [GATEWAY_ID],
  });
  await assert.rejects(
    c.connect('no-port'),
    (err: unknown) => err instanceof PortcullisError && err.code === 'PCL_HBONE_BAD_AUTHORITY',
  );
  assert.equal(c.sessionCount, 0);
});
