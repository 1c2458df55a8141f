/**
 * The gateway's identity from istiod, end to end against the fake certificate service: the serving certificate
 * carries the asked identity and a caller trusting only the mesh root gets through; a short lifetime shows renewal
 * with an open tunnel unaffected; istiod down at renewal keeps the old certificate until it expires (then not ready,
 * new tunnels refused) and recovers; a wrong token, an empty chain and a wrong SAN stop the start with a clear error;
 * `agent` gets its workload certificate the same way. No CA private key is given to serve or agent.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGateway, type RunningGateway } from '../src/gateway/gateway.ts';
import type { IstiodSettings } from '../src/identity/istiod-identity.ts';
import { spiffeIdentities } from '../src/identity/peer-identity.ts';
import { echoThrough, httpConnect } from './support/agent-clients.ts';
import { TEST_MANIFESTS, TEST_SETTINGS } from './support/agent-config.ts';
import { configFrom, REPO, runCli } from './support/cli.ts';
import { hasDnsmasq } from './support/dnsmasq.ts';
import { createTestPki, startFakeGateway } from './support/fake-gateway.ts';
import { startFakeIstiod, type FakeIstiod } from './support/fake-istiod.ts';
import { caller, httpGet, tlsOver } from './support/hbone-caller.ts';
import { rawAttempt } from './support/hbone.ts';
import { waitForLogLine } from './support/log-file.ts';
import { GATEWAY_ID, SEED_SETTINGS, startSeedEnv, type SeedEnv } from './support/seed-env.ts';
import { freePort } from './support/free-port.ts';
import { startServe } from './support/serve-process.ts';

const SKIP = hasDnsmasq() ? false : 'dnsmasq not installed: apt-get install dnsmasq';
const GATEWAY_REF = 'istio-system/ztunnel-egress';

let env: SeedEnv;
let istiod: FakeIstiod;
let dir: string;
let rootFile: string;
let tokenFile: string;
let configDir: string;
const cleanups: (() => unknown)[] = [];

before(async () => {
  if (SKIP) return;
  env = await startSeedEnv();
  cleanups.push(() => env.close());
  istiod = await startFakeIstiod(env.pki.ca);
  cleanups.push(() => istiod.stop());
  dir = mkdtempSync(join(tmpdir(), 'portcullis-istiod-e2e-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  rootFile = join(dir, 'root-cert.pem');
  tokenFile = join(dir, 'istio-token');
  writeFileSync(rootFile, env.pki.ca.rootCertPem);
  writeFileSync(tokenFile, istiod.token);
  const cfg = configFrom('seed-000', {
    extra: { 'portcullis.yaml': SEED_SETTINGS, 'serviceentry.yaml': env.serviceEntry() },
  });
  cleanups.push(cfg.cleanup);
  configDir = cfg.dir;
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/**
 * The certificate the gateway presents to a new handshake (serial and SPIFFE IDs), with a caller's certificate.
 * Not verified here, so an expired one is seen too; the callers in the tests verify against the root.
 */
async function presented(port: number): Promise<{ serial: string; ids: string[] }> {
  const client = await env.pki.workload('bookinfo', 'bookinfo-productpage');
  return new Promise((resolve, reject) => {
    const s = tls.connect(
      {
        host: '127.0.0.1',
        port,
        cert: client.certChainPem,
        key: client.keyPem,
        ALPNProtocols: ['h2'],
        rejectUnauthorized: false,
      },
      () => {
        const peer = s.getPeerX509Certificate()!;
        resolve({ serial: peer.serialNumber, ids: spiffeIdentities(peer.raw).map((i) => i.uri) });
        s.destroy();
      },
    );
    s.once('error', reject);
  });
}

function settings(extra: Partial<IstiodSettings> = {}): IstiodSettings {
  return {
    address: istiod.address,
    rootCertFile: rootFile,
    tokenFile,
    identity: 'istio-system/ztunnel-egress',
    minBackoffMs: 200,
    maxBackoffMs: 1000,
    ...extra,
  };
}

async function inProcess(extra: Partial<IstiodSettings>, logFile: string): Promise<RunningGateway> {
  const gw = await startGateway({
    configDir,
    istiod: settings(extra),
    gateways: [GATEWAY_REF],
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    dnsServers: [env.dns.server],
    log: logFile,
    drainMs: 0,
  });
  cleanups.push(() => gw.close());
  return gw;
}

