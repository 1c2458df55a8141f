/** argv-tokens against Node's own util.parseArgs: same tokens, same strict accept/reject, same errors, same values. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { type ArgvOptions, argvValues, tokenizeArgv } from './argv-tokens.ts';
import { commandTable } from './args.ts';
import { main } from './main.ts';

/** Synthetic tables with every option shape our flag tables use, and the odd ones parseArgs still defines. */
const TABLES: Record<string, ArgvOptions> = {
  mixed: {
    help: { type: 'boolean', short: 'h' },
    verbose: { type: 'boolean', short: 'v' },
    config: { type: 'string', short: 'c' },
    output: { type: 'string', short: 'o', default: 'text' },
    from: { type: 'string' },
    case: { type: 'string', multiple: true },
    trace: { type: 'boolean', multiple: true, short: 't' },
    dry: { type: 'boolean', default: false },
  },
  // A long name of one letter is what `-x` means when no option has short `x`; a multiple with defaults.
  odd: {
    x: { type: 'string' },
    n: { type: 'boolean' },
    tag: { type: 'string', multiple: true, default: ['a', 'b'] },
    é: { type: 'string', short: 'é' },
    help: { type: 'boolean', short: 'h' },
  },
  empty: {},
  // An own `__proto__` option (only JSON.parse makes one): parseArgs accepts it but never stores it, default included.
  proto: JSON.parse('{"__proto__": {"type": "string", "default": "d"}, "on": {"type": "boolean", "short": "o"}}'),
};

/** The real command tables, as each command registers them when it parses `--help`. */
async function commandTables(): Promise<Record<string, ArgvOptions>> {
  const quiet = { stdout: { write: () => true }, stderr: { write: () => true } };
  const out: Record<string, ArgvOptions> = {};
  for (const argv of [
    ['check'],
    ['audit'],
    ['status'],
    ['suggest'],
    ['serve'],
    ['agent'],
    ['install'],
    ['ca', 'init'],
  ]) {
    const code = await main([...argv, '--help'], quiet);
    assert.equal(code, 0, `${argv.join(' ')} --help`);
    const registered = commandTable(argv.join(' '));
    assert.ok(registered, `${argv.join(' ')} registered its flag table`);
    out[argv.join(' ')] = registered.table;
  }
  return out;
}

/** Words to build argv from: every flag shape of `table`, plus the shapes no table defines. */
function wordsFor(table: ArgvOptions): string[] {
  const words = new Set([
    '--',
    '-',
    '',
    'pos',
    'val',
    '-1',
    '--=x',
    '--=a=b',
    '--=',
    '---x',
    '-=',
    '-=x',
    '--unknown',
    '--unknown=1',
    '-Z',
    '-ZZ',
    'ünï',
    '--ünï',
    '-é',
    '-😀',
    '--😀=ü',
    '--constructor',
    '--__proto__',
    '--__proto__=1',
    '-h-',
    '-h-x',
  ]);
  const shorts: string[] = [];
  for (const [name, option] of Object.entries(table)) {
    words.add(`--${name}`);
    words.add(`--${name}=`);
    words.add(`--${name}=v`);
    words.add(`--${name}=-x`);
    words.add(`--${name}=a=b`);
    words.add(`--${name.toUpperCase()}`);
    if (option.short) {
      shorts.push(option.short);
      words.add(`-${option.short}`);
      words.add(`-${option.short}v`);
      words.add(`-${option.short}=v`);
      words.add(`-${option.short}-`);
    }
  }
  // Short groups: pairs in both orders, a string option mid-group, and one with an unknown letter.
  for (const a of shorts) {
    for (const b of shorts) words.add(`-${a}${b}`);
    words.add(`-${a}Zval`);
    words.add(`-${shorts.join('')}`);
  }
  return [...words];
}

/** A small deterministic generator (mulberry32), so a failure names a vector that reproduces. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every vector of up to two words, then seeded random ones of three to six words. */
function vectorsFor(table: ArgvOptions, seed: number): string[][] {
  const words = wordsFor(table);
  const vectors: string[][] = [[]];
  for (const a of words) {
    vectors.push([a]);
    for (const b of words) vectors.push([a, b]);
  }
  const next = random(seed);
  for (let i = 0; i < 3000; i++) {
    const length = 3 + Math.floor(next() * 4);
    vectors.push(Array.from({ length }, () => words[Math.floor(next() * words.length)]));
  }
  return vectors;
}

type Outcome = { values: unknown } | { code: string; message: string };

function outcome(run: () => unknown): Outcome {
  try {
    return { values: run() };
  } catch (err) {
    const e = err as { code?: string; message: string };
    return { code: String(e.code), message: e.message };
  }
}

