/** Parsing within limits: file size, documents per file, keys per mapping, and a linear duplicate-key check. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfigTexts } from './load.ts';
import { DEFAULT_PARSE_LIMITS, hydrateParsedFile, parseYamlFile, type ParseLimits } from './yaml-documents.ts';
import { parseYamlPortable } from './yaml-parse.ts';

const LIMITS: ParseLimits = { maxFileBytes: 2000, maxDocumentsPerFile: 3, maxKeysPerMapping: 5 };

function mapping(keys: number): string {
  let s = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n';
  for (let i = 0; i < keys; i++) s += `  k${i}: v\n`;
  return s;
}

test('a file over maxFileBytes is refused before parsing, naming the file and the limit', () => {
  const text = `# ${'x'.repeat(3000)}\napiVersion: v1\n`;
  const p = parseYamlFile({ path: 'big.yaml', text }, LIMITS);
  assert.deepEqual(p.documents, []);
  assert.equal(p.errors.length, 1);
  assert.equal(p.errors[0].code, 'PCL_CONFIG_FILE_TOO_LARGE');
  assert.equal(p.errors[0].file, 'big.yaml');
  assert.match(
    p.errors[0].message,
    /^big\.yaml is 3018 bytes, more than the limit configLimits\.maxFileBytes \(2000 bytes\)/,
  );
  // Multi-byte characters count as bytes, not as UTF-16 units.
  const euro = parseYamlFile({ path: 'euro.yaml', text: `a: "${'€'.repeat(700)}"\n` }, LIMITS);
  assert.equal(euro.errors[0]?.code, 'PCL_CONFIG_FILE_TOO_LARGE');
  assert.deepEqual(parseYamlFile({ path: 'ok.yaml', text: 'a: b\n' }, LIMITS).errors, []);
});

test('a file over maxDocumentsPerFile is refused whole', () => {
  const text = ['a: 1', 'b: 2', 'c: 3', 'd: 4'].join('\n---\n');
  const p = parseYamlFile({ path: 'docs.yaml', text }, LIMITS);
  assert.deepEqual(p.documents, []);
  assert.equal(p.errors[0].code, 'PCL_CONFIG_TOO_MANY_DOCUMENTS');
  assert.match(
    p.errors[0].message,
    /^docs\.yaml holds 4 YAML documents, more than the limit configLimits\.maxDocumentsPerFile \(3\)/,
  );
  assert.equal(
    parseYamlFile({ path: 'docs.yaml', text: ['a: 1', 'b: 2', 'c: 3'].join('\n---\n') }, LIMITS).documents.length,
    3,
  );
});

test('a mapping over maxKeysPerMapping refuses its document, at the mapping, and the other documents load', () => {
  const text = `${mapping(6)}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: small}\n`;
  const p = parseYamlFile({ path: 'keys.yaml', text }, LIMITS);
  assert.equal(p.documents.length, 1);
  assert.equal((p.documents[0].value as { metadata: { name: string } }).metadata.name, 'small');
  assert.equal(p.errors.length, 1);
  assert.equal(p.errors[0].code, 'PCL_CONFIG_TOO_MANY_KEYS');
  assert.equal(p.errors[0].line, 5, 'the mapping under data: starts on line 5');
  assert.match(
    p.errors[0].message,
    /^keys\.yaml: a mapping holds 6 keys, more than the limit configLimits\.maxKeysPerMapping \(5\)/,
  );
  assert.equal(parseYamlFile({ path: 'keys.yaml', text: mapping(5) }, LIMITS).errors.length, 0);
});

test('duplicate keys are still refused (block and flow mappings), at the later key', () => {
  const block = parseYamlFile({ path: 'dup.yaml', text: 'a: 1\nb: 2\na: 3\n' });
  assert.deepEqual(block.errors, [{ file: 'dup.yaml', line: 3, column: 1, message: 'Map keys must be unique' }]);
  const flow = parseYamlFile({ path: 'dup.yaml', text: 'x: {a: 1, a: 2}\n' });
  assert.equal(flow.errors[0]?.message, 'Map keys must be unique');
  // 1 and "1" are different keys, as in the `yaml` package's own check.
  assert.deepEqual(parseYamlFile({ path: 'ok.yaml', text: '1: a\n"1": b\n' }).errors, []);
});

test('the parse result is plain data: it survives structured cloning with its positions', () => {
  const text = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  list:\n    - a\n    - {b: c}\n';
  const portable = structuredClone(parseYamlPortable({ path: 'p.yaml', text }, DEFAULT_PARSE_LIMITS));
  const p = hydrateParsedFile(portable);
  assert.deepEqual(p.documents[0].posOf(['metadata', 'name']), { file: 'p.yaml', line: 4, column: 3 });
  assert.deepEqual(p.documents[0].posOf(['data', 'list', 1, 'b']), { file: 'p.yaml', line: 8, column: 8 });
  // A path that does not exist falls back to its nearest ancestor.
  assert.deepEqual(p.documents[0].posOf(['data', 'list', 7]), { file: 'p.yaml', line: 6, column: 3 });
});

test('the loader applies configLimits from portcullis.yaml: the refused file is named, the rest loads', () => {
  const settings = { path: 'portcullis.yaml', text: 'configLimits:\n  maxFileBytes: 400\n' };
  const good = { path: 'good.yaml', text: 'apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n' };
  const big = {
    path: 'big.yaml',
    text: `apiVersion: v1\nkind: Namespace\nmetadata: {name: big}\n# ${'x'.repeat(500)}\n`,
  };
  const load = loadConfigTexts([good, big], { settings, env: {} });
  assert.deepEqual(
    load.resources.map((r) => r.key),
    ['Namespace//apps'],
  );
  const d = load.diagnostics.find((x) => x.code === 'PCL_CONFIG_FILE_TOO_LARGE');
  assert.ok(d, JSON.stringify(load.diagnostics));
  assert.equal(d.file, 'big.yaml');
  assert.equal(d.severity, 'error');
  assert.match(d.message, /configLimits\.maxFileBytes \(400 bytes\)/);
});

test('a file that grows over a limit on reload keeps the last good version of its resources', () => {
  const settings = { path: 'portcullis.yaml', text: 'configLimits:\n  maxFileBytes: 400\n' };
  const text = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n';
  const first = loadConfigTexts([{ path: 'ns.yaml', text }], { settings, env: {} });
  assert.deepEqual(
    first.resources.map((r) => r.key),
    ['Namespace//apps'],
  );
  const grown = { path: 'ns.yaml', text: `${text}# ${'x'.repeat(500)}\n` };
  const second = loadConfigTexts([grown], { settings, env: {}, previous: first });
  assert.deepEqual(
    second.resources.map((r) => r.key),
    ['Namespace//apps'],
  );
  assert.deepEqual(
    second.diagnostics.map((d) => d.code),
    ['PCL_CONFIG_FILE_TOO_LARGE', 'PCL_CONFIG_KEPT_LAST_GOOD'],
  );
});
