import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { startFakeCluster, type FakeCluster } from '../../test/support/fake-cluster.ts';
import { exampleObjects } from '../../test/support/seed-objects.ts';
import type { LoadResult } from '../config/load.ts';
import { SERVE_RESOURCES } from './access.ts';
import { KubeClient, loadKubeConfig } from './kube-client.ts';
import { KubeSource } from './kube-source.ts';

let cluster: FakeCluster;
const sources: KubeSource[] = [];
const SERVED = new Set(SERVE_RESOURCES.map((r) => r.kind));

before(async () => {
  cluster = await startFakeCluster({ bookmarkIntervalMs: 200 });
  for (const o of exampleObjects('seed-000', SERVED)) cluster.api.put(o);
});
after(async () => {
  for (const s of sources) s.close();
  await cluster.close();
});

function source(kubeconfig = cluster.kubeconfig, logs: string[] = []): KubeSource {
  const { config } = loadKubeConfig({ kubeconfig, env: {} });
  const s = new KubeSource({
    client: new KubeClient(config),
    retryBaseMs: 100,
    retryMaxMs: 400,
    log: (l) => logs.push(l),
  });
  sources.push(s);
  return s;
}

async function nextUpdate(s: KubeSource, pred: (r: LoadResult) => boolean, what: string): Promise<LoadResult> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (s.current && pred(s.current)) return s.current;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const keys = (r: LoadResult): string[] => r.resources.map((x) => x.key).sort();

test('lists every kind, then follows changes; the seed objects load as from the folder', {
  timeout: 60_000,
}, async () => {
  const s = source();
  const first = await s.start();
  assert.ok(keys(first).includes('Gateway/istio-system/ztunnel-egress'), keys(first).join(', '));
  assert.ok(keys(first).includes('AuthorizationPolicy/istio-system/deny-default-egress'));
  assert.deepEqual(
    first.diagnostics.filter((d) => d.severity === 'error'),
    [],
  );
  // A cluster-wide watch per kind with bookmarks; no Secret request at all (no DestinationRule names one).
  const isWatch = (r: { query: URLSearchParams }): boolean => r.query.get('watch') === 'true';
  while (!cluster.api.requests.some((r) => isWatch(r) && r.path.endsWith('/authorizationpolicies'))) await sleep(25);
  const watches = cluster.api.requests.filter(isWatch);
  assert.ok(
    watches.some(
      (r) =>
        r.path === '/apis/security.istio.io/v1/authorizationpolicies' && r.query.get('allowWatchBookmarks') === 'true',
    ),
  );
  assert.ok(!cluster.api.requests.some((r) => r.path.endsWith('/secrets')));

  cluster.api.put({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'extra', namespace: 'bookinfo' },
    spec: {},
  });
  await nextUpdate(s, (r) => keys(r).includes('AuthorizationPolicy/bookinfo/extra'), 'the new policy');
  cluster.api.remove('authorizationpolicies', 'security.istio.io', 'bookinfo', 'extra');
  await nextUpdate(s, (r) => !keys(r).includes('AuthorizationPolicy/bookinfo/extra'), 'the policy deleted');
  s.close();
});

test('a malformed object is a finding naming Kind ns/name and field; it keeps its last good version; the rest serve', {
  timeout: 60_000,
}, async () => {
  const s = source();
  await s.start();
  const bad = {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'allow-bookinfo-to-httpbin', namespace: 'bookinfo' },
    spec: { action: 'PERMIT' },
  };
  const before = cluster.api.get(
    'authorizationpolicies',
    'security.istio.io',
    'bookinfo',
    'allow-bookinfo-to-httpbin',
  )!;
  cluster.api.put(bad);
  const r = await nextUpdate(
    s,
    (x) => x.diagnostics.some((d) => d.code === 'PCL_CONFIG_KEPT_LAST_GOOD'),
    'the kept-last-good finding',
  );
  const err = r.diagnostics.find((d) => d.severity === 'error')!;
  assert.equal(err.file, 'AuthorizationPolicy bookinfo/allow-bookinfo-to-httpbin');
  assert.equal(err.path, 'spec.action');
  assert.ok(keys(r).includes('AuthorizationPolicy/bookinfo/allow-bookinfo-to-httpbin'));
  assert.ok(keys(r).includes('Gateway/istio-system/ztunnel-egress'));
  cluster.api.put(before);
  await nextUpdate(s, (x) => !x.diagnostics.some((d) => d.severity === 'error'), 'the object fixed');
  s.close();
});

