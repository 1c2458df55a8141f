/** `portcullis suggest` on bad input: every mistake is a clear error naming the flag, file or line, exit 2. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli } from './support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-suggest-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const GOOD =
  '{"type":"tunnel","start":"2026-01-01T00:00:00.000Z","source_principal":"spiffe://cluster.local/ns/a/sa/b","authority":"x.example:443",' +
  '"gateway":"istio-system/ztunnel-egress","service_entry":null,"host":"x.example","port":443,"upstream_address":"93.184.216.34:443",' +
  '"decision":"would-deny","code":"PCL_LEARN_WOULD_DENY","reason":"r","policies":[],"sni":"x.example","bytes_received":1,"bytes_sent":1}';

test('suggest: --from-log or --admin, exactly one', async () => {
  const none = await runCli(['suggest']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /give --from-log \(one or more\) or --admin, not both/);
  const both = await runCli(['suggest', '--from-log', 'x', '--admin', 'http://127.0.0.1:1']);
  assert.equal(both.code, 2);
});

test('suggest: a line that is not JSON is named by file and line', async () => {
  const log = join(dir, 'bad.log');
  writeFileSync(log, `${GOOD}\n\n{"type":"tunnel",\n`);
  const r = await runCli(['suggest', '--from-log', log]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`${log.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3: not JSON`));
  assert.match(r.stderr, /\[PCL_SUGGEST_BAD_LOG\]/);
});

test('suggest: a JSON line that is not an access-log line is named by file and line; nothing is written', async () => {
  const log = join(dir, 'fields.log');
  writeFileSync(log, `${GOOD}\n{"type":"tunnel","authority":"x.example:443"}\n`);
  const out = join(dir, 'fields-out.yaml');
  const r = await runCli(['suggest', '--from-log', log, '--out', out]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error\[PCL_SUGGEST_BAD_LOG\]: /);
  assert.match(
    r.stderr,
    new RegExp(`${log.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2: a tunnel line without source_principal`),
  );
  assert.equal(existsSync(out), false, 'a partial suggestion was written');
});

test('suggest: a missing log, a malformed --gateway and an admin that does not answer are clear errors', async () => {
  const missing = await runCli(['suggest', '--from-log', join(dir, 'nope.log')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.log: cannot read the file/);
  const log = join(dir, 'good.log');
  writeFileSync(log, `${GOOD}\n`);
  const gw = await runCli(['suggest', '--from-log', log, '--gateway', 'not a ref']);
  assert.equal(gw.code, 2);
  assert.match(gw.stderr, /--gateway "not a ref": expected NAMESPACE\/NAME/);
  // A port that was free a moment ago: nothing answers there.
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const admin = await runCli(['suggest', '--admin', `http://127.0.0.1:${port}`]);
  assert.equal(admin.code, 2);
  assert.match(admin.stderr, /--admin http:\/\/127\.0\.0\.1:\d+\/flows\/edges: /);
  const ok = await runCli(['suggest', '--from-log', log]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /name: x-example-443\n\s+namespace: a/);
});
