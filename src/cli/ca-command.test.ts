/** `portcullis ca` parses flags strictly and explains every refusal with exit code 2. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { main } from './main.ts';

async function run(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(['ca', ...argv], {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  });
  return { code, stdout, stderr };
}

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pcl-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('ca init and ca issue write usable files', async (t) => {
  const dir = await tempDir(t);
  const ca = join(dir, 'ca');
  const init = await run(['init', '--dir', ca, '--trust-domain', 'example.org']);
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, /example\.org/);
  assert.ok((await stat(join(ca, 'ca-key.pem'))).isFile());

  const issue = await run([
    'issue',
    '--dir',
    ca,
    '--spiffe',
    'spiffe://example.org/ns/bookinfo/sa/productpage',
    '--out',
    join(dir, 'w'),
    '--ttl',
    '2h',
  ]);
  assert.equal(issue.code, 0, issue.stderr);
  const leaf = new X509Certificate(await readFile(join(dir, 'w', 'cert-chain.pem')));
  assert.equal(leaf.subjectAltName, 'URI:spiffe://example.org/ns/bookinfo/sa/productpage');
  assert.ok(Math.abs(Date.parse(leaf.validTo) - Date.parse(leaf.validFrom) - 7_200_000) <= 1000);

  const short = await run([
    'issue',
    '--dir',
    ca,
    '--spiffe',
    'default/sleep',
    '--trust-domain',
    'example.org',
    '--out',
    join(dir, 's'),
  ]);
  assert.equal(short.code, 0, short.stderr);
  assert.equal(
    new X509Certificate(await readFile(join(dir, 's', 'cert-chain.pem'))).subjectAltName,
    'URI:spiffe://example.org/ns/default/sa/sleep',
  );

  const client = await run(['issue', '--dir', ca, '--subject', 'CN=team-namespace.app1', '--out', join(dir, 'c')]);
  assert.equal(client.code, 0, client.stderr);
  assert.equal(new X509Certificate(await readFile(join(dir, 'c', 'cert-chain.pem'))).subject, 'CN=team-namespace.app1');

  const server = await run([
    'issue',
    '--dir',
    ca,
    '--dns',
    'httpbin.org',
    '--ip',
    '127.0.0.1',
    '--out',
    join(dir, 'srv'),
  ]);
  assert.equal(server.code, 0, server.stderr);
  assert.equal(
    new X509Certificate(await readFile(join(dir, 'srv', 'cert-chain.pem'))).subjectAltName,
    'DNS:httpbin.org, IP Address:127.0.0.1',
  );
});

test('refusals exit 2 with a message that says what to do', async (t) => {
  const dir = await tempDir(t);
  const ca = join(dir, 'ca');
  assert.equal((await run(['init', '--dir', ca])).code, 0);

  const cases: Array<[string[], RegExp]> = [
    [['init', '--dir', ca], /error\[PCL_IDENTITY_CA_EXISTS\]: .*already exists.*hint: .*--force/s],
    [['init', '--dir', ca, '--bogus'], /error\[PCL_CLI_USAGE\]: unknown flag --bogus/],
    [['init'], /--dir is required/],
    [
      ['issue', '--dir', ca, '--spiffe', 'spiffe://cluster.local/ns/a/sa', '--out', join(dir, 'x')],
      /spiffe:\/\/<trust-domain>\/ns\/<namespace>\/sa\/<service-account>/,
    ],
    [['issue', '--dir', ca, '--spiffe', 'spiffe://cluster.local/ns/a/sa/b?x', '--out', join(dir, 'x')], /query string/],
    [['issue', '--dir', join(dir, 'nope'), '--spiffe', 'a/b', '--out', join(dir, 'x')], /portcullis ca init --dir/],
    [['issue', '--dir', ca, '--out', join(dir, 'x')], /one of --spiffe, --subject or --dns\/--ip is required/],
    [['issue', '--dir', ca, '--spiffe', 'a/b', '--subject', 'CN=x', '--out', join(dir, 'x')], /mutually exclusive/],
    [['issue', '--dir', ca, '--spiffe', 'a/b'], /--out is required/],
    [['issue', '--dir', ca, '--spiffe', 'a/b', '--out', join(dir, 'x'), '--ttl', '1 week'], /--ttl "1 week"/],
    [['issue', '--dir', ca, '--spiffe'], /argument missing|--spiffe/],
    [['rotate'], /unknown subcommand "rotate"/],
    [[], /missing subcommand/],
  ];
  for (const [argv, expected] of cases) {
    const r = await run(argv);
    assert.equal(r.code, 2, `${argv.join(' ')} → ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, expected, argv.join(' '));
    assert.equal(r.stdout, '');
  }
  await assert.rejects(stat(join(dir, 'x')), 'nothing written on refusal');
});

test('--help prints usage and exits 0', async () => {
  const r = await run(['issue', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /portcullis ca issue/);
});