async function ready(gw: RunningGateway): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://${gw.adminAddress}/ready`);
  return { status: res.status, text: await res.text() };
}

async function until<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The flags every test here starts `serve` with: the config and a certificate from the fake istiod. */
function istiodServeFlags(): string[] {
  return [
    '--config',
    configDir,
    '--ca-address',
    istiod.address,
    '--ca-root-cert',
    rootFile,
    '--ca-token-file',
    tokenFile,
    '--identity',
    'istio-system/ztunnel-egress',
  ];
}

test('serve --ca-address: the certificate names the asked identity, a caller trusting only the root gets through, kubelet health on its own port', {
  skip: SKIP,
  timeout: 60_000,
}, async () => {
  const health = await freePort();
  const gw = await startServe(
    [
      ...istiodServeFlags(),
      '--gateway',
      GATEWAY_REF,
      '--health',
      `127.0.0.1:${health}`,
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      '--dns-server',
      env.dns.server,
      '--drain-seconds',
      '0',
      '--workers',
      '1',
    ],
    join(dir, 'access-cli.log'),
  );
  cleanups.push(() => gw.stop());
  const asked = istiod.requests.at(-1)!;
  assert.equal(asked.authorization, `Bearer ${istiod.token}`);
  assert.deepEqual(asked.uris, [GATEWAY_ID]);
  assert.equal(asked.validitySeconds, 24 * 3600, 'the default --cert-ttl is 24h');
  assert.deepEqual((await presented(gw.hbone.port)).ids, [GATEWAY_ID]);

  const productpage = caller(await env.pki.workload('bookinfo', 'bookinfo-productpage'), gw.hbone, GATEWAY_ID);
  cleanups.push(() => productpage.close());
  const ok = await productpage.connect('httpbin.org:443');
  assert.ok(ok.ok, ok.ok ? '' : `refused ${ok.status}: ${ok.reason}`);
  const res = await httpGet(await tlsOver(ok.tunnel, 'httpbin.org', env.pki.ca.rootCertPem), 'httpbin.org', '/get');
  assert.equal(res.status, 200);

  const probe = await fetch(`http://127.0.0.1:${health}/healthz/ready`);
  assert.equal(probe.status, 200);
  assert.match(await probe.text(), /^ready: generation/);
  assert.equal(
    (await fetch(`http://127.0.0.1:${health}/config_dump`)).status,
    404,
    'the health port shows nothing else',
  );
  assert.doesNotMatch((await gw.admin_get('/ready')).text, /PCL_IDENTITY_DEV_CA_KEY/);
  const expiresAt = Number(
    /^portcullis_serving_certificate_expiry_timestamp_seconds (\d+)$/m.exec((await gw.admin_get('/metrics')).text)?.[1],
  );
  assert.ok(
    expiresAt > Date.now() / 1000 + 23 * 3600 && expiresAt <= Date.now() / 1000 + 24 * 3600 + 60,
    `expiry ${expiresAt}`,
  );
});

test('a short lifetime: renewed at half life, new handshakes get the new certificate, an open tunnel carries on', {
  skip: SKIP,
  timeout: 60_000,
}, async () => {
  const before = istiod.requests.length;
  const gw = await inProcess({ ttlMs: 8000 }, join(dir, 'access-renew.log'));
  const first = await presented(gw.hbonePort);
  const productpage = caller(
    await env.pki.workload('bookinfo', 'bookinfo-productpage'),
    { host: '127.0.0.1', port: gw.hbonePort },
    GATEWAY_ID,
  );
  cleanups.push(() => productpage.close());
  const ok = await productpage.connect('httpbin.org:443');
  assert.ok(ok.ok, ok.ok ? '' : `refused ${ok.status}: ${ok.reason}`);
  const tunnelTls = await tlsOver(ok.tunnel, 'httpbin.org', env.pki.ca.rootCertPem);

  const renewed = await until('a renewed certificate', async () => {
    const now = await presented(gw.hbonePort);
    return now.serial !== first.serial ? now : null;
  });
  assert.deepEqual(renewed.ids, [GATEWAY_ID]);
  assert.ok(istiod.requests.length - before >= 2, 'istiod was asked again');
  assert.equal((await ready(gw)).status, 200);
  // The tunnel opened under the first certificate still works after the renewal.
  const res = await httpGet(tunnelTls, 'httpbin.org', '/get');
  assert.equal(res.status, 200);
  await gw.close();
});

