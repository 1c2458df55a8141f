/**
 * Hostile input at the data-plane level, on a gateway started in-process with `startGateway` on seed 000 plus one
 * test ServiceEntry: SNI fronting through an allowed VIP, a name that resolves to the cloud metadata address, a
 * policy change that closes an open tunnel, and the front door (connections that never finish TLS, late handshakes,
 * one identity or one connection taking every tunnel). dnsmasq is the DNS server; certificates come from the
 * project's CA. Tests that name a non-loopback address run in a second copy of this file inside a network namespace
 * holding only loopback (the last test starts it).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as tls from 'node:tls';
import * as http2 from 'node:http2';
import { startGateway, type RunningGateway } from '../src/gateway/gateway.ts';
import {
  IN_LOOPBACK_NETNS,
  loopbackNetnsUnavailable,
  onlyLoopback,
  runInLoopbackNetns,
} from './support/loopback-netns.ts';
import { configFrom, EXAMPLES } from './support/cli.ts';
import { hasDnsmasq } from './support/dnsmasq.ts';
import { makeTestPki } from './support/pki.ts';
import { caller, httpGet, tlsOver } from './support/hbone-caller.ts';
import { waitForLogLine } from './support/log-file.ts';
import { GATEWAY_ID, SEED_SETTINGS, startSeedEnv, type SeedEnv } from './support/seed-env.ts';

const SKIP = hasDnsmasq() ? false : 'dnsmasq not installed: apt-get install dnsmasq';

/** A test that names a non-loopback address: registered only in the copy running in the loopback-only namespace. */
const nsTest: typeof test = IN_LOOPBACK_NETNS ? test : ((() => {}) as unknown as typeof test);
/** A test on loopback only: registered in the ordinary run. */
const hostTest: typeof test = IN_LOOPBACK_NETNS ? ((() => {}) as unknown as typeof test) : test;

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
  if (IN_LOOPBACK_NETNS && !onlyLoopback())
    throw new Error('interfaces other than lo are present: refusing to feed the gateway non-loopback addresses');
  env = await startSeedEnv({ 'metadata.attacker.example': '169.254.169.254' });
  cleanups.push(() => env.close());
  const cfg = configFrom('seed-000', {
    extra: {
      'portcullis.yaml': SEED_SETTINGS,
      'serviceentry.yaml': env.serviceEntry(),
      'metadata-trap.yaml': METADATA_TRAP,
    },
  });
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
  const c = caller(
    await env.pki.workload('bookinfo', 'bookinfo-productpage'),
    { host: '127.0.0.1', port: gw.hbonePort },
    GATEWAY_ID,
  );
  cleanups.push(() => c.close());
  return c;
}

function httpbinVip(): string {
  const se = [...gw.snapshot().serviceEntries.values()].find((s) => s.name === 'httpbin-org')!;
  return se.vips.find((v) => !v.value.includes(':'))!.value;
}

nsTest(
  'the VIP with the right SNI gets through; the same VIP with SNI evil.example is cut off',
  { skip: SKIP, timeout: 60_000 },
  async () => {
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
  },
);

nsTest(
  'a name that resolves to 169.254.169.254 is refused by the private-address guard',
  { skip: SKIP, timeout: 60_000 },
  async () => {
    const pp = await productpage();
    const r = await pp.connect('metadata.attacker.example:80');
    assert.ok(!r.ok);
    assert.equal(r.status, 401);
    assert.match(
      r.reason,
      /^PCL_DATAPLANE_PRIVATE_ADDRESS: metadata\.attacker\.example resolves to 169\.254\.169\.254 .*link-local/,
    );
    const line = await waitForLogLine(
      logFile,
      (l) => l.authority === 'metadata.attacker.example:80',
      'the metadata refusal',
    );
    assert.equal(line.code, 'PCL_DATAPLANE_PRIVATE_ADDRESS');
    assert.equal(line.upstream_address, null);
    // Both policy layers allowed it: the refusal is the guard's alone.
    assert.deepEqual(
      (line.policies as { decision: string }[]).map((l) => l.decision),
      ['allow', 'allow'],
    );
  },
);