test('403 on a kind: not started, the log names the missing RBAC rule; granted, it starts', {
  timeout: 60_000,
}, async () => {
  cluster.api.forbid('envoyfilters', 'networking.istio.io');
  const logs: string[] = [];
  const s = source(cluster.kubeconfig, logs);
  let started = false;
  const starting = s.start().then((r) => ((started = true), r));
  while (!logs.some((l) => l.includes('PCL_KUBE_FORBIDDEN'))) await sleep(25);
  assert.equal(started, false);
  assert.match(
    logs.find((l) => l.includes('PCL_KUBE_FORBIDDEN'))!,
    /apiGroups: \["networking.istio.io"\], resources: \["envoyfilters"\], verbs: \["list", "watch"\]/,
  );
  assert.match(logs.join('\n'), /not ready, retrying in/);
  cluster.api.allow('envoyfilters', 'networking.istio.io');
  const r = await starting;
  assert.ok(keys(r).length > 0);
  s.close();
});

test('API lost mid-run: the last configuration stays, degraded and counted; back, it resumes; watches expired: relist without dropping state', {
  timeout: 90_000,
}, async () => {
  const logs: string[] = [];
  const s = source(cluster.kubeconfig, logs);
  const registry = new Registry();
  s.registerMetrics(registry);
  const first = await s.start();
  let updates = 0;
  s.onUpdate(() => updates++);
  await cluster.api.stop();
  while (s.degraded() === null) await sleep(25);
  assert.match(s.degraded()!, /PCL_KUBE_UNREACHABLE/);
  assert.deepEqual(keys(s.current!), keys(first));
  const metrics = await registry.metrics();
  assert.match(metrics, /portcullis_kube_api_healthy 0/);
  assert.match(metrics, /portcullis_kube_api_errors_total\{resource="[^"]+",code="PCL_KUBE_UNREACHABLE"\} [1-9]/);
  await cluster.api.start();
  while (s.degraded() !== null) await sleep(25);
  assert.match(await registry.metrics(), /portcullis_kube_api_healthy 1/);
  // A change made after the outage arrives.
  cluster.api.put({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'after-outage', namespace: 'bookinfo' },
    spec: {},
  });
  await nextUpdate(
    s,
    (r) => keys(r).includes('AuthorizationPolicy/bookinfo/after-outage'),
    'a change after the outage',
  );

  // Every watch expires: informers relist; nothing is dropped on the way (no update without the objects).
  const seen: string[][] = [];
  s.onUpdate((r) => seen.push(keys(r)));
  cluster.api.expireWatches();
  cluster.api.put({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'after-expiry', namespace: 'bookinfo' },
    spec: {},
  });
  await nextUpdate(
    s,
    (r) => keys(r).includes('AuthorizationPolicy/bookinfo/after-expiry'),
    'a change after the expiry',
  );
  for (const k of seen)
    assert.ok(
      k.includes('Gateway/istio-system/ztunnel-egress') && k.includes('AuthorizationPolicy/bookinfo/after-outage'),
      'an update dropped state',
    );
  assert.match(await registry.metrics(), /portcullis_kube_relists_total\{resource="[^"]+"\} [1-9]/);
  assert.ok(updates > 0);
  s.close();
});

