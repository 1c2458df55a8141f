/**
 * Every command's --help explains every flag of its table (description, default, one example that parses), and a
 * malformed call of each command gets one rendered error: `error[CODE]: message`, where, and a specific hint.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commandTable, parseFlags } from '../src/cli/args.ts';
import { defaultOf } from '../src/cli/help.ts';
import { COMMANDS } from '../src/cli/main.ts';
import { runCli } from './support/cli.ts';

const PATHS: string[][] = Object.entries(COMMANDS).flatMap(([name, c]) =>
  c.subcommands ? c.subcommands.map((s) => [name, s]) : [[name]],
);

test('the walk covers every command', () => {
  assert.ok(PATHS.length >= 7, PATHS.map((p) => p.join(' ')).join(', '));
});

for (const path of PATHS) {
  const name = path.join(' ');

  test(`portcullis ${name} --help explains every flag with a default and an example`, async () => {
    const r = await runCli([...path, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.ok(r.stdout.startsWith(`portcullis ${name}: `), r.stdout);
    assert.match(r.stdout, new RegExp(`^Usage: portcullis ${name} `, 'm'));
    const entry = commandTable(name);
    assert.ok(entry, `${name} registered no flag table`);
    const rows = Object.entries(entry.table);
    assert.ok(rows.length >= 2, `${name} has flags besides --help`);
    for (const [flag, spec] of rows) {
      const block = r.stdout.slice(r.stdout.indexOf(`--${flag}`));
      assert.ok(r.stdout.includes(`--${flag}`), `--${flag} missing from ${name} --help`);
      assert.ok(spec.description.length > 10, `--${flag} has a description`);
      assert.ok(block.includes(spec.description), `--${flag}'s description is printed`);
      assert.ok(block.includes(`default: ${defaultOf(spec)}`), `--${flag}'s default is printed`);
      assert.ok(block.includes(`example: ${spec.example}`), `--${flag}'s example is printed`);
      // The example names its own flag, and the parser accepts it as written.
      const words = spec.example.split(' ');
      assert.ok(
        words[0] === `--${flag}` || words[0] === `-${spec.short}`,
        `--${flag}'s example starts with the flag: ${spec.example}`,
      );
      assert.doesNotThrow(() => parseFlags(`${name} (example)`, '', words, entry.table), spec.example);
      if (spec.choices)
        assert.ok(spec.choices.includes(words[1]), `${spec.example} is one of ${spec.choices.join(', ')}`);
    }
  });

  test(`portcullis ${name} with an unknown flag: one rendered error, exit 2`, async () => {
    const r = await runCli([...path, '--no-such-flag']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /^error\[PCL_CLI_USAGE\]: unknown flag --no-such-flag\n {2}--> --no-such-flag\n {2}hint: .*--help/,
    );
  });

  test(`portcullis ${name}: a misspelt flag gets a did-you-mean, a flag without its value says so`, async () => {
    await runCli([...path, '--help']);
    const table = commandTable(name)!.table;
    const [flag] = Object.entries(table).find(([n, s]) => s.type === 'string' && n.length >= 4)!;
    const typo = `--${flag.slice(0, 2)}${flag.slice(3)}`; // one letter dropped
    const r = await runCli([...path, typo, 'x']);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      new RegExp(`^error\\[PCL_CLI_USAGE\\]: unknown flag ${typo}\\n.*\\n {2}hint: did you mean --${flag}\\?`),
    );
    const missing = await runCli([...path, `--${flag}`]);
    assert.equal(missing.code, 2);
    assert.match(
      missing.stderr,
      new RegExp(
        `^error\\[PCL_CLI_USAGE\\]: --${flag} needs a value\\n {2}--> --${flag}\\n {2}hint: for example --${flag} `,
      ),
    );
  });

  test(`portcullis ${name}: a value outside a flag's set names the set and suggests the near miss`, async () => {
    await runCli([...path, '--help']);
    for (const [flag, spec] of Object.entries(commandTable(name)!.table)) {
      if (!spec.choices) continue;
      const near = spec.choices[0].slice(0, -1);
      const r = await runCli([...path, `--${flag}`, near]);
      assert.equal(r.code, 2);
      assert.match(
        r.stderr,
        new RegExp(
          `^error\\[PCL_CLI_BAD_VALUE\\]: .*--${flag} must be one of ${spec.choices.join(', ')} \\(got "${near}"\\)`,
        ),
      );
      assert.match(r.stderr, new RegExp(`hint: did you mean --${flag} ${spec.choices[0]}\\?`));
    }
  });
}

test('an unknown command suggests the near one', async () => {
  const r = await runCli(['stauts']);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /^error\[PCL_CLI_USAGE\]: unknown command "stauts"\n.*\n {2}hint: did you mean 'portcullis status'\?/,
  );
});

test('--version prints the version of package.json', async () => {
  const { version } = (await import('../package.json', { with: { type: 'json' } })).default as { version: string };
  const r = await runCli(['--version']);
  assert.equal(r.stdout, `portcullis ${version}\n`);
});
