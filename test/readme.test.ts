/**
 * README.md's `portcullis` commands run exactly as written (through `npx`, from the clone) and print what the README
 * says under each. The `curl` commands of step 4 need the quickstart: test/quickstart.test.ts runs those.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { REPO } from './support/cli.ts';
import { missingLines, readmeCommands } from './support/readme-commands.ts';

// What `npm link` puts on the PATH: a `portcullis` that is bin/portcullis (the launcher). Made here so nothing global
// changes.
const linkDir = mkdtempSync(join(tmpdir(), 'portcullis-link-'));
symlinkSync(join(REPO, 'bin', 'portcullis'), join(linkDir, 'portcullis'));
after(() => rmSync(linkDir, { recursive: true, force: true }));

function bash(command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      ['-c', command],
      { cwd: REPO, timeout: 120_000, env: { ...process.env, PATH: `${linkDir}:${process.env.PATH}` } },
      (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

const commands = readmeCommands(['npx', 'portcullis']);

test('README.md shows portcullis commands with the output they print', () => {
  assert.ok(commands.length >= 6, `found ${commands.length}`);
  assert.ok(
    commands.every((c) => c.expected.length > 0),
    commands
      .filter((c) => c.expected.length === 0)
      .map((c) => c.where)
      .join(', '),
  );
});

for (const c of commands) {
  test(`${c.where}: ${c.command}`, { timeout: 180_000 }, async () => {
    const r = await bash(c.command);
    // check exits 1 on a deny, by design; anything else that is not 0 is a failure.
    const allowedCodes = c.expected.some((l) => l.startsWith('DENY ')) ? [1] : [0];
    assert.ok(allowedCodes.includes(r.code), `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    assert.deepEqual(missingLines(r.stdout, c.expected), [], `output of ${c.command}:\n${r.stdout}\n${r.stderr}`);
  });
}

// README "The examples": each row promises what `portcullis audit` on that folder exits with.
const exampleRows = readFileSync(join(REPO, 'README.md'), 'utf8')
  .split('\n')
  .map((l) => /^\| `(examples\/[\w-]+)` \|.*\| exit (\d)\b/.exec(l))
  .filter((m) => m !== null);

test('README.md "The examples" names an audit exit code for every shipped example', () => {
  const shipped = readdirSync(join(REPO, 'examples'), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => `examples/${e.name}`)
    .sort();
  assert.deepEqual(exampleRows.map((m) => m[1]).sort(), shipped);
});

for (const [, folder, code] of exampleRows) {
  test(`README.md "The examples": portcullis audit --config ${folder} exits ${code}`, {
    timeout: 120_000,
  }, async () => {
    const r = await bash(`portcullis audit --config ${folder}`);
    assert.equal(r.code, Number(code), `${r.stdout}\n${r.stderr}`);
    // exit 0 is promised with warnings only; exit 1 with errors.
    const summary = /portcullis audit: (\d+) error\(s\), (\d+) warning\(s\)/.exec(r.stdout);
    assert.ok(summary, r.stdout);
    assert.equal(Number(summary[1]) > 0, code === '1', summary[0]);
  });
}
