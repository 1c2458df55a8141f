/** Malformed command lines: every command answers exit 2 and a message that names the flag, before doing anything. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EXAMPLES, runCli } from './support/cli.ts';

const SEED = `${EXAMPLES}/seed-000`;

const CASES: [string[], RegExp][] = [
  [[], /Usage: portcullis <command>/],
  [['frobnicate'], /unknown command "frobnicate"/],
  [['serve'], /--config is required/],
  [['serve', '--config', '/nonexistent/portcullis'], /--config \/nonexistent\/portcullis: no such file or folder/],
  [
    ['serve', '--config', SEED],
    /a certificate source is required: --ca-address \(istiod; the default in a pod\), --cert, --key and --trust-bundle, or --ca-dir/,
  ],
  [['serve', '--config', SEED, '--cert', 'c.pem'], /--cert, --key and --trust-bundle go together/],
  [
    ['serve', '--config', SEED, '--ca-dir', '/tmp', '--listen', 'everywhere'],
    /--listen "everywhere": expected IP:PORT/,
  ],
  [['serve', '--config', SEED, '--ca-dir', '/tmp', '--listen', '127.0.0.1:99999'], /--listen "127.0.0.1:99999"/],
  [['serve', '--config', SEED, '--ca-dir', '/tmp', '--admin', 'localhost'], /--admin "localhost"/],
  [
    ['serve', '--config', SEED, '--ca-dir', '/tmp', '--dns-server', 'dns.example:53'],
    /--dns-server "dns.example:53": expected IP or IP:PORT/,
  ],
  [
    ['serve', '--config', SEED, '--ca-dir', '/tmp', '--workers', '0'],
    /--workers "0": expected a positive whole number/,
  ],
  [['serve', '--config', SEED, '--ca-dir', '/tmp', '--workers', 'two'], /--workers "two"/],
  [
    ['serve', '--config', SEED, '--ca-dir', '/tmp', '--idle-timeout', 'soon'],
    /--idle-timeout "soon": expected a duration/,
  ],
  [['serve', '--config', SEED, '--ca-dir', '/tmp', '--drain-seconds', '-1'], /unknown flag|--drain-seconds/],
  [['serve', '--config', SEED, '--ca-dir', '/tmp', '--bogus'], /error\[PCL_CLI_USAGE\]: unknown flag --bogus/],
  [['status'], /--config is required/],
  [
    ['status', '--config', SEED, '-o', 'xml'],
    /error\[PCL_CLI_BAD_VALUE\]: -o\/--output must be one of table, json, yaml \(got "xml"\)/,
  ],
  [['status', '--config', '/nonexistent/portcullis'], /no such file or folder/],
  [['audit', '--config', SEED, '-o', 'html'], /html/],
  [['audit', '--config', SEED, '--fail-on', 'never'], /never/],
  [
    ['check', '--config', SEED, '--from', 'a/b', '--to', 'httpbin.org:443', '-o', 'yaml'],
    /-o\/--output must be one of text, json/,
  ],
  [
    ['check', '--config', SEED, '--cases', '/nonexistent/cases.yaml'],
    /--cases \/nonexistent\/cases.yaml: cannot read the file/,
  ],
  [['ca', 'init'], /--dir/],
  [
    ['ca', 'issue', '--dir', '/nonexistent/ca', '--spiffe', 'spiffe://cluster.local/ns/a/sa/b', '--out', '/tmp/x'],
    /ca init|not found|no CA/i,
  ],
  [['agent', '--config', SEED], /--gateway/],
];

for (const [argv, message] of CASES) {
  test(`portcullis ${argv.join(' ') || '(no command)'} → exit 2`, async () => {
    const r = await runCli(argv);
    assert.equal(r.code, 2, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.match(r.stderr + r.stdout, message);
  });
}