test('Secrets are watched one by one (fieldSelector on the name, in their namespace), never cluster-wide', {
  timeout: 60_000,
}, async () => {
  const s = source();
  await s.start();
  cluster.api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'app1-cert', namespace: 'team-namespace' },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': '', 'tls.key': '' },
  });
  cluster.api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'other', namespace: 'team-namespace' },
    data: {},
  });
  await s.watchSecrets(['team-namespace/app1-cert']);
  const r = await nextUpdate(s, (x) => keys(x).includes('Secret/team-namespace/app1-cert'), 'the secret');
  assert.ok(!keys(r).includes('Secret/team-namespace/other'));
  const secretRequests = cluster.api.requests.filter((x) => x.path.includes('secrets'));
  assert.ok(secretRequests.length > 0);
  for (const q of secretRequests) {
    assert.equal(q.path, '/api/v1/namespaces/team-namespace/secrets');
    assert.equal(q.query.get('fieldSelector'), 'metadata.name=app1-cert');
  }
  await s.watchSecrets([]);
  await nextUpdate(s, (x) => !keys(x).includes('Secret/team-namespace/app1-cert'), 'the secret dropped');
  s.close();
});

test('credentials: --kubeconfig with a client certificate; in-cluster ServiceAccount; nothing is a clear error', {
  timeout: 60_000,
}, async () => {
  const s = source(cluster.certKubeconfig);
  assert.ok(keys(await s.start()).length > 0);
  s.close();
  assert.throws(() => loadKubeConfig({ env: {} }), /PCL_KUBE_CREDENTIALS|--kube needs credentials/);
  assert.throws(
    () =>
      loadKubeConfig({
        env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '1' },
        serviceAccountDir: '/nonexistent',
      }),
    /token is missing/,
  );
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const sa = mkdtempSync(join(tmpdir(), 'portcullis-sa-'));
  writeFileSync(join(sa, 'token'), cluster.token);
  writeFileSync(join(sa, 'ca.crt'), cluster.caPem);
  const url = new URL(cluster.api.url);
  const inCluster = loadKubeConfig({
    env: { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port },
    serviceAccountDir: sa,
  });
  assert.match(inCluster.from, /in-cluster/);
  const res = await new KubeClient(inCluster.config).request('GET', '/api/v1/namespaces');
  assert.equal(res.status, 200);
  // TLS is verified: the same server with a CA that did not sign it is refused.
  writeFileSync(
    join(sa, 'ca.crt'),
    (await import('../../test/support/pki.ts').then((m) => m.makeTestPki())).ca.rootCertPem,
  );
  const wrongCa = loadKubeConfig({
    env: { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port },
    serviceAccountDir: sa,
  });
  await assert.rejects(new KubeClient(wrongCa.config).request('GET', '/api/v1/namespaces'));
});

test('a kind the API server does not serve (no CRD): not started, the log says to install it', {
  timeout: 60_000,
}, async () => {
  const logs: string[] = [];
  const { startFakeCluster: start } = await import('../../test/support/fake-cluster.ts');
  const bare = await start();
  try {
    bare.api.removeResource('referencegrants', 'gateway.networking.k8s.io');
    const { config } = loadKubeConfig({ kubeconfig: bare.kubeconfig, env: {} });
    const s = new KubeSource({
      client: new KubeClient(config),
      retryBaseMs: 100,
      retryMaxMs: 400,
      log: (l) => logs.push(l),
    });
    sources.push(s);
    let started = false;
    void s.start().then(
      () => (started = true),
      () => undefined,
    );
    while (!logs.some((l) => l.includes('PCL_KUBE_CRD_MISSING'))) await sleep(25);
    assert.match(
      logs.find((l) => l.includes('PCL_KUBE_CRD_MISSING'))!,
      /does not serve referencegrants\.gateway\.networking\.k8s\.io \(gateway\.networking\.k8s\.io\/v1\): install its CRD/,
    );
    assert.equal(started, false);
    s.close();
  } finally {
    await bare.close();
  }
});
