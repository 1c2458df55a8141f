/**
 * `portcullis check` starts without `node:util`: no module on its path imports it. Importing it from an ES module
 * makes Node build util's whole facade, loading worker_threads, util's diff and colours and parseArgs (~18 M
 * instructions, 4 % of the command). `NativeModule util` itself is not asserted: Node's own bootstrap loads it
 * before any user code (it is in the list of an empty script), so only the facade's extra modules tell.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type CliResult, EXAMPLES, REPO, runNode } from './support/cli.ts';

const HOOK = join(REPO, 'test', 'support', 'module-load-record.ts');
/** Built-ins that only the public `node:util` module's facade loads on the way to a command's output. */
const UTIL_FACADE = [
  'NativeModule worker_threads',
  'NativeModule internal/util/parse_args/parse_args',
  'NativeModule internal/util/diff',
  'NativeModule internal/util/colors',
];

const dir = mkdtempSync(join(tmpdir(), 'portcullis-modules-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Recorded extends CliResult {
  moduleLoadList: string[];
  requested: string[];
}

/** Run `node --import <hook> ...args` and read what the hook recorded at exit. */
async function recorded(args: string[]): Promise<Recorded> {
  const file = join(dir, `record-${Math.random().toString(36).slice(2)}.json`);
  const r = await runNode(['--import', HOOK, ...args], { env: { PORTCULLIS_MODULE_RECORD: file } });
  assert.ok(existsSync(file), `no record from ${args.join(' ')} (exit ${r.code}): ${r.stderr}`);
  const record = JSON.parse(readFileSync(file, 'utf8')) as { moduleLoadList: string[]; requested: string[] };
  return { ...r, ...record };
}

test('the record sees node:util: a script that imports it shows the facade and the request', async () => {
  const script = join(dir, 'imports-util.mjs');
  writeFileSync(script, "import 'node:util';\n");
  const r = await recorded([script]);
  assert.equal(r.code, 0, r.stderr);
  for (const name of UTIL_FACADE.slice(0, 3)) assert.ok(r.moduleLoadList.includes(name), `${name} loaded`);
  assert.deepEqual(r.requested, [`node:util from file://${script}`]);
});

test('portcullis check on seed 000 prints ALLOW without loading node:util', async () => {
  const r = await recorded([
    join(REPO, 'bin', 'portcullis.mjs'),
    'check',
    '--config',
    join(EXAMPLES, 'seed-000'),
    '--from',
    'bookinfo/bookinfo-productpage',
    '--to',
    'httpbin.org:443',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /^ALLOW {2}spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/bookinfo-productpage -> httpbin\.org:443\n/,
  );
  assert.deepEqual(r.requested, [], 'no module on the check path imports util or worker_threads');
  for (const name of UTIL_FACADE) assert.ok(!r.moduleLoadList.includes(name), `${name} was loaded`);
});
