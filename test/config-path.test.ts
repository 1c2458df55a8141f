/** `--config` takes one manifest file as well as a folder (as `kubectl -f` does), and an empty one is a warning. */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { EXAMPLES, runCli } from './support/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'portcullis-config-path-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('status --config FILE reads that one file and names it in its report', async () => {
  const r = await runCli(['status', '--config', join(EXAMPLES, 'seed-000', 'serviceentry.yaml')]);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^ServiceEntry bookinfo\/httpbin-org {2}\(serviceentry\.yaml:\d+\)$/m);
  assert.doesNotMatch(r.stdout, /AuthorizationPolicy/, 'only the file given is read');
});

test('check --config FILE decides with the manifests of that file', async () => {
  // All of seed 000 in one file: the same decision as the folder gives.
  const all = join(tmp, 'seed-000.yaml');
  const dir = join(EXAMPLES, 'seed-000');
  writeFileSync(
    all,
    readdirSync(dir)
      .filter((f) => f !== 'portcullis.yaml')
      .map((f) => readFileSync(join(dir, f), 'utf8'))
      .join('\n---\n'),
  );
  const args = ['--from', 'default/sleep', '--to', 'httpbin.org:443'];
  const fromFile = await runCli(['check', '--config', all, '--settings', join(dir, 'portcullis.yaml'), ...args]);
  const fromDir = await runCli(['check', '--config', dir, ...args]);
  assert.equal(fromFile.code, 1, fromFile.stderr);
  assert.match(fromFile.stdout, /^DENY {2}spiffe:\/\/cluster\.local\/ns\/default\/sa\/sleep -> httpbin\.org:443$/m);
  assert.equal(fromFile.stdout, fromDir.stdout);
});

test('an empty --config folder or a blank file is a warning on stderr, with the code and a hint', async () => {
  const empty = mkdtempSync(join(tmp, 'empty-'));
  const blank = join(tmp, 'blank.yaml');
  writeFileSync(blank, '# nothing here yet\n---\n');
  for (const config of [empty, blank]) {
    const r = await runCli(['status', '--config', config]);
    assert.equal(r.code, 0);
    assert.match(
      r.stderr,
      new RegExp(
        `^warning\\[PCL_CLI_CONFIG_EMPTY\\]: --config ${config} holds no manifests .*every connection will be denied\\n {2}--> --config\\n {2}hint: `,
      ),
    );
    assert.match(r.stdout, /0 resources/);
  }
});

test('a folder with manifests gives no warning', async () => {
  const r = await runCli(['status', '--config', join(EXAMPLES, 'seed-000')]);
  assert.equal(r.stderr, '');
});
