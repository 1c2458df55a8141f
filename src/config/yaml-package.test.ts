/**
 * The one-file pack of the `yaml` package (scripts/pack-yaml.mjs, run by `npm ci`) and its loader: the pack parses
 * every YAML text exactly as the package does, it is used only when made from the installed version in the format the
 * loader reads, V8 takes its code cache (and a cache that is not the pack's is refused, the pack still loading), the
 * packer refuses a package it cannot pack without failing the install, and `npm ci` made one here.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { Script } from 'node:vm';
import { loadYaml, YAML_PACK_FORMAT, yamlPackage, yamlPackPath } from './yaml-package.ts';

type Yaml = typeof import('yaml');

const REPO = join(import.meta.dirname, '..', '..');
const PACKER = join(REPO, 'scripts', 'pack-yaml.mjs');
const require = createRequire(import.meta.url);
const PACKAGE_JSON = require.resolve('yaml/package.json');
const realYaml = require('yaml') as Yaml;
const VERSION = (JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string }).version;

const scratch = mkdtempSync(join(tmpdir(), 'portcullis-yaml-pack-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A node_modules of our own holding yaml's package.json at `version`, and the folder a pack of it belongs in. */
function fakeInstall(name: string, version = VERSION): { packageJson: string; packDir: string } {
  const pkgDir = join(scratch, name, 'node_modules', 'yaml');
  mkdirSync(pkgDir, { recursive: true });
  const pkg = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as Record<string, unknown>;
  writeFileSync(join(pkgDir, 'package.json'), JSON.stringify({ ...pkg, version }));
  return { packageJson: join(pkgDir, 'package.json'), packDir: dirname(yamlPackPath(pkgDir, version)) };
}

function pack(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [PACKER, ...args], { encoding: 'utf8', cwd: REPO });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const NOT_THE_PACKAGE = { marker: 'the package itself' } as unknown as Yaml;

test('the packer writes the pack where the loader looks for it, and the loader takes it', () => {
  const { packageJson, packDir } = fakeInstall('good');
  const r = pack(['--out', packDir]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  const expected = yamlPackPath(dirname(packageJson), VERSION);
  assert.match(
    r.stdout,
    new RegExp(`packed yaml@${VERSION.replaceAll('.', '\\.')} into ${expected} \\(code cache: \\d+ bytes\\)`),
  );
  assert.deepEqual(readdirSync(packDir).sort(), [basename(expected), `${basename(expected)}.v8-cache`]);
  const loaded = loadYaml(packageJson, () => NOT_THE_PACKAGE);
  assert.equal(loaded.from, expected);
  assert.notEqual(loaded.yaml, NOT_THE_PACKAGE);
  assert.deepEqual(Object.keys(loaded.yaml).sort(), Object.keys(realYaml).sort());
});

test('the packer and the loader agree on the format name', () => {
  const text = readFileSync(PACKER, 'utf8');
  assert.match(text, new RegExp(`export const PACK_FORMAT = '${YAML_PACK_FORMAT}';`));
});

/** Every YAML text the repo and the shared conformance data hold, plus texts that exercise yaml's error paths. */
function corpus(): Array<{ name: string; text: string }> {
  const out: Array<{ name: string; text: string }> = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(e.name)) out.push({ name: p, text: readFileSync(p, 'utf8') });
    }
  };
  walk(join(REPO, 'examples'));
  const shared = join(REPO, '..', 'shared', 'conformance');
  if (existsSync(shared)) walk(shared);
  else process.stdout.write(`# ../shared is absent (${shared}): the pack is compared on the repo's examples only\n`);
  const hard = [
    'a: 1\na: 2\n',
    'key: [unclosed\n',
    'x: &a [1, 2]\ny: *a\nz: *missing\n',
    '- !!binary aGVsbG8=\n- !!timestamp 2001-12-14t21:59:43.10-05:00\n- !custom tag\n',
    'a:\n  b: c\n d: e\n',
    '---\nfirst: 1\n---\nsecond: 2\n...\n',
    '"unterminated\n',
    'k: "\\u00e9t\\xe9 \\U0001F600"\n',
    '? complex\n: key\n',
    'tab:\tvalue\n\t- bad indent\n',
    `${'[ '.repeat(200)}1${' ]'.repeat(200)}\n`,
    'yes: no\non: off\n0o17: 0x1F\n',
  ];
  hard.forEach((text, i) => out.push({ name: `crafted #${i}`, text }));
  return out;
}

