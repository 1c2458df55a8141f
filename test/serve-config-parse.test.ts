/**
 * Hostile configuration files against a running gateway: parsing happens on a worker thread, so an open tunnel keeps
 * moving bytes while a file of 63k keys is parsed; files over a limit are refused by name while the rest serves;
 * and SIGTERM during a long parse ends `portcullis serve` (a child process) instead of waiting for the parse.
 */
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { CONFIG_PARSE_CHANNEL, type ConfigParseEvent } from '../src/config/parse-off-thread.ts';
import { startGateway, type RunningGateway } from '../src/gateway/gateway.ts';
import { configFrom } from './support/cli.ts';
import { hasDnsmasq } from './support/dnsmasq.ts';
import { caller, tlsOver } from './support/hbone-caller.ts';
import { makeTestPki } from './support/pki.ts';
import { GATEWAY_ID, SEED_SETTINGS, startSeedEnv, type SeedEnv } from './support/seed-env.ts';
import { startServe } from './support/serve-process.ts';

const SKIP = hasDnsmasq() ? false : 'dnsmasq not installed: apt-get install dnsmasq';

/** One mapping with `n` keys: what stalled the old parser (its duplicate-key check compares every pair). */
function manyKeys(name: string, n: number): string {
  const parts = [`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}, namespace: default}\ndata:\n`];
  for (let i = 0; i < n; i++) parts.push(`  key-${i}: value-${i}\n`);
  return parts.join('');
}

/** One keep-alive GET on an open TLS connection; resolves with the status once the whole body has arrived. */
function keepAliveGet(sock: TLSSocket): Promise<number> {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      data = Buffer.concat([data, chunk]);
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = data.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (data.length < end + 4 + length) return;
      done();
      resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0));
    };
    const onClose = (): void => {
      done();
      reject(new Error('the tunnel closed during a request'));
    };
    const done = (): void => {
      sock.off('data', onData);
      sock.off('close', onClose);
    };
    sock.on('data', onData);
    sock.once('close', onClose);
    sock.write('GET /get HTTP/1.1\r\nHost: httpbin.org\r\n\r\n');
  });
}

let env: SeedEnv;
let gw: RunningGateway;
let configDir: string;
const cleanups: (() => unknown)[] = [];