hostTest(
  'a policy change closes an open tunnel that lost its permission and logs it',
  { skip: SKIP, timeout: 60_000 },
  async () => {
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

    const line = await waitForLogLine(
      logFile,
      (l) => l.code === 'PCL_DATAPLANE_POLICY_CHANGED',
      'the policy-change close',
    );
    assert.match(
      line.reason as string,
      /^connection closed due to policy change \(PCL_AUTHZ_DENIED_EXPLICIT: explicitly denied by: istio-system\/deny-default-egress\)/,
    );
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
  },
);

hostTest(
  'a caller with a certificate from another CA is refused at TLS, logged, and everyone else keeps being served',
  { skip: SKIP, timeout: 60_000 },
  async () => {
    const stranger = await makeTestPki();
    cleanups.push(() => stranger.cleanup());
    const c = caller(
      await stranger.workload('bookinfo', 'bookinfo-productpage'),
      { host: '127.0.0.1', port: gw.hbonePort },
      GATEWAY_ID,
    );
    cleanups.push(() => c.close());
    await assert.rejects(c.connect('httpbin.org:443'));
    const line = await waitForLogLine(
      logFile,
      (l) => l.type === 'refusal' && l.code === 'PCL_HBONE_TLS_HANDSHAKE_FAILED',
      'the TLS refusal',
    );
    assert.equal(line.stage, 'tls');
    assert.match(line.peer_address as string, /^127\.0\.0\.1:\d+$/);
    const pp = await productpage();
    const ok = await pp.connect('httpbin.org:443');
    assert.ok(ok.ok);
    ok.tunnel.stream.destroy();
  },
);

// ---- the front door: what a peer can hold before and after it authenticates ----

/** Tight limits, so the tests reach them with a few hundred sockets. */
const DOOR_LIMITS = `
limits:
  maxConnections: 48
  maxPendingHandshakes: 16
  maxPendingHandshakesPerSource: 4
  handshakeTimeout: 60s
  maxTunnelsPerIdentity: 3
  maxTunnelsPerSession: 2
`;

let door: RunningGateway | null = null;
let doorConfig = '';
let doorLog = '';

async function frontDoor(): Promise<RunningGateway> {
  if (door !== null) return door;
  const cfg = configFrom('seed-000', {
    extra: { 'portcullis.yaml': SEED_SETTINGS + DOOR_LIMITS, 'serviceentry.yaml': env.serviceEntry() },
  });
  cleanups.push(cfg.cleanup);
  doorConfig = cfg.dir;
  doorLog = join(mkdtempSync(join(tmpdir(), 'portcullis-door-')), 'access.log');
  door = await startGateway({
    configDir: cfg.dir,
    caDir: env.pki.caDir,
    listen: { host: '127.0.0.1', port: 0 },
    admin: null,
    dnsServers: [env.dns.server],
    log: doorLog,
    drainMs: 0,
    configDebounceMs: 20,
  });
  const started = door;
  cleanups.push(() => started.close());
  return started;
}

/** The first flight of a real TLS 1.3 client: what an attacker sends before stopping or trickling. */
async function clientHelloBytes(): Promise<Buffer> {
  const sink = net.createServer();
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const got = new Promise<Buffer>((resolve) =>
    sink.once('connection', (s) => s.once('data', (d: Buffer) => (resolve(d), s.destroy()))),
  );
  const c = tls.connect({
    host: '127.0.0.1',
    port: (sink.address() as net.AddressInfo).port,
    servername: 'x',
    ALPNProtocols: ['h2'],
  });
  c.on('error', () => {});
  const hello = await got;
  c.destroy();
  sink.close();
  return hello;
}

/** A raw TCP connection to the gateway from `source` (another 127/8 address is another peer). */
function rawFrom(source: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: source }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves when the gateway has closed `s` (it is read, so the FIN is seen). */
function closedByPeer(s: net.Socket): Promise<void> {
  s.on('error', () => {});
  s.resume();
  return new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
}

async function metric(gw: RunningGateway, name: string, labels: Record<string, string>): Promise<number> {
  const m = await gw.registry.getSingleMetric(name)?.get();
  const v = m?.values.find((x) => Object.entries(labels).every(([k, want]) => String(x.labels[k]) === want));
  return v?.value ?? 0;
}