/** Compare one table over its vectors; returns how often each outcome occurred, so coverage can be checked. */
function compareTable(label: string, table: ArgvOptions, seed: number): Map<string, number> {
  const seen = new Map<string, number>();
  const options = table as ParseArgsOptionsConfig;
  for (const argv of vectorsFor(table, seed)) {
    const at = `${label}: ${JSON.stringify(argv)}`;
    const nodeTokens = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true }).tokens;
    const ours = tokenizeArgv(argv, table);
    assert.deepEqual(ours, nodeTokens, `tokens for ${at}`);
    for (const allowPositionals of [false, true]) {
      const theirs = outcome(() => parseArgs({ args: argv, options, strict: true, allowPositionals }).values);
      const mine = outcome(() => argvValues(tokenizeArgv(argv, table), table, allowPositionals));
      assert.deepEqual(mine, theirs, `strict (allowPositionals ${allowPositionals}) for ${at}`);
      const key = 'code' in theirs ? theirs.code : 'accepted';
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
  }
  return seen;
}

function assertCoverage(label: string, seen: Map<string, number>): void {
  // The vectors must exercise every outcome, or agreement would prove little.
  for (const key of [
    'accepted',
    'ERR_PARSE_ARGS_UNKNOWN_OPTION',
    'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL',
    'ERR_PARSE_ARGS_INVALID_OPTION_VALUE',
  ]) {
    assert.ok((seen.get(key) ?? 0) >= 10, `${label}: only ${seen.get(key) ?? 0} vectors ended ${key}`);
  }
}

for (const [i, [label, table]] of Object.entries(TABLES).entries()) {
  test(`same tokens, accept/reject and values as util.parseArgs: ${label} table`, () => {
    const seen = compareTable(label, table, 1000 + i);
    if (label !== 'empty') assertCoverage(label, seen);
    else assert.ok((seen.get('ERR_PARSE_ARGS_UNKNOWN_OPTION') ?? 0) > 1000, 'every flag is unknown to an empty table');
  });
}

test('same tokens, accept/reject and values as util.parseArgs: every command table', async () => {
  const tables = await commandTables();
  for (const [i, [label, table]] of Object.entries(tables).entries()) {
    assertCoverage(label, compareTable(label, table, 2000 + i));
  }
});

// The behaviours args.ts's messages rely on, spelled out (each also covered by the comparison above).
test('a string option takes the next word even when it looks like a flag; strict parsing then refuses it', () => {
  const table = TABLES.mixed;
  assert.deepEqual(tokenizeArgv(['--config', '-x'], table), [
    { kind: 'option', index: 0, name: 'config', rawName: '--config', value: '-x', inlineValue: false },
  ]);
  assert.throws(() => argvValues(tokenizeArgv(['--config', '-x'], table), table), {
    code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE',
    message: /^Option '--config' argument is ambiguous\.\n/,
  });
  assert.throws(() => argvValues(tokenizeArgv(['--config', '--'], table), table), /argument is ambiguous/);
  assert.equal(argvValues(tokenizeArgv(['--config=-x'], table), table).config, '-x');
  // A lone '-' is not option-like, so it is a value.
  assert.equal(argvValues(tokenizeArgv(['--config', '-'], table), table).config, '-');
});

test('short groups, the terminator, lone dash and defaults', () => {
  const table = TABLES.mixed;
  const grouped = argvValues(tokenizeArgv(['-hvcFILE'], table), table);
  assert.deepEqual({ ...grouped }, { help: true, verbose: true, config: 'FILE', output: 'text', dry: false });
  assert.equal(Object.getPrototypeOf(grouped), null, 'no prototype, like parseArgs');
  assert.deepEqual(tokenizeArgv(['-h', '--', '--config'], table).slice(1), [
    { kind: 'option-terminator', index: 1 },
    { kind: 'positional', index: 2, value: '--config' },
  ]);
  assert.deepEqual(tokenizeArgv(['-'], table), [{ kind: 'positional', index: 0, value: '-' }]);
  assert.throws(() => argvValues(tokenizeArgv(['-'], table), table), { code: 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' });
  assert.deepEqual({ ...argvValues(tokenizeArgv(['--', ...[]], table), table) }, { output: 'text', dry: false });
  assert.deepEqual(argvValues(tokenizeArgv(['--case', 'a', '--case=b', '-tt'], table), table).case, ['a', 'b']);
  assert.deepEqual(argvValues(tokenizeArgv(['-tt'], table), table).trace, [true, true]);
  assert.throws(() => argvValues(tokenizeArgv(['--help=yes'], table), table), {
    message: "Option '-h, --help' does not take an argument",
  });
  assert.throws(() => argvValues(tokenizeArgv(['--from'], table), table), {
    message: "Option '--from <value>' argument missing",
  });
  assert.throws(() => argvValues(tokenizeArgv(['--constructor'], table), table), {
    code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION',
  });
});
