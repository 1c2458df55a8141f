/**
 * `status --kube`, `check --kube` and `audit --kube` read the fake API server once and say what the folder
 * commands say; the `--kube` flags refuse bad values by name.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SERVE_RESOURCES } from '../src/kube/access.ts';
import { join } from 'node:path';
import { EXAMPLES, runCli } from './support/cli.ts';
import { startFakeCluster, type FakeCluster } from './support/fake-cluster.ts';
import { exampleObjects } from './support/seed-objects.ts';

let cluster: FakeCluster;
let settings: string;

before(async () => {
  cluster = await startFakeCluster();
  for (const o of exampleObjects('seed-000', new Set([...SERVE_RESOURCES.map((r) => r.kind), 'NetworkPolicy'])))
    cluster.api.put(o);
  settings = `${cluster.dir}/portcullis.yaml`;
  const { readFileSync, writeFileSync } = await import('node:fs');
  writeFileSync(settings, readFileSync(join(EXAMPLES, 'seed-000', 'portcullis.yaml'), 'utf8'));
});
after(async () => {
  await cluster.close();
});

const kube = (): string[] => ['--kube', '--kubeconfig', cluster.kubeconfig, '--settings', settings];

test('status --kube lists the objects and their conditions; a malformed object is an error naming it and its field', {
  timeout: 60_000,
}, async () => {
  const ok = await runCli(['status', ...kube()]);
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  assert.match(ok.stdout, /Gateway istio-system\/ztunnel-egress\s+\(Gateway istio-system\/ztunnel-egress\)/);
  assert.match(ok.stdout, /ServiceEntry bookinfo\/httpbin-org/);
  cluster.api.put({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'broken', namespace: 'bookinfo' },
    spec: { action: 'PERMIT' },
  });
  const bad = await runCli(['status', ...kube(), '-o', 'json']);
  assert.equal(bad.code, 1);
  const report = JSON.parse(bad.stdout) as { errors: { file: string; path: string; line: number }[] };
  assert.deepEqual(
    report.errors.map((e) => [e.file, e.path, e.line]),
    [['AuthorizationPolicy bookinfo/broken', 'spec.action', 0]],
  );
  cluster.api.remove('authorizationpolicies', 'security.istio.io', 'bookinfo', 'broken');
});

test('status --kube reads a Secret a DestinationRule names by name (get), and no other', {
  timeout: 60_000,
}, async () => {
  cluster.api.put({
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'other-tls', namespace: 'istio-system' },
    spec: { host: 'other.example', trafficPolicy: { tls: { mode: 'MUTUAL', credentialName: 'other-cert' } } },
  });
  cluster.api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'other-cert', namespace: 'istio-system' },
    type: 'kubernetes.io/tls',
    data: {},
  });
  const before = cluster.api.requests.length;
  const r = await runCli(['status', ...kube(), '-o', 'json']);
  const report = JSON.parse(r.stdout) as { resources: { kind: string; name: string }[] };
  assert.ok(
    report.resources.some((x) => x.kind === 'Secret' && x.name === 'other-cert'),
    r.stdout,
  );
  const secretCalls = cluster.api.requests.slice(before).filter((q) => q.path.includes('/secrets'));
  assert.deepEqual(
    secretCalls.map((q) => `${q.method} ${q.path}`),
    ['GET /api/v1/namespaces/istio-system/secrets/other-cert'],
  );
  cluster.api.remove('destinationrules', 'networking.istio.io', 'istio-system', 'other-tls');
});

test('check --kube decides as the gateway does', { timeout: 60_000 }, async () => {
  const allow = await runCli([
    'check',
    ...kube(),
    '--from',
    'bookinfo/bookinfo-productpage',
    '--to',
    'httpbin.org:443',
  ]);
  assert.equal(allow.code, 0, allow.stdout + allow.stderr);
  assert.match(allow.stdout, /^ALLOW/);
  const deny = await runCli(['check', ...kube(), '--from', 'default/sleep', '--to', 'httpbin.org:443']);
  assert.equal(deny.code, 1);
  assert.match(deny.stdout, /deny-default-egress/);
});

test('audit --kube reads the audit kinds; a missing Kyverno CRD is a finding, not a crash', {
  timeout: 60_000,
}, async () => {
  cluster.api.removeResource('clusterpolicies', 'kyverno.io');
  const r = await runCli(['audit', ...kube(), '-o', 'json']);
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  const report = JSON.parse(r.stdout) as { findings: { code: string; message: string }[] };
  const missing = report.findings.find((f) => f.code === 'PCL_KUBE_CRD_MISSING');
  assert.ok(missing, JSON.stringify(report.findings.map((f) => f.code)));
  assert.match(missing.message, /ClusterPolicy \(kyverno\.io\/v1\)/);
  // NetworkPolicies and workloads were listed for the audit (and only read).
  assert.ok(
    cluster.api.requests.some((q) => q.path === '/apis/networking.k8s.io/v1/networkpolicies' && q.method === 'GET'),
  );
  assert.ok(cluster.api.requests.some((q) => q.path === '/api/v1/pods'));
});

test('403 on a kind: status --kube fails and names the missing RBAC rule', { timeout: 60_000 }, async () => {
  cluster.api.forbid('destinationrules', 'networking.istio.io');
  const r = await runCli(['status', ...kube()]);
  cluster.api.allow('destinationrules', 'networking.istio.io');
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /apiGroups: \["networking.istio.io"\], resources: \["destinationrules"\], verbs: \["list", "watch"\]/,
  );
  assert.match(r.stderr, /\[PCL_KUBE_FORBIDDEN\]/);
});

test('--kube flags: exactly one source; unreadable kubeconfig; bad serve values are named', {
  timeout: 60_000,
}, async () => {
  const both = await runCli(['status', '--config', join(EXAMPLES, 'seed-000'), '--kube']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /exactly one of --config DIR and --kube/);
  const neither = await runCli(['check', '--from', 'a/b', '--to', 'x:1']);
  assert.equal(neither.code, 2);
  assert.match(neither.stderr, /--config is required \(or --kube/);
  const noFile = await runCli(['status', '--kube', '--kubeconfig', '/nonexistent/kubeconfig']);
  assert.equal(noFile.code, 2);
  assert.match(noFile.stderr, /PCL_KUBE_CREDENTIALS/);
  // The flag errors come before any certificate is read: certificate files stand in, never a CA key.
  const serveBase = [
    'serve',
    '--kube',
    '--kubeconfig',
    cluster.kubeconfig,
    '--cert',
    'unread.pem',
    '--key',
    'unread.pem',
    '--trust-bundle',
    'unread.pem',
    '--workers',
    '1',
  ];
  for (const [flag, value, pattern] of [
    ['--publish-address', 'not-an-ip', /--publish-address "not-an-ip": expected an IP address/],
    ['--publish-service', 'no-slash', /--publish-service "no-slash": expected NAMESPACE\/NAME/],
    ['--lease-duration', '10ms', /--lease-duration "10ms"/],
    ['--controller-name', 'no path', /--controller-name "no path"/],
  ] as const) {
    const r = await runCli([...serveBase, flag, value]);
    assert.equal(r.code, 2, `${flag} ${value}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
  }
});
