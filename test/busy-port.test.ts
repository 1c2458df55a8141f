/**
 * A busy address is one clear error, never a stack trace: which address, which flag chose it, what to do; and the
 * command exits (1) instead of hanging, with one worker or several.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EXAMPLES, runBin, runCli } from './support/cli.ts';
import { makeTestPki, type TestPki } from './support/pki.ts';

let holder: Server;
let busy: number;
let dir: string;
let pki: TestPki;
// serve holds no CA key: certificate files, as from istiod or cert-manager.
let serving: string[];
const SEED = join(EXAMPLES, 'seed-000');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-busy-'));
  assert.equal((await runCli(['ca', 'init', '--dir', join(dir, 'ca')])).code, 0);
  pki = await makeTestPki();
  serving = await pki.servingFlags('spiffe://cluster.local/ns/istio-system/sa/ztunnel-egress');
  holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  busy = (holder.address() as AddressInfo).port;
});
after(() => {
  holder.close();
  rmSync(dir, { recursive: true, force: true });
  pki?.cleanup();
});

function assertBusy(r: { code: number; stderr: string }, flag: string): void {
  assert.equal(r.code, 1, r.stderr);
  const block = new RegExp(
    `error\\[PCL_CLI_LISTEN_FAILED\\]: cannot listen on 127\\.0\\.0\\.1:${busy}: the address is already in use\\n` +
      ` {2}--> ${flag} 127\\.0\\.0\\.1:${busy}\\n {2}hint: another process holds it .*give ${flag} another address`,
  );
  assert.match(r.stderr, block);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

for (const workers of ['1', '2']) {
  test(`serve --workers ${workers} on a busy --listen port`, { timeout: 60_000 }, async () => {
    const r = await runBin([
      'serve',
      '--config',
      SEED,
      ...serving,
      '--workers',
      workers,
      '--listen',
      `127.0.0.1:${busy}`,
      '--admin',
      '127.0.0.1:0',
    ]);
    assertBusy(r, '--listen');
  });

  test(`serve --workers ${workers} on a busy --admin port`, { timeout: 60_000 }, async () => {
    const r = await runBin([
      'serve',
      '--config',
      SEED,
      ...serving,
      '--workers',
      workers,
      '--listen',
      '127.0.0.1:0',
      '--admin',
      `127.0.0.1:${busy}`,
    ]);
    assertBusy(r, '--admin');
  });
}

test('agent on a busy --listen port', { timeout: 60_000 }, async () => {
  const r = await runBin([
    'agent',
    '--gateway',
    '127.0.0.1:15008',
    '--config',
    SEED,
    '--ca-dir',
    join(dir, 'ca'),
    '--spiffe',
    'bookinfo/bookinfo-productpage',
    '--listen',
    `127.0.0.1:${busy}`,
  ]);
  assertBusy(r, '--listen');
});
