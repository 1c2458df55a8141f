/**
 * The certificate flags of `serve` and `agent` (one source, clear errors), the development CA's warning (stderr, the
 * access log and /ready, once each), and the kubelet's health port beside the loopback-only admin port.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXAMPLES, runCli } from './support/cli.ts';
import { waitForLogLine, readLogLines } from './support/log-file.ts';
import { makeTestPki } from './support/pki.ts';
import { GATEWAY_ID } from './support/seed-env.ts';
import { freePort } from './support/free-port.ts';
import { startServe } from './support/serve-process.ts';

const SEED = join(EXAMPLES, 'seed-000');

test('serve and agent: one certificate source, and each istiod flag checked', async () => {
  const serve = ['serve', '--config', SEED];
  const agent = ['agent', '--config', SEED, '--gateway', '127.0.0.1:15008'];
  for (const [argv, message] of [
    [
      [...serve, '--ca-address', 'istiod:15012', '--ca-dir', '/tmp'],
      /give one certificate source: --ca-address or --ca-dir, not both/,
    ],
    [
      [...serve, '--ca-address', 'istiod:15012', '--cert', 'c', '--key', 'k', '--trust-bundle', 't'],
      /--ca-address or --cert, not both/,
    ],
    [[...serve, '--ca-dir', '/tmp', '--ca-root-cert', '/r.pem'], /--ca-root-cert go with --ca-address/],
    [[...serve, '--ca-address', 'istiod'], /--ca-address "istiod": expected HOST:PORT/],
    [[...serve, '--ca-address', 'istiod:99999'], /--ca-address "istiod:99999"/],
    [[...serve, '--ca-address', 'istiod:15012', '--cert-ttl', 'a day'], /--cert-ttl "a day": expected a duration/],
    [[...serve, '--ca-dir', '/tmp', '--identity', 'a/b'], /--identity goes with --ca-address/],
    [
      [...serve, '--ca-dir', '/tmp', '--gateway', 'a/b'],
      /--gateway names the Gateways of one identity: it goes with --ca-address or --cert/,
    ],
    [
      [...serve, '--ca-address', 'istiod:15012', '--gateway', 'Not_A/Ref'],
      /--gateway "Not_A\/Ref": expected NAMESPACE\/NAME/,
    ],
    [[...serve, '--ca-address', 'istiod:15012', '--health', 'everywhere'], /--health "everywhere": expected IP:PORT/],
    [[...agent, '--ca-address', 'istiod:15012', '--spiffe', 'a/b'], /--spiffe and --workloads need --ca-dir/],
    [[...agent, '--ca-dir', '/tmp', '--spiffe', 'a/b', '--identity', 'a/b'], /--identity goes with --ca-address/],
    [[...agent], /an identity is required: --ca-address \(istiod\)/],
  ] as const) {
    const r = await runCli([...argv]);
    assert.equal(r.code, 2, `${argv.join(' ')}\n${r.stderr}`);
    assert.match(r.stderr, message, argv.join(' '));
  }
});

test('serve --ca-dir warns once that it holds a signing key: stderr, the log and /ready', {
  timeout: 60_000,
}, async (t) => {
  const pki = await makeTestPki();
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-devca-'));
  t.after(() => {
    pki.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const log = join(dir, 'access.log');
  const gw = await startServe(
    [
      '--config',
      SEED,
      '--ca-dir',
      pki.caDir,
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      '--workers',
      '1',
      '--drain-seconds',
      '0',
    ],
    log,
  );
  t.after(() => gw.stop());
  assert.equal(gw.stderr().match(/PCL_IDENTITY_DEV_CA_KEY/g)?.length, 1, gw.stderr());
  assert.match(gw.stderr(), /holds a CA signing key \(--ca-dir\): for development only/);
  const ready = await gw.admin_get('/ready');
  assert.equal(ready.status, 200);
  assert.match(ready.text, /^ready: .*\nwarning: PCL_IDENTITY_DEV_CA_KEY: this gateway holds a CA signing key/);
  await waitForLogLine(log, (l) => l.type === 'problem' && l.code === 'PCL_IDENTITY_DEV_CA_KEY', 'the dev-CA warning');
  await gw.admin_get('/ready');
  assert.equal(readLogLines(log).filter((l) => l.code === 'PCL_IDENTITY_DEV_CA_KEY').length, 1, 'warned once');
});

test('health port for the kubelet: /healthz/ready and /healthz/live only; admin stays on loopback', {
  timeout: 60_000,
}, async (t) => {
  const pki = await makeTestPki();
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-health-'));
  t.after(() => {
    pki.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const health = await freePort();
  const gw = await startServe(
    [
      '--config',
      SEED,
      ...(await pki.servingFlags(GATEWAY_ID)),
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      '--health',
      `127.0.0.1:${health}`,
      '--workers',
      '1',
      '--drain-seconds',
      '0',
    ],
    join(dir, 'access.log'),
  );
  t.after(() => gw.stop());
  assert.match(gw.admin, /^127\.0\.0\.1:\d+$/);
  assert.notEqual(gw.admin, `127.0.0.1:${health}`, 'health and admin are separate listeners');
  const get = async (path: string, method = 'GET'): Promise<[number, string]> => {
    const r = await fetch(`http://127.0.0.1:${health}${path}`, { method });
    return [r.status, await r.text()];
  };
  const [status, body] = await get('/healthz/ready');
  assert.equal(status, 200);
  assert.match(body, /^ready: generation \d+, 1 gateway\(s\) served\n$/);
  assert.doesNotMatch(body, /DEV_CA/);
  assert.deepEqual(await get('/healthz/live'), [200, 'ok\n']);
  assert.equal((await get('/metrics'))[0], 404);
  assert.equal((await get('/healthz/ready', 'POST'))[0], 405);
});
