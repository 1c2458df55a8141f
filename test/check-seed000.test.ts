/** Seed 000's scenarios through `portcullis check`, and bad input to `check` (exit 2, clear message). */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { configFrom, runBin, runCli } from './support/cli.ts';

const BASE = ['gateway.yaml', 'serviceentry.yaml', 'namespace.yaml', 'portcullis.yaml'];
const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));

function config(files: string[], extra: Record<string, string> = {}): string {
  const c = configFrom('seed-000', { files: [...BASE, ...files], extra });
  cleanups.push(c.cleanup);
  return c.dir;
}

async function decide(dir: string, from: string, to: string) {
  const r = await runCli(['check', '--config', dir, '--from', from, '--to', to, '-o', 'json']);
  assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
  const json = JSON.parse(r.stdout);
  assert.equal(r.code, json.decision === 'allow' ? 0 : 1, 'exit code follows the decision');
  return json;
}

// Only the Gateway-layer and ServiceEntry-layer policies each scenario needs, written as the seed writes them.
const SE_ALLOW_BOOKINFO = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-bookinfo-to-httpbin, namespace: bookinfo}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: httpbin-org}]
  action: ALLOW
  rules: [{from: [{source: {namespaces: ["bookinfo"]}}]}]
`;
const SE_ALLOW_PRODUCTPAGE = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-productpage-to-httpbin, namespace: bookinfo}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: httpbin-org}]
  action: ALLOW
  rules: [{from: [{source: {principals: ["cluster.local/ns/bookinfo/sa/bookinfo-productpage"]}}]}]
`;

test('with only the default-deny policy nothing gets out', async () => {
  const dir = config(['default-deny.yaml'], { 'se.yaml': SE_ALLOW_BOOKINFO });
  for (const from of ['bookinfo/bookinfo-productpage', 'default/sleep', 'spiffe://cluster.local/ns/other/sa/x']) {
    const r = await decide(dir, from, 'httpbin.org:443');
    assert.equal(r.decision, 'deny', from);
    assert.equal(r.layers[0].layer, 'gateway');
    assert.equal(r.layers[0].decision, 'deny');
    assert.equal(r.layers[0].reason, 'allow policies exist, but none allowed');
  }
});

test('allow-bookinfo-egress plus the ServiceEntry-layer policy lets bookinfo reach httpbin.org:443', async () => {
  const dir = config(['default-deny.yaml', 'gateway-policies.yaml', 'serviceentry-policies.yaml']);
  const r = await decide(dir, 'bookinfo/bookinfo-productpage', 'httpbin.org:443');
  assert.equal(r.decision, 'allow');
  assert.deepEqual(r.destination, { host: 'httpbin.org', port: 443, serviceEntry: 'bookinfo/httpbin-org', gateway: 'istio-system/ztunnel-egress' });
  assert.deepEqual(
    r.layers.map((l: { layer: string; decision: string; policy: string }) => [l.layer, l.decision, l.policy]),
    [
      ['gateway', 'allow', 'istio-system/allow-bookinfo-egress'],
      ['serviceentry', 'allow', 'bookinfo/allow-bookinfo-to-httpbin'],
    ],
  );
  assert.deepEqual(r.source, {
    principal: 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage',
    namespace: 'bookinfo',
    serviceAccount: 'bookinfo-productpage',
    ip: '127.0.0.1',
  });
  // The same through the VIP the mesh allocated, as ztunnel would send it.
  assert.equal((await decide(dir, 'bookinfo/bookinfo-productpage', '240.240.0.1:443')).decision, 'allow');
});

test('allow-bookinfo-https-only refuses port 80 (the ServiceEntry also declares 80)', async () => {
  const se80 = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: httpbin-org
  namespace: bookinfo
  labels: {istio.io/use-waypoint: ztunnel-egress, istio.io/use-waypoint-namespace: istio-system}
spec:
  hosts: [httpbin.org]
  ports: [{number: 443, name: https, protocol: TLS}, {number: 80, name: http, protocol: HTTP}]
  resolution: DNS
  location: MESH_EXTERNAL
`;
  const httpsOnly = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-bookinfo-https-only, namespace: istio-system}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: ztunnel-egress}]
  action: ALLOW
  rules: [{from: [{source: {namespaces: ["bookinfo"]}}], to: [{operation: {ports: ["443"]}}]}]
`;
  const dir = config(['default-deny.yaml'], { 'serviceentry.yaml': se80, 'https-only.yaml': httpsOnly, 'se.yaml': SE_ALLOW_BOOKINFO });
  const on443 = await decide(dir, 'bookinfo/bookinfo-productpage', 'httpbin.org:443');
  assert.equal(on443.decision, 'allow');
  assert.equal(on443.layers[0].policy, 'istio-system/allow-bookinfo-https-only');
  const on80 = await decide(dir, 'bookinfo/bookinfo-productpage', 'httpbin.org:80');
  assert.equal(on80.decision, 'deny');
  assert.equal(on80.layers[0].decision, 'deny');
  assert.equal(on80.reason, 'allow policies exist, but none allowed');
});

test('deny-default-egress refuses namespace default even with a matching ALLOW', async () => {
  const allowAll = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-everyone, namespace: istio-system}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: ztunnel-egress}]
  action: ALLOW
  rules: [{}]
