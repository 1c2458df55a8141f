/**
 * Seed 000's scenarios through `portcullis check`, undeclared hosts decided by egressPolicies as `serve` decides them,
 * an invalid policy failing closed with the banner, and bad input to `check` (exit 2, clear message).
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startDnsServer } from '../src/devtools/dns-server.ts';
import { configFrom, runBin, runCli } from './support/cli.ts';
import { DENY_REVIEWS_TYPO } from './support/policy-fixtures.ts';

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
  assert.deepEqual(r.destination, {
    host: 'httpbin.org',
    port: 443,
    serviceEntry: 'bookinfo/httpbin-org',
    gateway: 'istio-system/ztunnel-egress',
  });
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
  const dir = config(['default-deny.yaml'], {
    'serviceentry.yaml': se80,
    'https-only.yaml': httpsOnly,
    'se.yaml': SE_ALLOW_BOOKINFO,
  });
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
  const dir = config(['gateway-policies.yaml'], {
    'allow.yaml': allowAll,
    'se-any.yaml': SE_ALLOW_BOOKINFO.replace('namespaces: ["bookinfo"]', 'namespaces: ["*"]'),
  });
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

test('a malformed --cases file: the error names file:line of the bad item, or of the YAML syntax error', async () => {
  const dir = config(['default-deny.yaml']);
  const cases = join(dir, '..', `bad-cases-${process.pid}.yaml`);
  cleanups.push(() => rmSync(cases, { force: true }));
  writeFileSync(
    cases,
    '# policy tests\n- {from: bookinfo/a, to: "httpbin.org:443", expect: allow}\n\n- from: bookinfo/b\n  to: "httpbin.org:443"\n  expct: deny\n',
  );
  const r = await runCli(['check', '--config', dir, '--cases', cases]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /error\[PCL_CLI_BAD_VALUE\]: --cases .*bad-cases-\d+\.yaml:4: item 2: unknown field "expct"/);
  assert.match(r.stderr, /--> .*bad-cases-\d+\.yaml:4$/m);
  writeFileSync(cases, '- {from: bookinfo/a, to: "httpbin.org:443", expect: allow}\n- {from: [\n');
  const s = await runCli(['check', '--config', dir, '--cases', cases]);
  assert.equal(s.code, 2);
  assert.match(s.stderr, /--> .*bad-cases-\d+\.yaml:[23]$/m);
});

test('bad input to check: exit 2 with a clear message', async () => {
  const dir = config(['default-deny.yaml']);
  const cases: [string[], RegExp][] = [
    [
      ['--from', 'spiffe://cluster.local/bookinfo/x', '--to', 'httpbin.org:443'],
      /--from "spiffe:\/\/cluster.local\/bookinfo\/x": .*spiffe:\/\/<trust-domain>\/ns\/<namespace>\/sa\/<service-account>/,
    ],
    [
      ['--from', 'bookinfo/a', '--to', 'httpbin.org:70000'],
      /--to "httpbin.org:70000": .*port 70000 is out of range 1-65535/,
    ],
    // The gateway's own parser: the gateway answers 400 "partial IP address" to this authority, so check refuses it too.
    [
      ['--from', 'bookinfo/a', '--to', '1.2.3:443'],
      /--to "1.2.3:443": .*"1.2.3" looks like a partial IP address \(the gateway answers 400/,
    ],
    [['--from', 'bookinfo/a', '--to', 'httpbin.org:443', '--dns-server', 'nowhere'], /--dns-server "nowhere"/],
    [['--from', 'bookinfo/a', '--to', 'httpbin.org'], /--to "httpbin.org"/],
    [['--from', 'bookinfo/a'], /--to is required/],
    [['--from', 'bookinfo/a', '--to', 'httpbin.org:443', '--bogus'], /error\[PCL_CLI_USAGE\]: unknown flag --bogus/],
    [
      ['--from', 'bookinfo/a', '--to', 'httpbin.org:443', '--source-ip', 'not-an-ip'],
      /--source-ip "not-an-ip" is not an IP address/,
    ],
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

test('an undeclared host is decided by egressPolicies as serve does: seed 000 denies every address, so no lookup', async (t) => {
  const dir = config(['default-deny.yaml', 'gateway-policies.yaml', 'serviceentry-policies.yaml']);
  // A DNS server on loopback that only counts queries: the answer must come without asking it anything.
  const counter = createSocket('udp4');
  let queries = 0;
  counter.on('message', () => queries++);
  await new Promise<void>((r) => counter.bind(0, '127.0.0.1', r));
  t.after(() => counter.close());
  const dns = `127.0.0.1:${counter.address().port}`;
  const out = await runCli([
    'check',
    '--config',
    dir,
    '--from',
    'bookinfo/bookinfo-productpage',
    '--to',
    'nowhere.invalid:443',
    '--dns-server',
    dns,
    '-o',
    'json',
  ]);
  assert.equal(out.code, 1, out.stderr);
  const r = JSON.parse(out.stdout);
  assert.equal(r.decision, 'deny');
  assert.equal(r.code, 'PCL_EGRESS_NO_MATCH');
  assert.equal(r.destination.serviceEntry, null);
  assert.equal(r.resolved, undefined);
  const cases = join(dir, 'cases.yaml');
  writeFileSync(cases, '- {from: bookinfo/bookinfo-productpage, to: "nowhere.invalid:443", expect: deny}\n');
  const c = await runCli(['check', '--config', dir, '--cases', cases, '--dns-server', dns]);
  assert.equal(c.code, 0, c.stdout + c.stderr);
  assert.match(c.stdout, /^1 passed, 0 failed$/m);
  assert.equal(queries, 0, 'no name was resolved');
});

test('with an Allow in egressPolicies an undeclared host is resolved (--dns-server) and every address decided', async (t) => {
  const dns = await startDnsServer({
    'ok.example.test': ['127.0.0.5'],
    'mixed.example.test': ['127.0.0.5', '127.0.0.9'],
  });
  t.after(() => dns.close());
  const settings = [
    'egressPolicies:',
    '- {matchCidrs: [127.0.0.9/32], policy: Deny}',
    '- {matchCidrs: [127.0.0.0/8], policy: Allow}',
    '- {matchCidrs: [0.0.0.0/0, "::/0"], policy: Deny}',
    'allowedPrivateCidrs: [127.0.0.0/8]',
    '',
  ].join('\n');
  const c = configFrom('seed-000', {
    files: ['gateway.yaml', 'serviceentry.yaml', 'namespace.yaml'],
    extra: { 'portcullis.yaml': settings },
  });
  cleanups.push(c.cleanup);
  const server = `127.0.0.1:${dns.address.port}`;
  const run = async (to: string) => {
    const r = await runCli([
      'check',
      '--config',
      c.dir,
      '--from',
      'bookinfo/a',
      '--to',
      to,
      '--dns-server',
      server,
      '-o',
      'json',
    ]);
    assert.ok(r.code === 0 || r.code === 1, r.stderr);
    return JSON.parse(r.stdout);
  };
  const ok = await run('ok.example.test:443');
  assert.equal(ok.decision, 'allow', ok.reason);
  assert.equal(ok.code, 'PCL_EGRESS_POLICY_ALLOW');
  assert.deepEqual(ok.resolved, ['127.0.0.5']);
  const mixed = await run('mixed.example.test:443');
  assert.equal(mixed.decision, 'deny');
  assert.match(mixed.reason, /127\.0\.0\.9:443 denied by egressPolicies\[0\]/);
  const missing = await run('missing.example.test:443');
  assert.equal(missing.decision, 'deny');
  assert.equal(missing.code, 'PCL_EGRESS_NO_MATCH');
  // As serve's private-address guard: without allowedPrivateCidrs a loopback answer is refused, whatever egressPolicies say.
  const guarded = configFrom('seed-000', {
    files: ['gateway.yaml', 'serviceentry.yaml', 'namespace.yaml'],
    extra: { 'portcullis.yaml': settings.replace('allowedPrivateCidrs: [127.0.0.0/8]\n', '') },
  });
  cleanups.push(guarded.cleanup);
  const g = await runCli([
    'check',
    '--config',
    guarded.dir,
    '--from',
    'bookinfo/a',
    '--to',
    'ok.example.test:443',
    '--dns-server',
    server,
    '-o',
    'json',
  ]);
  assert.equal(g.code, 1, g.stderr);
  assert.equal(JSON.parse(g.stdout).code, 'PCL_DATAPLANE_PRIVATE_ADDRESS');
  const cases = join(c.dir, 'cases.yaml');
  writeFileSync(
    cases,
    '- {from: bookinfo/a, to: "ok.example.test:443", expect: allow}\n- {from: bookinfo/a, to: "mixed.example.test:443", expect: deny}\n',
  );
  const r = await runCli(['check', '--config', c.dir, '--cases', cases, '--dns-server', server]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^2 passed, 0 failed$/m);
});

// The typo a new user makes (support/policy-fixtures.ts): dropping the policy would let reviews out.
test('a DENY policy with a typo (principles) denies the gateway layer with the reason, never lets reviews out', async () => {
  const dir = config(['default-deny.yaml', 'gateway-policies.yaml', 'serviceentry-policies.yaml'], {
    'deny-reviews.yaml': DENY_REVIEWS_TYPO,
  });
  for (const from of ['bookinfo/bookinfo-reviews', 'bookinfo/bookinfo-productpage']) {
    const r = await decide(dir, from, 'httpbin.org:443');
    assert.equal(r.decision, 'deny', from);
    assert.equal(r.code, 'PCL_AUTHZ_INVALID_POLICY');
    assert.match(
      r.reason,
      /AuthorizationPolicy istio-system\/deny-reviews-egress is invalid \(deny-reviews\.yaml:\d+: \[PCL_CONFIG_UNKNOWN_FIELD\]/,
    );
    assert.match(r.reason, /principles/);
    assert.equal(r.layers[0].policy, 'istio-system/deny-reviews-egress');
    assert.ok(r.configErrors >= 1);
    assert.deepEqual(
      r.invalidResources.map((i: { ref: string }) => i.ref),
      ['istio-system/deny-reviews-egress'],
    );
  }
  const text = await runCli([
    'check',
    '--config',
    dir,
    '--from',
    'bookinfo/bookinfo-reviews',
    '--to',
    'httpbin.org:443',
  ]);
  assert.equal(text.code, 1);
  assert.match(text.stdout, /^! configuration has \d+ error\(s\)/m);
  assert.match(
    text.stdout,
    /^! {3}decided by invalid AuthorizationPolicy istio-system\/deny-reviews-egress \(deny-reviews\.yaml:\d+\)/m,
  );
});