hostTest(
  'silent, half-sent and trickling TLS connections from one or many addresses never lock a workload out',
  { skip: SKIP, timeout: 120_000 },
  async () => {
    const gw = await frontDoor();
    const hello = await clientHelloBytes();
    // A workload with a session open before the flood.
    const early = caller(
      await env.pki.workload('bookinfo', 'bookinfo-productpage'),
      { host: '127.0.0.1', port: gw.hbonePort },
      GATEWAY_ID,
    );
    cleanups.push(() => early.close());
    const warm = await early.connect('httpbin.org:443');
    assert.ok(warm.ok, warm.ok ? '' : `${warm.status} ${warm.reason}`);
    warm.tunnel.stream.destroy();

    const attackers: net.Socket[] = [];
    const drips: NodeJS.Timeout[] = [];
    try {
      // One address: 60 silent, 20 half a ClientHello, 10 trickling a byte every 50 ms.
      for (let i = 0; i < 90; i++) {
        const s = await rawFrom('127.0.0.2', gw.hbonePort);
        s.on('error', () => {});
        attackers.push(s);
        if (i >= 60 && i < 80) s.write(hello.subarray(0, hello.length >> 1));
        if (i >= 80) {
          let at = 0;
          drips.push(setInterval(() => !s.destroyed && at < hello.length && s.write(hello.subarray(at, ++at)), 50));
        }
      }
      // Many addresses: 4 silent connections each from 127.0.0.10 to 127.0.0.59 (200, over every limit).
      for (let a = 10; a < 60; a++) {
        for (let i = 0; i < 4; i++) {
          const s = await rawFrom(`127.0.0.${a}`, gw.hbonePort);
          s.on('error', () => {});
          attackers.push(s);
        }
      }
      for (const s of attackers) s.resume(); // read, so a close by the gateway is seen
      const pending = await metric(gw, 'portcullis_hbone_connections', { state: 'handshake' });
      assert.ok(pending <= 16, `at most maxPendingHandshakes (16) connections in the handshake, saw ${pending}`);

      // A new workload connection gets through, and the one established before the flood keeps working.
      const late = caller(
        await env.pki.workload('bookinfo', 'bookinfo-productpage'),
        { host: '127.0.0.1', port: gw.hbonePort },
        GATEWAY_ID,
      );
      cleanups.push(() => late.close());
      const fresh = await late.connect('httpbin.org:443');
      assert.ok(fresh.ok, fresh.ok ? '' : `${fresh.status} ${fresh.reason}`);
      const sock = await tlsOver(fresh.tunnel, 'httpbin.org', env.pki.ca.rootCertPem);
      assert.equal((await httpGet(sock, 'httpbin.org', '/get')).status, 200);
      const again = await early.connect('httpbin.org:443');
      assert.ok(again.ok, again.ok ? '' : `${again.status} ${again.reason}`);
      again.tunnel.stream.destroy();
      sock.destroy();
      fresh.tunnel.stream.destroy();

      // The gateway holds no more of them than maxPendingHandshakes: the rest were closed (their FINs arrive in turn).
      let stillOpen = attackers.length;
      for (let i = 0; i < 400 && stillOpen > 16; i++) {
        await new Promise((r) => setTimeout(r, 25));
        stillOpen = attackers.filter((s) => !s.destroyed && !s.readableEnded).length;
      }
      assert.ok(
        stillOpen <= 16,
        `at most maxPendingHandshakes (16) attacker connections stay open, saw ${stillOpen} of ${attackers.length}`,
      );
      assert.ok((await metric(gw, 'portcullis_hbone_refusals_total', { code: 'PCL_HBONE_HANDSHAKE_LIMIT' })) > 0);
      const line = await waitForLogLine(
        doorLog,
        (l) =>
          l.type === 'refusal' &&
          l.code === 'PCL_HBONE_HANDSHAKE_LIMIT' &&
          /maxPendingHandshakesPerSource/.test(String(l.reason)),
        'a per-source refusal',
      );
      assert.match(line.peer_address as string, /^127\.0\.0\.2:\d+$/);
    } finally {
      for (const d of drips) clearInterval(d);
      for (const s of attackers) s.destroy();
    }
  },
);