`;
  const dir = config(['gateway-policies.yaml'], { 'allow.yaml': allowAll, 'se-any.yaml': SE_ALLOW_BOOKINFO.replace('namespaces: ["bookinfo"]', 'namespaces: ["*"]') });
  const r = await decide(dir, 'default/sleep', 'httpbin.org:443');
  assert.equal(r.decision, 'deny');
  assert.equal(r.code, 'PCL_AUTHZ_DENIED_EXPLICIT');
  assert.equal(r.reason, 'explicitly denied by: istio-system/deny-default-egress');
  assert.equal(r.layers[0].policy, 'istio-system/deny-default-egress');
  assert.equal((await decide(dir, 'bookinfo/bookinfo-reviews', 'httpbin.org:443')).decision, 'allow');
});

test('with allow-productpage-to-httpbin only bookinfo-productpage passes; another SA is refused at the ServiceEntry layer', async () => {
  const dir = config(['default-deny.yaml', 'gateway-policies.yaml'], { 'se.yaml': SE_ALLOW_PRODUCTPAGE });
  assert.equal((await decide(dir, 'bookinfo/bookinfo-productpage', 'httpbin.org:443')).decision, 'allow');
  const other = await decide(dir, 'bookinfo/bookinfo-reviews', 'httpbin.org:443');
  assert.equal(other.decision, 'deny');
  assert.deepEqual(
    other.layers.map((l: { layer: string; decision: string }) => [l.layer, l.decision]),
    [
      ['gateway', 'allow'],
      ['serviceentry', 'deny'],
    ],
  );
  assert.equal(other.layers[1].reason, 'allow policies exist, but none allowed');
});

test('an undeclared destination IP is decided by egressPolicies (deny 0.0.0.0/0)', async () => {
  const dir = config(['default-deny.yaml', 'gateway-policies.yaml', 'serviceentry-policies.yaml']);
  const r = await decide(dir, 'bookinfo/bookinfo-productpage', '93.184.216.34:443');
  assert.equal(r.decision, 'deny');
  assert.equal(r.destination.serviceEntry, null);
  assert.equal(r.layers[0].layer, 'egressPolicies');
});

test('--cases runs a list of policy test cases and prints N passed, N failed', async () => {
  const dir = config(['default-deny.yaml', 'gateway-policies.yaml'], { 'se.yaml': SE_ALLOW_PRODUCTPAGE });
  const cases = join(dir, '..', `cases-${process.pid}.yaml`);
  writeFileSync(
    cases,
    `- {from: bookinfo/bookinfo-productpage, to: "httpbin.org:443", expect: allow}
- {from: bookinfo/bookinfo-reviews, to: "httpbin.org:443", expect: deny}
- {from: default/sleep, to: "httpbin.org:443", expect: allow, name: wrong on purpose}
`,
  );
  cleanups.push(() => rmSync(cases, { force: true }));
  const r = await runCli(['check', '--config', dir, '--cases', cases]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^ok 1 - /m);
  assert.match(r.stdout, /^not ok 3 - wrong on purpose: expected allow, got deny \(PCL_AUTHZ_DENIED_EXPLICIT/m);
  assert.match(r.stdout, /^2 passed, 1 failed$/m);
});


test('bad input to check: exit 2 with a clear message', async () => {
  const dir = config(['default-deny.yaml']);
  const cases: [string[], RegExp][] = [
    [['--from', 'spiffe://cluster.local/bookinfo/x', '--to', 'httpbin.org:443'], /--from "spiffe:\/\/cluster.local\/bookinfo\/x": .*spiffe:\/\/<trust-domain>\/ns\/<namespace>\/sa\/<service-account>/],
    [['--from', 'bookinfo/a', '--to', 'httpbin.org:70000'], /--to "httpbin.org:70000": .*port from 1 to 65535/],
    [['--from', 'bookinfo/a', '--to', 'httpbin.org'], /--to "httpbin.org"/],
    [['--from', 'bookinfo/a', '--to', 'nowhere.example.com:443'], /unknown host "nowhere.example.com"/],
    [['--from', 'bookinfo/a'], /--to is required/],
    [['--from', 'bookinfo/a', '--to', 'httpbin.org:443', '--bogus'], /error\[PCL_CLI_USAGE\]: unknown flag --bogus/],
    [['--from', 'bookinfo/a', '--to', 'httpbin.org:443', '--source-ip', 'not-an-ip'], /--source-ip "not-an-ip" is not an IP address/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(['check', '--config', dir, ...args]);
    assert.equal(r.code, 2, `${args.join(' ')} → ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, re);
  }
  const missing = await runCli(['check', '--config', '/nonexistent/portcullis', '--from', 'a/b', '--to', 'h:1']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--config \/nonexistent\/portcullis: no such file or folder/);
});

test('the real entry point bin/portcullis.mjs runs check end to end', async () => {
  const dir = config(['default-deny.yaml', 'gateway-policies.yaml', 'serviceentry-policies.yaml']);
  const r = await runBin(['check', '--config', dir, '--from', 'default/sleep', '--to', 'httpbin.org:443']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /^DENY {2}spiffe:\/\/cluster.local\/ns\/default\/sa\/sleep -> httpbin.org:443$/m);
  assert.match(r.stdout, /explicitly denied by: istio-system\/deny-default-egress/);
});
