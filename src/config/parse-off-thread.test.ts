/** Parsing on a worker thread: results adopted by the loader, limits from the settings, a timeout that names the file. */
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { test } from 'node:test';
import { CONFIG_PARSE_CHANNEL, OffThreadParser, type ConfigParseEvent } from './parse-off-thread.ts';
import { loadConfigTexts } from './load.ts';
import { isAdopted, parseYamlFile, type ConfigFile } from './yaml-documents.ts';

const NS = (name: string): ConfigFile => ({
  path: `${name}.yaml`,
  text: `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${name}}\n`,
});

function manyKeys(n: number): string {
  const parts = ['apiVersion: v1\nkind: ConfigMap\nmetadata: {name: slow}\ndata:\n'];
  for (let i = 0; i < n; i++) parts.push(`  key${i}: value${i}\n`);
  return parts.join('');
}

test('files are parsed on the worker and the loader uses those results; only changed files are sent again', async () => {
  const parser = new OffThreadParser();
  const events: ConfigParseEvent[] = [];
  const onEvent = (e: unknown): void => void events.push(e as ConfigParseEvent);
  subscribe(CONFIG_PARSE_CHANNEL, onEvent);
  try {
    const a = NS('a');
    const b = NS('b');
    await parser.prepare([a, b], null);
    assert.ok(isAdopted(a) && isAdopted(b));
    // The adopted result is returned as is: the same object every time, no parse on this thread.
    assert.equal(parseYamlFile(a), parseYamlFile(a));
    assert.deepEqual(
      loadConfigTexts([a, b], { env: {} }).resources.map((r) => r.key),
      ['Namespace//a', 'Namespace//b'],
    );
    const b2 = { ...b, text: b.text.replace('name: b', 'name: b2') };
    await parser.prepare([{ ...a }, b2], null);
    assert.deepEqual(events, [
      { phase: 'start', files: ['a.yaml', 'b.yaml'] },
      { phase: 'end', files: ['a.yaml', 'b.yaml'] },
      { phase: 'start', files: ['b.yaml'] },
      { phase: 'end', files: ['b.yaml'] },
    ]);
  } finally {
    unsubscribe(CONFIG_PARSE_CHANNEL, onEvent);
    parser.close();
  }
});

test('the limits come from the settings file: a file over them is refused by name, the others load', async () => {
  const parser = new OffThreadParser();
  try {
    const settings = { path: 'portcullis.yaml', text: 'configLimits: {maxKeysPerMapping: 10}\n' };
    const big = { path: 'keys.yaml', text: manyKeys(11) };
    const ok = NS('ok');
    await parser.prepare([big, ok], settings);
    const load = loadConfigTexts([big, ok], { settings, env: {} });
    assert.deepEqual(
      load.resources.map((r) => r.key),
      ['Namespace//ok'],
    );
    const d = load.diagnostics.find((x) => x.code === 'PCL_CONFIG_TOO_MANY_KEYS');
    assert.equal(d?.file, 'keys.yaml');
    assert.match(
      d?.message ?? '',
      /keys\.yaml: a mapping holds 11 keys, more than the limit configLimits\.maxKeysPerMapping \(10\)/,
    );
  } finally {
    parser.close();
  }
});

test('a parse over parseTimeoutSeconds is stopped: that file is refused by name, the next file still loads', {
  timeout: 120_000,
}, async () => {
  const parser = new OffThreadParser();
  try {
    // 150k keys (2 MB) take the `yaml` parser well over half a second on any machine; a Namespace, a few ms.
    const settings = {
      path: 'portcullis.yaml',
      text: 'configLimits: {parseTimeoutSeconds: 0.5, maxKeysPerMapping: 1000000}\n',
    };
    const slow = { path: 'slow.yaml', text: manyKeys(150_000) };
    const after = NS('after');
    await parser.prepare([slow, after], settings);
    const load = loadConfigTexts([slow, after], { settings, env: {} });
    const d = load.diagnostics.find((x) => x.code === 'PCL_CONFIG_PARSE_TIMEOUT');
    assert.ok(d, JSON.stringify(load.diagnostics.map((x) => x.code)));
    assert.equal(d.file, 'slow.yaml');
    assert.match(
      d.message,
      /^parsing slow\.yaml took longer than the limit configLimits\.parseTimeoutSeconds \(0\.5 s\)/,
    );
    assert.deepEqual(
      load.resources.map((r) => r.key),
      ['Namespace//after'],
    );
  } finally {
    parser.close();
  }
});

test('close() during a parse abandons it: prepare resolves and nothing is adopted', { timeout: 120_000 }, async () => {
  const parser = new OffThreadParser();
  const slow = { path: 'slow.yaml', text: manyKeys(200_000) };
  const started = new Promise<void>((resolve) => {
    const onEvent = (): void => {
      unsubscribe(CONFIG_PARSE_CHANNEL, onEvent);
      resolve();
    };
    subscribe(CONFIG_PARSE_CHANNEL, onEvent);
  });
  const settings = {
    path: 'portcullis.yaml',
    text: 'configLimits: {maxKeysPerMapping: 1000000, maxFileBytes: 100000000}\n',
  };
  const done = parser.prepare([slow], settings);
  await started;
  parser.close();
  await done;
  assert.equal(isAdopted(slow), false, 'the abandoned parse left no result');
  const late = NS('late');
  await parser.prepare([late], null);
  assert.equal(isAdopted(late), false, 'a closed parser does nothing (and does not hang)');
});