test('istiod down at renewal: the old certificate stays until it expires, then not ready and new tunnels refused; back when istiod is', {
  skip: SKIP,
  timeout: 90_000,
}, async () => {
  const logFile = join(dir, 'access-down.log');
  const gw = await inProcess({ ttlMs: 10_000 }, logFile);
  const first = await presented(gw.hbonePort);
  await istiod.stop();
  try {
    const failure = await waitForLogLine(
      logFile,
      (l) => l.type === 'problem' && l.code === 'PCL_IDENTITY_ISTIOD_FAILED',
      'a failed renewal',
    );
    assert.match(JSON.stringify(failure), /istiod at 127\.0\.0\.1:\d+/);
    // With istiod down nothing can replace it: the certificate served is the first one, until and after expiry.
    assert.equal(
      (await presented(gw.hbonePort)).serial,
      first.serial,
      'the old certificate is served while renewal fails',
    );
    const notReady = await until('not ready after expiry', async () => {
      const x = await ready(gw);
      return x.status === 503 ? x : null;
    });
    assert.match(notReady.text, /PCL_IDENTITY_CERT_EXPIRED: the serving certificate expired at/);
    // A new tunnel is refused: a caller that checks the certificate will not accept it ...
    const late = caller(
      await env.pki.workload('bookinfo', 'bookinfo-productpage'),
      { host: '127.0.0.1', port: gw.hbonePort },
      GATEWAY_ID,
    );
    cleanups.push(() => late.close());
    const attempt = await late
      .connect('httpbin.org:443')
      .catch((err: Error) => ({ ok: false as const, status: 0, reason: err.message }));
    assert.equal(attempt.ok, false);
    // ... and one that does not look gets 503 from the gateway itself, naming the reason.
    const client = await env.pki.workload('bookinfo', 'bookinfo-productpage');
    const raw = await rawAttempt(
      {
        host: '127.0.0.1',
        port: gw.hbonePort,
        cert: client.certChainPem,
        key: client.keyPem,
        rejectUnauthorized: false,
        ALPNProtocols: ['h2'],
      },
      { ':method': 'CONNECT', ':authority': 'httpbin.org:443' },
    );
    assert.equal(raw.kind, 'response', JSON.stringify(raw));
    assert.equal(raw.kind === 'response' ? raw.status : 0, 503);
    assert.match(
      raw.kind === 'response' ? String(raw.headers['x-portcullis-reason']) : '',
      /^PCL_IDENTITY_CERT_EXPIRED: the serving certificate expired at /,
    );
    await waitForLogLine(
      logFile,
      (l) => l.type === 'problem' && l.code === 'PCL_IDENTITY_CERT_EXPIRED',
      'the expiry problem line',
    );
  } finally {
    await istiod.restart();
  }
  await until('ready again once istiod answers', async () => ((await ready(gw)).status === 200 ? true : null));
  assert.notEqual((await presented(gw.hbonePort)).serial, first.serial);
  await gw.close();
});

test('serve --workers 2: a worker whose certificate expired makes the primary not ready, until istiod answers', {
  skip: SKIP,
  timeout: 90_000,
}, async () => {
  const health = await freePort();
  const gw = await startServe(
    [
      ...istiodServeFlags(),
      '--cert-ttl',
      '8s',
      '--health',
      `127.0.0.1:${health}`,
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      '--dns-server',
      env.dns.server,
      '--drain-seconds',
      '0',
      '--workers',
      '2',
    ],
    join(dir, 'access-workers.log'),
  );
  cleanups.push(() => gw.stop());
  assert.equal((await gw.admin_get('/ready')).status, 200);
  await istiod.stop();
  try {
    const notReady = await until('the primary not ready', async () => {
      const r = await gw.admin_get('/ready');
      return r.status === 503 ? r.text : null;
    });
    assert.match(notReady, /^worker \d+: PCL_IDENTITY_CERT_EXPIRED: the serving certificate expired at /m);
    const probe = await fetch(`http://127.0.0.1:${health}/healthz/ready`);
    assert.equal(probe.status, 503);
  } finally {
    await istiod.restart();
  }
  await until('ready again', async () => ((await gw.admin_get('/ready')).status === 200 ? true : null));
  assert.equal(await gw.stop(), 0);
});