/** A value, or what was thrown making it (`toJS` throws on an alias whose anchor is missing). */
function thrown(make: () => unknown): unknown {
  try {
    return make();
  } catch (err) {
    return { threw: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
}

/** What a parse says: each document's value, errors and warnings (code, message, position), and line positions. */
function outcome(y: Yaml, text: string): unknown {
  const lineCounter = new y.LineCounter();
  const docs = y.parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [docs];
  return {
    docs: list.map((d) => ({
      value: d.errors.length === 0 ? thrown(() => d.toJS({ maxAliasCount: 100 })) : null,
      errors: d.errors.map((e) => [e.code, e.message, e.pos]),
      warnings: d.warnings.map((e) => [e.code, e.message, e.pos]),
      text: d.errors.length === 0 ? thrown(() => String(d)) : null,
    })),
    lines: [0, Math.floor(text.length / 2), text.length].map((o) => lineCounter.linePos(o)),
  };
}

test('the pack parses every YAML text exactly as the yaml package does', () => {
  const { packageJson, packDir } = fakeInstall('differential');
  assert.equal(pack(['--out', packDir]).status, 0);
  const packed = loadYaml(packageJson, () => NOT_THE_PACKAGE);
  assert.notEqual(packed.from, 'package');
  const texts = corpus();
  assert.ok(texts.length >= 20, `only ${texts.length} texts`);
  let withErrors = 0;
  for (const { name, text } of texts) {
    const want = outcome(realYaml, text);
    assert.deepEqual(outcome(packed.yaml, text), want, name);
    if (JSON.stringify(want).includes('"errors":[[')) withErrors++;
  }
  // The corpus does reach yaml's error paths (a differential over error-free texts only would prove less).
  assert.ok(withErrors >= 4, `${withErrors} texts with errors`);
  // The two copies' nodes are interchangeable (identity checks use global symbols): a node of one is a node of both.
  const doc = packed.yaml.parseDocument('a: [1]\n');
  assert.ok(realYaml.isMap(doc.contents));
  assert.equal(realYaml.stringify(doc), 'a: [ 1 ]\n');
});

test('a pack of another version, in another format, or damaged is not used (the package loads instead)', () => {
  // Packed from the installed version, read by an install that says it has another one: the name does not match.
  const older = fakeInstall('older', '0.0.1-other');
  assert.equal(pack(['--out', older.packDir]).status, 0);
  assert.ok(readdirSync(older.packDir).includes(`yaml-${VERSION}.${YAML_PACK_FORMAT}.js`));
  assert.equal(loadYaml(older.packageJson, () => NOT_THE_PACKAGE).from, 'package');

  // A file under the expected name whose contents were made for another version or format.
  const forged = fakeInstall('forged');
  const target = yamlPackPath(dirname(forged.packageJson), VERSION);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(
    target,
    `(function () { return { packOf: 'yaml@0.0.1', format: '${YAML_PACK_FORMAT}', yaml: {} }; })\n`,
  );
  assert.equal(loadYaml(forged.packageJson, () => NOT_THE_PACKAGE).yaml, NOT_THE_PACKAGE);
  const other = fakeInstall('other-format');
  const target2 = yamlPackPath(dirname(other.packageJson), VERSION);
  mkdirSync(dirname(target2), { recursive: true });
  writeFileSync(target2, `(function () { return { packOf: 'yaml@${VERSION}', format: 'pack-v0', yaml: {} }; })\n`);
  assert.equal(loadYaml(other.packageJson, () => NOT_THE_PACKAGE).yaml, NOT_THE_PACKAGE);
  // A damaged pack: not JavaScript, or a function that throws, or returns nothing. The package, no crash.
  for (const [name, text] of [
    ['broken-syntax', '(function (require) { return { packOf: \n'],
    ['throws', "(function () { throw new Error('damaged'); })\n"],
    ['returns-nothing', '(function () {})\n'],
  ]) {
    const damaged = fakeInstall(name);
    const file = yamlPackPath(dirname(damaged.packageJson), VERSION);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    assert.equal(loadYaml(damaged.packageJson, () => NOT_THE_PACKAGE).yaml, NOT_THE_PACKAGE, name);
  }
  // No pack at all: the package.
  const none = fakeInstall('none');
  assert.equal(loadYaml(none.packageJson, () => NOT_THE_PACKAGE).from, 'package');
});

/**
 * loadYaml in a fresh process (V8 keeps what a process compiled: a second compile of the same pack in this one would
 * not even look at a cache file), with its answer and a parse made with what it loaded.
 */
function loadInChild(packageJson: string): { from: string; codeCache: string; parsed: unknown } {
  const code = [
    `import { loadYaml } from ${JSON.stringify(join(import.meta.dirname, 'yaml-package.ts'))};`,
    `const l = loadYaml(${JSON.stringify(packageJson)}, () => { throw new Error('loaded the package'); });`,
    "process.stdout.write(JSON.stringify({ from: l.from, codeCache: l.codeCache, parsed: l.yaml.parse('a: [1, b]\\n') }));",
  ].join('\n');
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { from: string; codeCache: string; parsed: unknown };
}

test("V8 takes the pack's code cache, refuses one that is not the pack's, and the pack loads either way", () => {
  const { packageJson, packDir } = fakeInstall('stale-cache');
  assert.equal(pack(['--out', packDir]).status, 0);
  const target = yamlPackPath(dirname(packageJson), VERSION);
  assert.deepEqual(loadInChild(packageJson), { from: target, codeCache: 'accepted', parsed: { a: [1, 'b'] } });
  // The cache of another script (same V8, same flags): made for another source, so V8 must not take it.
  writeFileSync(`${target}.v8-cache`, new Script('(function () { return 1 + 1; })').createCachedData());
  assert.deepEqual(loadInChild(packageJson), { from: target, codeCache: 'rejected', parsed: { a: [1, 'b'] } });
  // Bytes that are no code cache at all.
  writeFileSync(`${target}.v8-cache`, Buffer.from('not a code cache'));
  assert.deepEqual(loadInChild(packageJson), { from: target, codeCache: 'rejected', parsed: { a: [1, 'b'] } });
  // No cache file: the pack compiles itself.
  rmSync(`${target}.v8-cache`);
  assert.deepEqual(loadInChild(packageJson), { from: target, codeCache: 'none', parsed: { a: [1, 'b'] } });
});

test('a package the packer cannot pack leaves the install alone: a warning, exit 0, no pack', () => {
  const root = join(scratch, 'odd', 'node_modules');
  const pkgDir = join(root, 'yaml');
  mkdirSync(join(pkgDir, 'dist'), { recursive: true });
  writeFileSync(
    join(pkgDir, 'package.json'),
    JSON.stringify({ name: 'yaml', version: '9.9.9', main: './dist/index.js' }),
  );
  writeFileSync(join(pkgDir, 'dist', 'index.js'), "'use strict';\nmodule.exports = require('left-pad');\n");
  // The packer resolves `yaml` from its own folder: run a copy of it beside the odd package.
  const scripts = join(scratch, 'odd', 'scripts');
  mkdirSync(scripts, { recursive: true });
  cpSync(PACKER, join(scripts, 'pack-yaml.mjs'));
  const r = spawnSync(process.execPath, [join(scripts, 'pack-yaml.mjs')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stderr,
    /yaml not packed \(yaml@9\.9\.9: dist\/index\.js requires 'left-pad', which the pack does not resolve\)/,
  );
  assert.equal(existsSync(join(root, '.cache')), false);
});

test('npm ci packed the installed yaml, and the parser loads the pack', () => {
  const expected = yamlPackPath(dirname(PACKAGE_JSON), VERSION);
  assert.ok(
    existsSync(expected),
    `${expected} is missing: \`npm ci\` runs scripts/pack-yaml.mjs as its postinstall step (was it run with --ignore-scripts?)`,
  );
  assert.equal(yamlPackage().from, expected);
  assert.deepEqual(loadInChild(PACKAGE_JSON), { from: expected, codeCache: 'accepted', parsed: { a: [1, 'b'] } });
});
