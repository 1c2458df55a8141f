/** ConfigSource on a real directory: debounced reloads, ConfigMap `..data` swaps, last-good retention, close(). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigSource } from './config-source.ts';
import type { LoadResult } from './load.ts';

const ns = (name: string, label = 'x') =>
  `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n  labels:\n    version: "${label}"\n`;

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pcl-source-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The next update, failing the test (not timing it) if none arrives at all. */
function nextUpdate(source: ConfigSource): Promise<LoadResult> {
  return once(source, 'update', { signal: AbortSignal.timeout(10_000) }).then(([r]) => r as LoadResult);
}

const labelOf = (r: LoadResult) => r.resources[0]?.metadata.labels.version;

test('a burst of edits gives one debounced update with the final content', async (t) => {
  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'ns.yaml'), ns('a', 'v1'));
  const source = new ConfigSource({ dir, env: {}, debounceMs: 150 });
  t.after(() => source.close());
  const first = await source.start();
  assert.equal(labelOf(first), 'v1');
  assert.equal(source.current, first);

  const seen: LoadResult[] = [];
  const unsubscribe = source.onUpdate((r) => seen.push(r));
  const update = nextUpdate(source);
  await writeFile(path.join(dir, 'ns.yaml'), ns('a', 'v2'));
  await writeFile(path.join(dir, 'ns.yaml'), ns('a', 'v3'));
  await writeFile(path.join(dir, 'ns.yaml'), ns('a', 'v4'));
  const r = await update;
  assert.equal(labelOf(r), 'v4');
  await sleep(400); // let any straggling events settle: unchanged content must not emit again
  assert.deepEqual(seen.map(labelOf), ['v4']);

  unsubscribe();
  const after = nextUpdate(source);
  await writeFile(path.join(dir, 'ns.yaml'), ns('a', 'v5'));
  assert.equal(labelOf(await after), 'v5');
  assert.equal(seen.length, 1, 'an unsubscribed listener hears nothing');
});

test('an invalid edit keeps the last good version (reload passes previous)', async (t) => {
  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'ns.yaml'), ns('a', 'good'));
  const source = new ConfigSource({ dir, env: {}, debounceMs: 50 });
  t.after(() => source.close());
  await source.start();
  const update = nextUpdate(source);
  await writeFile(
    path.join(dir, 'ns.yaml'),
    'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  labels:\n    version: 2\n',
  );
  const r = await update;
  assert.equal(labelOf(r), 'good');
  assert.ok(r.diagnostics.some((d) => d.code === 'PCL_CONFIG_TYPE' && d.line === 6));
  assert.ok(r.diagnostics.some((d) => d.code === 'PCL_CONFIG_KEPT_LAST_GOOD'));
});

test('a ConfigMap mount: swapping the ..data symlink atomically is observed', async (t) => {
  const dir = await tempDir(t);
  const v1 = '..2024_01_01_00_00_00.000000001';
  await mkdir(path.join(dir, v1));
  await writeFile(path.join(dir, v1, 'ns.yaml'), ns('cm', 'one'));
  await symlink(v1, path.join(dir, '..data'));
  await symlink('..data/ns.yaml', path.join(dir, 'ns.yaml'));
  const source = new ConfigSource({ dir, env: {}, debounceMs: 50 });
  t.after(() => source.close());
  assert.equal(labelOf(await source.start()), 'one');

  // What kubelet does: write a new timestamped dir, point ..data_tmp at it, rename over ..data, remove the old dir.
  const v2 = '..2024_01_01_00_01_00.000000002';
  await mkdir(path.join(dir, v2));
  await writeFile(path.join(dir, v2, 'ns.yaml'), ns('cm', 'two'));
  const update = nextUpdate(source);
  await symlink(v2, path.join(dir, '..data_tmp'));
  await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  await rm(path.join(dir, v1), { recursive: true });
  const r = await update;
  assert.equal(labelOf(r), 'two');
  assert.deepEqual(r.files, ['ns.yaml']);
  assert.deepEqual(r.diagnostics, []);
});

test('close() stops watching', async (t) => {
  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'ns.yaml'), ns('a', 'v1'));
  const source = new ConfigSource({ dir, env: {}, debounceMs: 20 });
  await source.start();
  let updates = 0;
  source.onUpdate(() => updates++);
  source.close();
  await writeFile(path.join(dir, 'ns.yaml'), ns('a', 'v2'));
  await sleep(300);
  assert.equal(updates, 0);
  assert.equal(labelOf(source.current as LoadResult), 'v1');
  await assert.rejects(source.start(), /closed/);
});

test('one manifest file as the configuration: read, and followed when it is replaced', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'egress.yaml');
  await writeFile(file, ns('a', 'v1'));
  // A neighbour that is not the configuration: never read.
  await writeFile(path.join(dir, 'other.yaml'), ns('b', 'other'));
  const source = new ConfigSource({ dir: file, env: {}, debounceMs: 50 });
  t.after(() => source.close());
  const first = await source.start();
  assert.deepEqual(
    first.resources.map((r) => r.metadata.name),
    ['a'],
  );
  assert.deepEqual(first.files, ['egress.yaml']);

  const update = nextUpdate(source);
  // Editors replace a file rather than write it in place.
  await writeFile(path.join(dir, '.egress.yaml.swp'), ns('a', 'v2'));
  await rename(path.join(dir, '.egress.yaml.swp'), file);
  assert.equal(labelOf(await update), 'v2');
});
