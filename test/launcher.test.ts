/**
 * The installed `portcullis` command (bin/portcullis, the shell launcher `npm link` and `npx` run): through a chain of
 * symbolic links it finds the clone, runs the pinned Node 26 itself (never the older `node` first on the PATH) as the
 * same process (exec: the pid that answers is Node 26 running bin/portcullis.mjs), and without the pinned Node hands
 * over to the `node` on the PATH.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { REPO } from './support/cli.ts';

const LAUNCHER = join(REPO, 'bin', 'portcullis');
const PINNED = realpathSync(join(REPO, 'node_modules', 'node', 'bin', 'node'));
const scratch = mkdtempSync(join(tmpdir(), 'portcullis-launcher-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A `node` that only records that it ran (and with what), to stand first on the PATH. */
function fakeNode(dir: string): { bin: string; record: string } {
  const bin = join(dir, 'fake-bin');
  mkdirSync(bin, { recursive: true });
  const record = join(dir, 'fake-node-ran');
  writeFileSync(join(bin, 'node'), `#!/bin/sh\nprintf '%s\\n' "$@" > '${record}'\nexit 97\n`);
  chmodSync(join(bin, 'node'), 0o755);
  return { bin, record };
}

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** What `npm link` makes: <prefix>/bin/portcullis -> ../lib/node_modules/portcullis/bin/portcullis, that folder a link to the clone. */
function npmLinkLayout(name: string): string {
  const prefix = join(scratch, name);
  mkdirSync(join(prefix, 'bin'), { recursive: true });
  mkdirSync(join(prefix, 'lib', 'node_modules'), { recursive: true });
  symlinkSync(REPO, join(prefix, 'lib', 'node_modules', 'portcullis'));
  symlinkSync('../lib/node_modules/portcullis/bin/portcullis', join(prefix, 'bin', 'portcullis'));
  return join(prefix, 'bin');
}

test('package.json names the launcher as the command, and it is executable', () => {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  assert.deepEqual(pkg.bin, { portcullis: 'bin/portcullis' });
  assert.equal(statSync(LAUNCHER).mode & 0o111, 0o111);
  assert.match(readFileSync(LAUNCHER, 'utf8'), /^#!\/bin\/sh\n/);
});

test("through npm link's chain of links, the command runs the pinned Node, not the node first on the PATH", async () => {
  const bin = npmLinkLayout('linked');
  const fake = fakeNode(join(scratch, 'linked'));
  const r = await run('portcullis', ['--version'], { PATH: `${bin}:${fake.bin}:/usr/bin:/bin` });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^portcullis \d+\.\d+\.\d+\n$/);
  assert.equal(existsSync(fake.record), false, 'the node on the PATH was started');
  // The same from a relative invocation (what `npx` and `./bin/portcullis` do).
  const rel = await run('sh', ['-c', 'cd "$0" && ./bin/portcullis --version', REPO], {
    PATH: `${fake.bin}:/usr/bin:/bin`,
  });
  assert.equal(rel.code, 0, rel.stderr);
  assert.equal(existsSync(fake.record), false);
});

test('the command is the Node 26 process itself (exec): the pid that serves the request runs bin/portcullis.mjs', async (t) => {
  let seen: { exe: string; argv: string[] } | undefined;
  let childPid = 0;
  const server = createServer((req, res) => {
    // The request proves the command is running: look at the process we started, by its pid.
    seen = {
      exe: readlinkSync(`/proc/${childPid}/exe`),
      argv: readFileSync(`/proc/${childPid}/cmdline`, 'utf8').split('\0').filter(Boolean),
    };
    res.writeHead(503).end('not now');
    req.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const bin = npmLinkLayout('exec');
  const fake = fakeNode(join(scratch, 'exec'));
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn('portcullis', ['suggest', '--admin', `http://127.0.0.1:${port}`], {
      env: { PATH: `${bin}:${fake.bin}:/usr/bin:/bin` },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    childPid = child.pid ?? 0;
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
  assert.ok(seen, `the command never reached the admin port: ${r.stderr}`);
  assert.equal(seen.exe, PINNED);
  assert.equal(realpathSync(seen.argv[1]), join(realpathSync(REPO), 'bin', 'portcullis.mjs'));
  assert.deepEqual(seen.argv.slice(2), ['suggest', '--admin', `http://127.0.0.1:${port}`]);
  // The gateway said 503: the command failed, and said so (its own exit code, not a launcher's).
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /503/);
});

test('without the pinned Node, the command hands over to the node on the PATH, with its arguments', async () => {
  const root = join(scratch, 'no-pinned');
  cpSync(join(REPO, 'bin'), join(root, 'bin'), { recursive: true });
  const fake = fakeNode(root);
  const r = await run(join(root, 'bin', 'portcullis'), ['check', '--to', 'a b'], {
    PATH: `${fake.bin}:/usr/bin:/bin`,
  });
  assert.equal(r.code, 97);
  assert.deepEqual(readFileSync(fake.record, 'utf8').split('\n').filter(Boolean), [
    `${root}/bin/../bin/portcullis.mjs`,
    'check',
    '--to',
    'a b',
  ]);
});
