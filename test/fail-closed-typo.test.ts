/**
 * The typo a new user makes — a DENY policy for bookinfo-reviews with `principals` spelt `principles` — must never let
 * reviews out: `serve` refuses the tunnel (401, the reason naming the policy, file:line and the error) and says so in
 * the access log and `/ready`; `audit`'s reachability table and banner show it. (`check` is in check-seed000.test.ts.)
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startGateway } from '../src/gateway/gateway.ts';
import { caller } from './support/hbone-caller.ts';
import { waitForLogLine } from './support/log-file.ts';
import { makeTestPki, type TestPki } from './support/pki.ts';
import { runCli } from './support/cli.ts';
import { DENY_REVIEWS_TYPO } from './support/policy-fixtures.ts';

const GATEWAY_ID = 'spiffe://cluster.local/ns/istio-system/sa/ztunnel-egress';
const REVIEWS = 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews';
const COMPLETE = join(import.meta.dirname, 'fixtures', 'audit', 'complete');

const TYPO = DENY_REVIEWS_TYPO;

let pki: TestPki;
const dirs: string[] = [];
before(async () => {
  pki = await makeTestPki();
});
after(() => {
  pki?.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function configWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-typo-'));
  dirs.push(dir);
  cpSync(COMPLETE, join(dir, 'config'), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'config', name), text);
  return dir;
}

test('serve: the typo denies reviews (and every caller of the layer) with the reason; log and /ready say so', {
  timeout: 120_000,
}, async () => {
  const dir = configWith({ 'deny-reviews.yaml': TYPO });
  const logFile = join(dir, 'access.log');
  const gw = await startGateway({
    configDir: join(dir, 'config'),
    caDir: pki.caDir,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    log: logFile,
    env: {},
    // No name is ever resolved off the machine: a regression that let the tunnel through fails here, not on the net.
    resolver: { resolve: () => Promise.reject(new Error('no DNS in this test')) },
  });
  const [host, port] = [gw.hboneAddress.slice(0, gw.hboneAddress.lastIndexOf(':')), gw.hbonePort];
  const reviews = caller(await pki.workload('bookinfo', 'bookinfo-reviews'), { host, port }, GATEWAY_ID);
  const productpage = caller(await pki.workload('bookinfo', 'bookinfo-productpage'), { host, port }, GATEWAY_ID);
  try {
    for (const who of [reviews, productpage]) {
      const r = await who.connect('httpbin.org:443');
      assert.ok(!r.ok, 'refused');
      assert.equal(r.status, 401);
      assert.match(
        r.reason,
        /^PCL_AUTHZ_INVALID_POLICY: AuthorizationPolicy istio-system\/deny-reviews-egress is invalid \(deny-reviews\.yaml:\d+: \[PCL_CONFIG_UNKNOWN_FIELD\] .*principles/,
      );
    }
    const line = await waitForLogLine(
      logFile,
      (l) => l.type === 'tunnel' && l.source_principal === REVIEWS,
      'the reviews tunnel',
    );
    assert.equal(line.decision, 'deny');
    assert.equal(line.code, 'PCL_AUTHZ_INVALID_POLICY');
    const error = await waitForLogLine(
      logFile,
      (l) => l.type === 'config_error' && l.state === 'appeared',
      'the configuration error',
    );
    assert.equal(error.file, 'deny-reviews.yaml');
    assert.equal(error.code, 'PCL_CONFIG_UNKNOWN_FIELD');
    const ready = await fetch(`http://${gw.adminAddress}/ready`);
    assert.equal(ready.status, 200);
    const body = await ready.text();
    assert.match(body, /^ready: generation 1/);
    assert.match(
      body,
      /deny-reviews\.yaml:\d+ \[PCL_CONFIG_UNKNOWN_FIELD\] AuthorizationPolicy istio-system\/deny-reviews-egress/,
    );
    assert.match(
      body,
      /fails closed: AuthorizationPolicy istio-system\/deny-reviews-egress: it targets Gateway ztunnel-egress: every connection and request through Gateway istio-system\/ztunnel-egress is denied/,
    );

    // Fixed: reviews is denied by the policy itself, productpage gets past the gateway layer again.
    writeFileSync(join(dir, 'config', 'deny-reviews.yaml'), TYPO.replace('principles', 'principals'));
    await gw.reload();
    const again = await reviews.connect('httpbin.org:443');
    assert.ok(!again.ok);
    assert.match(again.reason, /^PCL_AUTHZ_DENIED_EXPLICIT: explicitly denied by: istio-system\/deny-reviews-egress/);
    await waitForLogLine(logFile, (l) => l.type === 'config_error' && l.state === 'fixed', 'the fix');
  } finally {
    reviews.close();
    productpage.close();
    await gw.close({ drainMs: 100 });
  }
});

test('audit: the typo empties the reachability of the layer and the banner names the policy', {
  timeout: 120_000,
}, async () => {
  const clean = await runCli(['audit', '--config', configWith({}) + '/config', '-o', 'json']);
  const reach = (out: string, sa: string) =>
    JSON.parse(out).reachability.find((x: { identity: string }) => x.identity.endsWith(`/sa/${sa}`)).destinations;
  assert.deepEqual(reach(clean.stdout, 'bookinfo-productpage'), [{ host: 'httpbin.org', port: 443 }]);

  const dir = configWith({ 'deny-reviews.yaml': TYPO }) + '/config';
  const json = await runCli(['audit', '--config', dir, '-o', 'json']);
  assert.equal(json.code, 1, json.stderr);
  assert.deepEqual(reach(json.stdout, 'bookinfo-productpage'), []);
  assert.deepEqual(reach(json.stdout, 'bookinfo-reviews'), []);
  assert.match(json.stderr, /^! configuration has 1 error\(s\)/m);
  const table = await runCli(['audit', '--config', dir]);
  assert.match(
    table.stdout,
    /^! {3}decided by invalid AuthorizationPolicy istio-system\/deny-reviews-egress \(deny-reviews\.yaml:\d+\) \[PCL_CONFIG_UNKNOWN_FIELD\]/m,
  );
  assert.ok(readFileSync(join(dir, 'deny-reviews.yaml'), 'utf8').includes('principles'));
});