before(async () => {
  if (SKIP) return;
  env = await startSeedEnv();
  cleanups.push(() => env.close());
  const cfg = configFrom('seed-000', {
    extra: { 'portcullis.yaml': SEED_SETTINGS, 'serviceentry.yaml': env.serviceEntry() },
  });
  cleanups.push(cfg.cleanup);
  configDir = cfg.dir;
  gw = await startGateway({
    configDir,
    certFiles: await env.pki.servingFiles(GATEWAY_ID),
    listen: { host: '127.0.0.1', port: 0 },
    admin: null,
    dnsServers: [env.dns.server],
    log: null,
    drainMs: 0,
    configDebounceMs: 20,
  });
  cleanups.push(() => gw.close());
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function openTls(): Promise<TLSSocket> {
  const pp = caller(
    await env.pki.workload('bookinfo', 'bookinfo-productpage'),
    { host: '127.0.0.1', port: gw.hbonePort },
    GATEWAY_ID,
  );
  cleanups.push(() => pp.close());
  const r = await pp.connect('httpbin.org:443');
  assert.ok(r.ok, r.ok ? '' : `${r.status} ${r.reason}`);
  const sock = await tlsOver(r.tunnel, 'httpbin.org', env.pki.ca.rootCertPem);
  cleanups.push(() => sock.destroy());
  return sock;
}

async function waitForDiagnostic(code: string): Promise<{ file: string; message: string }> {
  for (;;) {
    const d = gw.snapshot().diagnostics.find((x) => x.code === code);
    if (d) return d;
    await sleep(50);
  }
}

test('an open tunnel keeps moving bytes while a file of 63k keys is parsed; the file is refused, the rest serves', {
  skip: SKIP,
  timeout: 180_000,
}, async () => {
  const sock = await openTls();
  assert.equal(await keepAliveGet(sock), 200);

  // Track the worker's parse of the hostile file, and count requests that complete while it runs.
  let parsing = false;
  let sawParse = false;
  const onParse = (message: unknown): void => {
    const e = message as ConfigParseEvent;
    if (!e.files.includes('hostile.yaml')) return;
    parsing = e.phase === 'start';
    sawParse ||= parsing;
  };
  subscribe(CONFIG_PARSE_CHANNEL, onParse);
  let duringParse = 0;
  let total = 0;
  let stop = false;
  const pump = (async () => {
    while (!stop) {
      assert.equal(await keepAliveGet(sock), 200);
      total++;
      if (parsing) duringParse++;
    }
  })();
  try {
    writeFileSync(join(configDir, 'hostile.yaml'), manyKeys('hostile', 63_000));
    const refused = await waitForDiagnostic('PCL_CONFIG_TOO_MANY_KEYS');
    stop = true;
    await pump;
    assert.ok(sawParse, 'the hostile file was parsed on the worker');
    assert.ok(
      duringParse > 0,
      `requests on the open tunnel completed while the file was parsed (${duringParse} of ${total})`,
    );
    assert.equal(refused.file, 'hostile.yaml');
    assert.match(
      refused.message,
      /hostile\.yaml: a mapping holds 63000 keys, more than the limit configLimits\.maxKeysPerMapping \(10000\)/,
    );
  } finally {
    stop = true;
    unsubscribe(CONFIG_PARSE_CHANNEL, onParse);
  }
  // The rest of the configuration still serves: the open tunnel and a new one.
  assert.equal(await keepAliveGet(sock), 200);
  const fresh = await openTls();
  assert.equal(await keepAliveGet(fresh), 200);
});

test('a file over maxFileBytes is refused with the file and the limit named; the rest still serves', {
  skip: SKIP,
  timeout: 120_000,
}, async () => {
  const sock = await openTls();
  // Just over the default 4 MiB: a comment, so only the size check can refuse it.
  writeFileSync(
    join(configDir, 'huge.yaml'),
    `# ${'x'.repeat(4 * 1024 * 1024)}\napiVersion: v1\nkind: Namespace\nmetadata: {name: huge}\n`,
  );
  const refused = await waitForDiagnostic('PCL_CONFIG_FILE_TOO_LARGE');
  assert.equal(refused.file, 'huge.yaml');
  assert.match(
    refused.message,
    /^huge\.yaml is \d+ bytes, more than the limit configLimits\.maxFileBytes \(4194304 bytes\)/,
  );
  assert.ok(!gw.snapshot().load.resources.some((r) => r.metadata.name === 'huge'));
  assert.equal(await keepAliveGet(sock), 200);
  assert.equal(await keepAliveGet(await openTls()), 200);
});

test('SIGTERM during a long parse: portcullis serve exits instead of waiting for the parse', {
  timeout: 180_000,
}, async () => {
  const pki = await makeTestPki();
  const cfg = configFrom('seed-000', {
    // Limits raised so the worker really parses the big file (the defaults would refuse it at once).
    extra: {
      'portcullis.yaml': `${SEED_SETTINGS}\nconfigLimits: {maxKeysPerMapping: 10000000, maxFileBytes: 100000000}\n`,
    },
  });
  const logDir = mkdtempSync(join(tmpdir(), 'portcullis-log-'));
  try {
    const serve = await startServe(
      [
        '--config',
        cfg.dir,
        ...(await pki.servingFlags(GATEWAY_ID)),
        '--listen',
        '127.0.0.1:0',
        '--admin',
        '127.0.0.1:0',
        '--workers',
        '1',
        '--drain-seconds',
        '1',
      ],
      join(logDir, 'access.log'),
    );
    // 150k keys: the old parser's duplicate-key check alone needed about 10^10 comparisons for this file.
    writeFileSync(join(cfg.dir, 'big.yaml'), manyKeys('big', 150_000));
    await sleep(1000); // past the 100 ms debounce: the reload and its parse are under way
    const patience = new AbortController();
    const code = await Promise.race([
      serve.stop('SIGTERM'),
      sleep(90_000, 'still running' as const, { signal: patience.signal }).catch(() => 'cancelled' as const),
    ]);
    patience.abort();
    if (code === 'still running') serve.child.kill('SIGKILL');
    assert.equal(code, 0, `portcullis serve exited on SIGTERM\n${serve.stderr()}`);
  } finally {
    rmSync(logDir, { recursive: true, force: true });
    cfg.cleanup();
    pki.cleanup();
  }
});