test('a wrong token, an empty chain and a wrong SAN stop the start with a clear error', {
  skip: SKIP,
  timeout: 60_000,
}, async () => {
  const bad = join(dir, 'bad-token');
  writeFileSync(bad, 'wrong');
  const r = await runCli([
    'serve',
    // The usual flags with the token file swapped for the bad one.
    ...istiodServeFlags().map((f) => (f === tokenFile ? bad : f)),
    '--listen',
    '127.0.0.1:0',
    '--admin',
    '127.0.0.1:0',
    '--workers',
    '1',
  ]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /PCL_IDENTITY_ISTIOD_FAILED/);
  assert.match(r.stderr, /istiod at 127\.0\.0\.1:\d+: UNAUTHENTICATED/);

  for (const [mode, pattern] of [
    ['empty-chain', /empty certificate chain/],
    [
      'wrong-san',
      /signed a certificate for spiffe:\/\/cluster\.local\/ns\/other\/sa\/someone-else when spiffe:\/\/cluster\.local\/ns\/istio-system\/sa\/ztunnel-egress was asked for/,
    ],
  ] as const) {
    istiod.mode = mode;
    try {
      await assert.rejects(inProcess({}, join(dir, `access-${mode}.log`)), pattern);
    } finally {
      istiod.mode = 'sign';
    }
  }
});

test('--gateway naming a Gateway the certificate cannot name is refused, saying which and why', {
  skip: SKIP,
  timeout: 60_000,
}, async () => {
  await assert.rejects(
    startGateway({
      configDir,
      istiod: settings({ identity: 'istio-system/someone-else' }),
      gateways: [GATEWAY_REF],
      listen: { host: '127.0.0.1', port: 0 },
      admin: null,
      log: null,
    }),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'PCL_IDENTITY_GATEWAY_NOT_NAMED');
      assert.match(
        err.message,
        /Gateway istio-system\/ztunnel-egress needs the identity spiffe:\/\/cluster\.local\/ns\/istio-system\/sa\/ztunnel-egress, but the serving certificate names spiffe:\/\/cluster\.local\/ns\/istio-system\/sa\/someone-else/,
      );
      return true;
    },
  );
});

test('agent --ca-address: its workload certificate from istiod, used over HBONE', {
  skip: SKIP,
  timeout: 60_000,
}, async () => {
  const pki = await createTestPki();
  const fake = await startFakeGateway(pki);
  const agentIstiod = await startFakeIstiod(pki.ca);
  const cfg = mkdtempSync(join(dir, 'agent-cfg-'));
  writeFileSync(join(cfg, 'mesh.yaml'), TEST_MANIFESTS);
  writeFileSync(join(cfg, 'portcullis.yaml'), TEST_SETTINGS);
  const root = join(cfg, '..', 'agent-root.pem');
  const token = join(cfg, '..', 'agent-token');
  writeFileSync(root, pki.ca.rootCertPem);
  writeFileSync(token, agentIstiod.token);
  let child: ChildProcess | null = null;
  try {
    child = spawn(
      process.execPath,
      [
        join(REPO, 'src', 'cli', 'main.ts'),
        'agent',
        '--gateway',
        `127.0.0.1:${fake.port}`,
        '--config',
        cfg,
        '--ca-address',
        agentIstiod.address,
        '--ca-root-cert',
        root,
        '--ca-token-file',
        token,
        '--identity',
        'bookinfo/bookinfo-productpage',
        '--listen',
        '127.0.0.1:0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // The human ready line goes to stderr; stdout carries only the JSON log.
    let err = '';
    child.stdout!.resume();
    const line = await new Promise<string>((resolve, reject) => {
      child!.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        const l = err.split('\n').find((x) => x.includes(' listening on '));
        if (l !== undefined) resolve(l);
      });
      child!.once('exit', (code) => reject(new Error(`agent exited (${code}):\n${err}`)));
    });
    assert.match(
      line,
      /^portcullis agent: spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/bookinfo-productpage listening on 127\.0\.0\.1:(\d+)$/,
    );
    assert.deepEqual(agentIstiod.requests.at(-1)!.uris, ['spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage']);
    const port = Number(/:(\d+)$/.exec(line)![1]);
    const r = await httpConnect(port, 'httpbin.org:443');
    assert.equal(r.head.status, 200);
    assert.equal(await echoThrough(r.socket, 'from istiod'), 'from istiod');
    r.socket.destroy();
    assert.equal(fake.seen.at(-1)!.peer, 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage');
  } finally {
    child?.kill('SIGTERM');
    await agentIstiod.stop();
    await fake.close();
    await pki.cleanup();
  }
});
