/** Interop: a tunnel through the Portcullis HBONE server opened by Python's `h2`, a second HTTP/2 implementation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeIssued } from '../identity/ca.ts';
import type { HboneRequest } from './server.ts';
import { CLIENT_ID, GATEWAY_ID, makePki, startServer } from '../../test/support/hbone.ts';

// Debian's python3-h2 lives with the system interpreter; a pyenv python3 earlier on PATH would not see it.
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(import.meta.dirname, 'testdata', 'hbone_connect.py');

function h2Available(): boolean {
  return spawnSync(PYTHON, ['-c', 'import h2'], { stdio: 'ignore' }).status === 0;
}

test('python h2 opens an HBONE tunnel: 200 and echoed bytes; a denied CONNECT sees 401', async (t) => {
  if (!h2Available()) {
    t.skip('python3-h2 not installed: apt-get install python3-h2');
    return;
  }
  const pki = await makePki(t);
  const seen: HboneRequest[] = [];
  const { port } = await startServer(t, pki, async (req) => {
    seen.push(req);
    if (req.authority.port === 80) {
      req.respond(401);
      return;
    }
    req.respond(200);
    req.stream.pipe(req.stream);
  });
  const out = join(pki.dir, 'py-client');
  await writeIssued(out, pki.client);
  const run = async (authority: string) => {
    const { stdout } = await promisify(execFile)(
      PYTHON,
      [
        SCRIPT,
        '127.0.0.1',
        String(port),
        join(out, 'cert-chain.pem'),
        join(out, 'key.pem'),
        join(out, 'root-cert.pem'),
        GATEWAY_ID,
        authority,
        'ping from python h2',
      ],
      { timeout: 30_000 },
    );
    return JSON.parse(stdout.trim()) as { status: number; body: string; server_sans: string[] };
  };
  const ok = await run('httpbin.org:443');
  assert.equal(ok.status, 200);
  assert.equal(ok.body, 'ping from python h2');
  assert.deepEqual(ok.server_sans, [GATEWAY_ID]);
  assert.equal(seen[0].peer.uri, CLIENT_ID);
  assert.equal(seen[0].traceparent, `00-${'1'.repeat(32)}-${'2'.repeat(16)}-00`);

  const denied = await run('httpbin.org:80');
  assert.equal(denied.status, 401);
  assert.equal(denied.body, '');
});
