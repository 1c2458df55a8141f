/** parseFlags on a small table: values as typed, and each usage error naming the flag as the user wrote it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PortcullisError } from '../errors/portcullis-error.ts';
import { HELP_FLAG, parseFlags } from './args.ts';

const TABLE = {
  help: HELP_FLAG,
  config: { type: 'string', short: 'c', description: 'the config folder', example: '--config ./deploy' },
  output: {
    type: 'string',
    short: 'o',
    default: 'text',
    choices: ['text', 'json'],
    description: 'output format',
    example: '-o json',
  },
  case: { type: 'string', multiple: true, description: 'a case', example: '--case a' },
} as const;

function parse(argv: string[]) {
  return parseFlags('demo', 'portcullis demo [flags]', argv, TABLE);
}

function usageError(argv: string[]): PortcullisError {
  try {
    parse(argv);
  } catch (err) {
    assert.ok(err instanceof PortcullisError, String(err));
    return err;
  }
  assert.fail(`${JSON.stringify(argv)} was accepted`);
}

test('values: defaults applied, repeatable flags collect, a short group and `--` alone are accepted', () => {
  assert.deepEqual({ ...parse([]) }, { output: 'text' });
  assert.deepEqual(
    { ...parse(['-hc', 'dir', '--case', 'a', '--case=b', '--']) },
    {
      help: true,
      config: 'dir',
      case: ['a', 'b'],
      output: 'text',
    },
  );
  assert.equal(parse(['--config=-x']).config, '-x');
  assert.equal(parse(['-c-x']).config, '-x');
});

test('each malformed command line is a usage error naming the flag as typed', () => {
  const cases: [string[], string, RegExp, string][] = [
    [['--confg', 'x'], 'PCL_CLI_USAGE', /unknown flag --confg$/, 'did you mean --config?'],
    [['-x'], 'PCL_CLI_USAGE', /unknown flag -x$/, "run 'portcullis demo --help'"],
    [['--config'], 'PCL_CLI_USAGE', /-c\/--config needs a value$/, 'for example --config ./deploy'],
    [['--config', '-h'], 'PCL_CLI_USAGE', /-c\/--config is followed by "-h", which looks like a flag/, '--config=-h'],
    [['--help=yes'], 'PCL_CLI_USAGE', /--help takes no value \(got "yes"\)$/, 'write just --help'],
    [['-o', 'jsn'], 'PCL_CLI_BAD_VALUE', /must be one of text, json \(got "jsn"\)$/, 'did you mean -o json?'],
    [['-c', 'a', '--config=b'], 'PCL_CLI_USAGE', /--config is given twice$/, 'give it once'],
    [['config'], 'PCL_CLI_USAGE', /unexpected argument "config"$/, 'did you mean --config? Flags start with --'],
    [['--', 'x'], 'PCL_CLI_USAGE', /unexpected argument "x"$/, "run 'portcullis demo --help'"],
    [['-'], 'PCL_CLI_USAGE', /unexpected argument "-"$/, "run 'portcullis demo --help'"],
  ];
  for (const [argv, code, message, hint] of cases) {
    const err = usageError(argv);
    assert.equal(err.code, code, JSON.stringify(argv));
    assert.match(err.message, /^portcullis demo: /);
    assert.match(err.message, message, JSON.stringify(argv));
    assert.ok(err.hint?.includes(hint), `${JSON.stringify(argv)}: hint ${err.hint}`);
  }
});

test("Object.prototype's names are unknown flags like any other, not rows of the table", () => {
  for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    const err = usageError([`--${name}`]);
    assert.equal(err.message, `portcullis demo: unknown flag --${name}`);
    assert.equal(err.where, `--${name}`);
  }
});