hostTest(
  'one identity and one connection cannot take every tunnel: 503 naming the limit, others still decided',
  { skip: SKIP, timeout: 60_000 },
  async () => {
    const gw = await frontDoor();
    // Earlier tests' tunnels of productpage are gone before its count starts.
    for (
      let i = 0;
      i < 400 && (await metric(gw, 'portcullis_open_tunnels', { source_workload_namespace: 'bookinfo' })) > 0;
      i++
    ) {
      await new Promise((r) => setTimeout(r, 25));
    }
    const pp = caller(
      await env.pki.workload('bookinfo', 'bookinfo-productpage'),
      { host: '127.0.0.1', port: gw.hbonePort },
      GATEWAY_ID,
    );
    cleanups.push(() => pp.close());
    const held: { stream: http2.ClientHttp2Stream }[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const r = await pp.connect('httpbin.org:443');
        assert.ok(r.ok, r.ok ? '' : `${r.status} ${r.reason}`);
        held.push(r.tunnel);
      }
      const third = await pp.connect('httpbin.org:443');
      assert.ok(!third.ok && third.status === 503, 'a third tunnel on the same connection is refused');
      assert.match(third.reason, /^this connection carries its maximum of 2 tunnels \(maxTunnelsPerSession\)/);

      // A second connection of the same identity: one more tunnel (3 in all), then the identity's limit.
      const pp2 = caller(
        await env.pki.workload('bookinfo', 'bookinfo-productpage'),
        { host: '127.0.0.1', port: gw.hbonePort },
        GATEWAY_ID,
      );
      cleanups.push(() => pp2.close());
      const r3 = await pp2.connect('httpbin.org:443');
      assert.ok(r3.ok, r3.ok ? '' : `${r3.status} ${r3.reason}`);
      held.push(r3.tunnel);
      const r4 = await pp2.connect('httpbin.org:443');
      assert.ok(!r4.ok && r4.status === 503);
      assert.match(
        r4.reason,
        /spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/bookinfo-productpage holds its maximum of 3 tunnels \(maxTunnelsPerIdentity\)/,
      );

      // Another identity is not affected by productpage's count: it still gets its tunnel.
      const reviews = caller(
        await env.pki.workload('bookinfo', 'bookinfo-reviews'),
        { host: '127.0.0.1', port: gw.hbonePort },
        GATEWAY_ID,
      );
      cleanups.push(() => reviews.close());
      const other = await reviews.connect('httpbin.org:443');
      assert.ok(other.ok, other.ok ? '' : `reviews was refused: ${other.status} ${other.reason}`);
      held.push(other.tunnel);
      assert.ok(
        (await metric(gw, 'portcullis_hbone_refusals_total', { code: 'PCL_HBONE_IDENTITY_TUNNEL_LIMIT' })) >= 1,
      );
      assert.ok((await metric(gw, 'portcullis_hbone_refusals_total', { code: 'PCL_HBONE_SESSION_TUNNEL_LIMIT' })) >= 1);
      assert.ok(
        (await metric(gw, 'portcullis_open_tunnels', {
          gateway: 'istio-system/ztunnel-egress',
          source_workload_namespace: 'bookinfo',
        })) >= 1,
      );

      // Closing one of productpage's tunnels frees a slot for it.
      const closing = r3.tunnel;
      const gone = new Promise<void>((r) => closing.stream.once('close', () => r()));
      closing.stream.destroy();
      await gone;
      for (let i = 0; i < 100; i++) {
        const retry = await pp2.connect('httpbin.org:443');
        if (retry.ok) {
          held.push(retry.tunnel);
          return;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.fail('a closed tunnel never gave its slot back');
    } finally {
      for (const t of held) t.stream.destroy();
    }
  },
);

hostTest(
  'a handshake finished after the timeout is closed and never gets a CONNECT 200; silent and trickling ones are cut',
  { skip: SKIP, timeout: 60_000 },
  async () => {
    const gw = await frontDoor();
    // Shorten the deadline by editing portcullis.yaml: limits apply on reload, to new connections.
    writeFileSync(
      join(doorConfig, 'portcullis.yaml'),
      SEED_SETTINGS + DOOR_LIMITS.replace('handshakeTimeout: 60s', 'handshakeTimeout: 1s'),
    );
    await gw.reload();
    const hello = await clientHelloBytes();

    const silent = await rawFrom('127.0.0.3', gw.hbonePort);
    const trickler = await rawFrom('127.0.0.4', gw.hbonePort);
    let at = 0;
    const drip = setInterval(
      () => !trickler.destroyed && at < hello.length && trickler.write(hello.subarray(at, ++at)),
      50,
    );
    const late = await rawFrom('127.0.0.5', gw.hbonePort);
    late.on('error', () => {});
    try {
      await Promise.all([closedByPeer(silent), closedByPeer(trickler)]);
    } finally {
      clearInterval(drip);
    }
    // The late one starts a real handshake, with a valid workload certificate, after its deadline.
    await new Promise((r) => setTimeout(r, 2000));
    const cert = await env.pki.workload('bookinfo', 'bookinfo-productpage');
    const outcome = await new Promise<string>((resolve) => {
      if (late.destroyed || late.readableEnded) return resolve('closed before the handshake');
      const session = http2.connect(`https://127.0.0.1:${gw.hbonePort}`, {
        createConnection: () =>
          tls.connect({
            socket: late,
            cert: cert.certChainPem,
            key: cert.keyPem,
            ca: env.pki.ca.rootCertPem,
            ALPNProtocols: ['h2'],
            checkServerIdentity: () => undefined,
          }),
      });
      session.on('error', (err) => resolve(`session error: ${err.message}`));
      session.on('close', () => resolve('session closed'));
      const req = session.request({ ':method': 'CONNECT', ':authority': 'httpbin.org:443' });
      req.on('error', () => {});
      req.on('response', (h) => resolve(`answered ${h[':status']}`));
    });
    assert.doesNotMatch(outcome, /answered 200/, 'a handshake after the deadline must not open a tunnel');
    const timeouts = await waitForLogLine(
      doorLog,
      (l) =>
        l.type === 'refusal' &&
        l.code === 'PCL_HBONE_HANDSHAKE_TIMEOUT' &&
        String(l.peer_address).startsWith('127.0.0.5:'),
      'the late handshake timeout',
    );
    assert.match(timeouts.reason as string, /no verified client certificate 1000 ms after connecting/);
    for (const source of ['127.0.0.3', '127.0.0.4']) {
      await waitForLogLine(
        doorLog,
        (l) => l.code === 'PCL_HBONE_HANDSHAKE_TIMEOUT' && String(l.peer_address).startsWith(`${source}:`),
        `the timeout of ${source}`,
      );
    }
    // A workload that handshakes promptly is still served, with the deadline back at its old value.
    writeFileSync(join(doorConfig, 'portcullis.yaml'), SEED_SETTINGS + DOOR_LIMITS);
    await gw.reload();
    const pp = caller(cert, { host: '127.0.0.1', port: gw.hbonePort }, GATEWAY_ID);
    cleanups.push(() => pp.close());
    const ok = await pp.connect('httpbin.org:443');
    assert.ok(ok.ok, ok.ok ? '' : `${ok.status} ${ok.reason}`);
    ok.tunnel.stream.destroy();
  },
);

hostTest(
  'limits.tcpIdleTimeout closes a silent tunnel with SI and PCL_DATAPLANE_IDLE_TIMEOUT; bytes keep one open',
  { skip: SKIP, timeout: 60_000 },
  async () => {
    const gw = await frontDoor();
    writeFileSync(join(doorConfig, 'portcullis.yaml'), SEED_SETTINGS + DOOR_LIMITS + '  tcpIdleTimeout: 1500ms\n');
    await gw.reload();
    const pp = caller(
      await env.pki.workload('bookinfo', 'bookinfo-productpage'),
      { host: '127.0.0.1', port: gw.hbonePort },
      GATEWAY_ID,
    );
    cleanups.push(() => pp.close());
    try {
      const r = await pp.connect('httpbin.org:443');
      assert.ok(r.ok, r.ok ? '' : `${r.status} ${r.reason}`);
      const sock = await tlsOver(r.tunnel, 'httpbin.org', env.pki.ca.rootCertPem);
      sock.on('error', () => {});
      const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
      // Traffic within the timeout keeps it open: three requests 100 ms apart on one connection.
      for (let i = 0; i < 3; i++) {
        sock.write('GET /get HTTP/1.1\r\nHost: httpbin.org\r\n\r\n');
        await new Promise((res) => setTimeout(res, 100));
      }
      assert.ok(!sock.destroyed, 'a tunnel carrying bytes is not idle');
      await closed;
      const line = await waitForLogLine(
        doorLog,
        (l) => l.code === 'PCL_DATAPLANE_IDLE_TIMEOUT' && l.response_flags === 'SI',
        'the idle close',
      );
      assert.match(line.reason as string, /no bytes either way for 1500 ms/);
    } finally {
      writeFileSync(join(doorConfig, 'portcullis.yaml'), SEED_SETTINGS + DOOR_LIMITS);
      await gw.reload();
    }
  },
);

hostTest(
  'limits.httpIdleTimeout closes an L7 tunnel that carries no request',
  { skip: SKIP, timeout: 60_000 },
  async () => {
    // The quickstart (both seeds on one gateway): an L7 tunnel is answered 200 at once, before any request.
    const settings =
      readFileSync(join(EXAMPLES, 'quickstart', 'portcullis.yaml'), 'utf8') + '\nlimits:\n  httpIdleTimeout: 1s\n';
    const cfg = configFrom('quickstart', { extra: { 'portcullis.yaml': settings } });
    cleanups.push(cfg.cleanup);
    const logFile7 = join(mkdtempSync(join(tmpdir(), 'portcullis-l7idle-')), 'access.log');
    const gw7 = await startGateway({
      configDir: cfg.dir,
      caDir: env.pki.caDir,
      listen: { host: '127.0.0.1', port: 0 },
      admin: null,
      dnsServers: [env.dns.server],
      log: logFile7,
      drainMs: 0,
    });
    cleanups.push(() => gw7.close());
    const app1 = caller(
      await env.pki.workload('team-namespace', 'app1'),
      { host: '127.0.0.1', port: gw7.hbonePort },
      'spiffe://cluster.local/ns/istio-egress/sa/egress-waypoint',
    );
    cleanups.push(() => app1.close());
    const r = await app1.connect('my-nginx.foo.bar:80');
    assert.ok(r.ok, r.ok ? '' : `${r.status} ${r.reason}`);
    r.tunnel.stream.on('error', () => {});
    r.tunnel.stream.resume();
    await new Promise<void>((resolve) => r.tunnel.stream.once('close', () => resolve()));
    const line = await waitForLogLine(logFile7, (l) => l.code === 'PCL_DATAPLANE_IDLE_TIMEOUT', 'the L7 idle close');
    assert.equal(line.response_flags, 'SI');
    assert.equal(line.authority, 'my-nginx.foo.bar:80');
    assert.match(line.reason as string, /no bytes either way for 1000 ms/);
  },
);

// ---- the cases above that name non-loopback addresses, run where no packet can leave ----

hostTest(
  'the cases naming non-loopback addresses pass in a network namespace holding only loopback',
  { skip: SKIP || loopbackNetnsUnavailable(), timeout: 240_000 },
  async () => {
    const r = await runInLoopbackNetns(fileURLToPath(import.meta.url), 230_000);
    assert.equal(r.status, 0, r.output);
    const passed = Number(/^# pass (\d+)$/m.exec(r.output)?.[1] ?? 0);
    assert.ok(passed >= 3, `the namespace run passed ${passed} tests:\n${r.output}`);
  },
);

nsTest('this copy runs in a network namespace whose only interface is lo', () => {
  assert.ok(
    onlyLoopback(),
    'interfaces other than lo are present: refusing to feed the gateway non-loopback addresses',
  );
});
