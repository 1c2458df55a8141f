/**
 * The compile cache goes to the user's own cache folder, made private, and never to a folder someone else owns or
 * can write; NODE_COMPILE_CACHE, when set, wins. Each case runs in a fresh Node (the cache is enabled once a process).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

const HELPER = join(import.meta.dirname, 'private-compile-cache.js');
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'portcullis.mjs');
const scratch = mkdtempSync(join(tmpdir(), 'portcullis-ccache-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Run the helper in a fresh Node with exactly `env`; its answer and the folder Node then reports. */
function enableIn(env: Record<string, string>): {
  enabled: boolean;
  directory?: string;
  reason?: string;
  node?: string;
} {
  const code = [
    `import { enablePrivateCompileCache } from ${JSON.stringify(HELPER)};`,
    "import { getCompileCacheDir } from 'node:module';",
    'const r = enablePrivateCompileCache();',
    'process.stdout.write(JSON.stringify({ ...r, node: getCompileCacheDir() }));',
  ].join('\n');
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('the cache goes under $HOME/.cache/portcullis, made with mode 0700', () => {
  const home = join(scratch, 'home');
  mkdirSync(home);
  const r = enableIn({ HOME: home });
  const dir = join(home, '.cache', 'portcullis', 'node-compile-cache');
  assert.equal(r.enabled, true, String(r.reason));
  assert.ok(r.node?.startsWith(`${dir}/`), String(r.node));
  assert.equal(statSync(dir).mode & 0o777, 0o700);
});

test('XDG_CACHE_HOME is preferred to HOME', () => {
  const xdg = join(scratch, 'xdg');
  const r = enableIn({ HOME: join(scratch, 'unused-home'), XDG_CACHE_HOME: xdg });
  assert.equal(r.enabled, true, String(r.reason));
  assert.ok(r.node?.startsWith(join(xdg, 'portcullis', 'node-compile-cache')), String(r.node));
});

test('a cache folder that others can write is not used', () => {
  const home = join(scratch, 'open');
  const dir = join(home, '.cache', 'portcullis', 'node-compile-cache');
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o777);
  const r = enableIn({ HOME: home });
  assert.equal(r.enabled, false);
  assert.match(r.reason ?? '', /is writable by others/);
  assert.equal(r.node, undefined);
  assert.deepEqual(readdirSync(dir), []);
});

test('a cache folder that belongs to another user is not used', {
  skip: process.getuid?.() === 0 ? false : 'needs root to give a folder to another user (CI runs as root)',
}, () => {
  const home = join(scratch, 'foreign');
  const dir = join(home, '.cache', 'portcullis', 'node-compile-cache');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chownSync(dir, 65534, 65534);
  const r = enableIn({ HOME: home });
  assert.equal(r.enabled, false);
  assert.match(r.reason ?? '', /belongs to uid 65534/);
  assert.equal(r.node, undefined);
});

test('without an absolute HOME or XDG_CACHE_HOME there is no cache (and no folder in the working directory)', () => {
  const r = enableIn({ HOME: 'relative/home' });
  assert.equal(r.enabled, false);
  assert.match(r.reason ?? '', /neither XDG_CACHE_HOME nor HOME/);
  assert.equal(r.node, undefined);
});

test('NODE_COMPILE_CACHE, when set, is the folder Node uses', () => {
  const chosen = join(scratch, 'chosen');
  const r = enableIn({ HOME: join(scratch, 'home2'), NODE_COMPILE_CACHE: chosen });
  assert.equal(r.enabled, true);
  assert.ok(r.node?.startsWith(chosen), `${r.node}`);
});

test('bin/portcullis.mjs fills the private cache, never the shared default in the temp folder', () => {
  const home = join(scratch, 'bin-home');
  mkdirSync(home);
  const tmp = join(scratch, 'bin-tmp');
  mkdirSync(tmp);
  const r = spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8', env: { HOME: home, TMPDIR: tmp } });
  assert.equal(r.status, 0, r.stderr);
  const dir = join(home, '.cache', 'portcullis', 'node-compile-cache');
  const tags = readdirSync(dir);
  assert.equal(tags.length, 1);
  assert.ok(readdirSync(join(dir, tags[0])).length > 0, 'nothing cached');
  assert.deepEqual(readdirSync(tmp), []);
});
