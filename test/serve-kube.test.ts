/**
 * `portcullis serve --kube` end to end: seed 000's objects served by the fake API server, HBONE callers holding
 * certificates from the project's CA, dnsmasq resolving httpbin.org to a local TLS server, kubectl changing the
 * configuration, and the Gateway's status and the Lease read back from the fake.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import {
  DEFAULT_CONTROLLER_NAME,
  LEASE_RESOURCE,
  SECRET_RESOURCE,
  SERVE_RESOURCES,
  SERVICE_RESOURCE,
  type KubeResource,
} from '../src/kube/access.ts';
import { EXAMPLES } from './support/cli.ts';
import { hasDnsmasq, startDnsmasq, type Dnsmasq } from './support/dnsmasq.ts';
import { kubectlMissing, startFakeCluster, type FakeCluster } from './support/fake-cluster.ts';
import { caller, tlsOver } from './support/hbone-caller.ts';
import { makeTestPki, type TestPki } from './support/pki.ts';
import { exampleObjects } from './support/seed-objects.ts';
import { startServe, type ServeProcess } from './support/serve-process.ts';
import { startTlsUpstream, type TlsUpstream } from './support/tls-upstream.ts';

const GATEWAY_ID = 'spiffe://cluster.local/ns/istio-system/sa/ztunnel-egress';
const SKIP = hasDnsmasq() ? false : 'dnsmasq not installed: apt-get install dnsmasq';
// The tests that change the configuration with kubectl (and the RBAC check that reads what the first one did).
const SKIP_KUBECTL = SKIP || kubectlMissing();
const SETTINGS = `${readFileSync(join(EXAMPLES, 'seed-000', 'portcullis.yaml'), 'utf8')}\nallowedPrivateCidrs: [127.0.0.0/8]\n`;
const CLUSTER_IP = '10.96.0.15';

let pki: TestPki;
let dns: Dnsmasq;
let upstream: TlsUpstream;
let cluster: FakeCluster;
let dir: string;
const cleanups: (() => unknown)[] = [];

before(async () => {
  if (SKIP) return;
  pki = await makeTestPki();
  cleanups.push(() => pki.cleanup());
  upstream = await startTlsUpstream(await pki.server('httpbin.org'), '127.0.0.1', 0);
  cleanups.push(() => upstream.close());
  dns = await startDnsmasq({ 'httpbin.org': '127.0.0.1' });
  cleanups.push(() => dns.stop());
  cluster = await startFakeCluster({ bookmarkIntervalMs: 500 });
  cleanups.push(() => cluster.close());
  dir = mkdtempSync(join(tmpdir(), 'portcullis-serve-kube-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'portcullis.yaml'), SETTINGS);
  const served = new Set(SERVE_RESOURCES.map((r) => r.kind));
  for (const o of exampleObjects('seed-000', served)) {
    // The stand-in for httpbin.org listens on a free port: the ServiceEntry keeps 443 and gains a targetPort.
    if (o.kind === 'ServiceEntry') (o.spec as { ports: Record<string, unknown>[] }).ports[0].targetPort = upstream.port;
    // istiod's own condition on the Gateway: Portcullis must leave it alone.
    if (o.kind === 'Gateway')
      o.status = {
        conditions: [
          {
            type: 'istio.io/ForeignCondition',
            status: 'True',
            reason: 'Istiod',
            message: 'written by istiod',
            lastTransitionTime: '2026-01-01T00:00:00Z',
          },
        ],
      };
    cluster.api.put(o);
  }
  cluster.api.put({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'GatewayClass',
    metadata: { name: 'solo-ztunnel-egress' },
    spec: { controllerName: DEFAULT_CONTROLLER_NAME },
  });
  cluster.api.put({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'GatewayClass',
    metadata: { name: 'istio-waypoint' },
    spec: { controllerName: 'istio.io/waypoint-controller' },
  });
  cluster.api.put({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'portcullis', namespace: 'istio-system' },
    spec: { clusterIP: CLUSTER_IP, ports: [{ port: 15008 }] },
  });
  // A DestinationRule naming a Secret (for a host the tests never call): the gateway watches that one Secret.
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
  cluster.api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'unrelated', namespace: 'istio-system' },
    data: {},
  });
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function serve(extra: string[] = [], onStderr?: (all: string) => void, workers = 1): Promise<ServeProcess> {
  const p = await startServe(
    [
      '--kube',
      '--kubeconfig',
      cluster.kubeconfig,
      '--settings',
      join(dir, 'portcullis.yaml'),
      ...(await pki.servingFlags(GATEWAY_ID)),
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      '--dns-server',
      dns.server,
      '--drain-seconds',
      '1',
      '--workers',
      String(workers),
      '--lease-namespace',
      'istio-system',
      '--lease-duration',
      '2s',
      '--publish-service',
      'istio-system/portcullis',
      ...extra,
    ],
    join(dir, `access-${Math.random().toString(36).slice(2)}.log`),
    { onStderr },
  );
  cleanups.push(() => p.stop('SIGKILL'));
  return p;
}

/** `/ready`'s answer once its text includes `text` (the watches back off, so allow 90 s). */
function readyOnceItSays(gw: ServeProcess, text: string): Promise<{ status: number; text: string }> {
  return until(
    `/ready to say "${text}"`,
    async () => {
      const r = await gw.admin_get('/ready');
      return r.text.includes(text) ? r : undefined;
    },
    90_000,
  );
}

async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

type GatewayStatus = {
  addresses?: { type: string; value: string }[];
  conditions?: { type: string; status: string; observedGeneration?: number }[];
  listeners?: { name: string; conditions: { type: string; status: string }[] }[];
};
const gatewayStatus = (): GatewayStatus | undefined =>
  cluster.api.get('gateways', 'gateway.networking.k8s.io', 'istio-system', 'ztunnel-egress')?.status as
    | GatewayStatus
    | undefined;

test('serve --kube: seed 000 decides as from the folder; kubectl deleting the policies closes the open tunnel; Gateway status appears', {
  skip: SKIP_KUBECTL,
  timeout: 180_000,
}, async () => {
  const gw = await serve();
  const productpage = caller(await pki.workload('bookinfo', 'bookinfo-productpage'), gw.hbone, GATEWAY_ID);
  const sleepDefault = caller(await pki.workload('default', 'sleep'), gw.hbone, GATEWAY_ID);
  cleanups.push(
    () => productpage.close(),
    () => sleepDefault.close(),
  );

  const denied = await sleepDefault.connect('httpbin.org:443');
  assert.ok(!denied.ok);
  assert.equal(denied.status, 401);
  assert.match(denied.reason, /deny-default-egress/);
  const ok = await productpage.connect('httpbin.org:443');
  assert.ok(ok.ok, ok.ok ? '' : `refused ${ok.status}: ${ok.reason}`);
  const socket = await tlsOver(ok.tunnel, 'httpbin.org', pki.ca.rootCertPem);
  const closed = new Promise<void>((resolve) => ok.tunnel.stream.once('close', () => resolve()));

  // The Gateway's status: the Service's ClusterIP, Accepted and Programmed with observedGeneration, the listener;
  // istiod's condition is still there; the GatewayClass naming Portcullis's controller is Accepted, the other untouched.
  const status = await until('the Gateway status', () => {
    const s = gatewayStatus();
    return s?.addresses !== undefined && s.conditions?.some((c) => c.type === 'Programmed') ? s : undefined;
  });
  assert.deepEqual(status.addresses, [{ type: 'IPAddress', value: CLUSTER_IP }]);
  const cond = (t: string) => status.conditions!.find((c) => c.type === t);
  assert.equal(cond('Accepted')?.status, 'True');
  assert.equal(cond('Programmed')?.status, 'True');
  assert.equal(cond('Accepted')?.observedGeneration, 1);
  assert.equal(cond('istio.io/ForeignCondition')?.status, 'True', "istiod's condition was removed");
  assert.equal(status.listeners?.[0].name, 'mesh');
  assert.equal(status.listeners?.[0].conditions.find((c) => c.type === 'Accepted')?.status, 'True');
  const gc = await until(
    'the GatewayClass status',
    () =>
      cluster.api.get(
        'gateways'.replace('gateways', 'gatewayclasses'),
        'gateway.networking.k8s.io',
        undefined,
        'solo-ztunnel-egress',
      )?.status as { conditions: { type: string; status: string }[] } | undefined,
  );
  assert.equal(gc.conditions.find((c) => c.type === 'Accepted')?.status, 'True');
  assert.equal(
    cluster.api.get('gatewayclasses', 'gateway.networking.k8s.io', undefined, 'istio-waypoint')?.status,
    undefined,
  );
  // Status went through /status with server-side apply as field manager portcullis; nothing else was written.
  const writes = cluster.api.requests.filter((r) => r.method !== 'GET');
  assert.ok(writes.length > 0);
  for (const w of writes.filter((r) => !r.path.includes('/leases'))) {
    assert.match(w.path, /\/(gateways|gatewayclasses)\/[^/]+\/status$/, `unexpected write ${w.method} ${w.path}`);
    assert.equal(w.contentType, 'application/apply-patch+yaml');
    assert.equal(w.query.get('fieldManager'), 'portcullis');
  }
  // /ready says ready, and the Lease names this replica.
  assert.equal((await gw.admin_get('/ready')).status, 200);
  const lease = cluster.api.get('leases', 'coordination.k8s.io', 'istio-system', 'portcullis-status-writer');
  assert.ok((lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity);

  // kubectl deletes both Gateway-layer ALLOW policies: productpage loses permission; the open tunnel is closed.
  const t0 = Date.now();
  await cluster.kubectl([
    'delete',
    'authorizationpolicy',
    '-n',
    'istio-system',
    'allow-bookinfo-egress',
    'allow-bookinfo-https-only',
  ]);
  await Promise.race([closed, sleep(10_000).then(() => assert.fail('the open tunnel was not closed within 10 s'))]);
  const elapsed = Date.now() - t0;
  socket.destroy();
  const now = await productpage.connect('httpbin.org:443');
  assert.ok(!now.ok, 'productpage still allowed after the policies were deleted');
  assert.equal(now.status, 401);
  const line = await gw.waitForLog(
    (l) => l.type === 'tunnel' && l.code === 'PCL_DATAPLANE_POLICY_CHANGED',
    'the closed tunnel',
  );
  assert.equal(line.response_flags, 'UAEX');
  // Informational: the data plane followed the API (the kubectl process itself is most of this).
  process.stderr.write(`serve-kube: policy deletion to tunnel closed in ${elapsed} ms\n`);
  // Put them back for the next test.
  for (const o of exampleObjects('seed-000', new Set(['AuthorizationPolicy']))) cluster.api.put(o);
  await gw.stop();
});

test('a malformed AuthorizationPolicy applied with kubectl: a finding naming it and its field; the rest keeps serving', {
  skip: SKIP_KUBECTL,
  timeout: 120_000,
}, async () => {
  const gw = await serve();
  const productpage = caller(await pki.workload('bookinfo', 'bookinfo-productpage'), gw.hbone, GATEWAY_ID);
  cleanups.push(() => productpage.close());
  const bad =
    'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: broken, namespace: bookinfo}\nspec: {action: PERMIT}\n';
  await cluster.kubectl(['apply', '-f', '-'], bad);
  const dump = await until('the finding in /config_dump', async () => {
    const text = (await gw.admin_get('/config_dump')).text;
    return text.includes('AuthorizationPolicy bookinfo/broken') ? text : undefined;
  });
  assert.match(dump, /spec\.action/);
  const ok = await productpage.connect('httpbin.org:443');
  assert.ok(ok.ok, ok.ok ? '' : `refused ${ok.status}: ${ok.reason}`);
  ok.tunnel.stream.destroy();
  cluster.api.remove('authorizationpolicies', 'security.istio.io', 'bookinfo', 'broken');
  await gw.stop();
});

test('two replicas: both serve, one holds the Lease and writes status; the leader killed, the other takes over', {
  skip: SKIP,
  timeout: 180_000,
}, async () => {
  const a = await serve();
  const b = await serve();
  const leaderOf = (): ServeProcess | undefined =>
    [a, b].find(
      (p) =>
        p.stderr().includes('became the status writer') && p.child.exitCode === null && p.child.signalCode === null,
    );
  const leader = await until('a leader', leaderOf);
  const follower = leader === a ? b : a;
  await sleep(1500);
  assert.ok(!follower.stderr().includes('became the status writer'), 'both replicas became leader');
  // Both serve traffic.
  for (const p of [a, b]) {
    const c = caller(await pki.workload('bookinfo', 'bookinfo-productpage'), p.hbone, GATEWAY_ID);
    const r = await c.connect('httpbin.org:443');
    assert.ok(r.ok, r.ok ? '' : `replica refused ${r.status}: ${r.reason}`);
    r.tunnel.stream.destroy();
    c.close();
  }
  const holder = (): string | undefined =>
    (
      cluster.api.get('leases', 'coordination.k8s.io', 'istio-system', 'portcullis-status-writer')?.spec as
        | { holderIdentity?: string }
        | undefined
    )?.holderIdentity;
  const first = holder();
  assert.ok(first);

  await leader.stop('SIGKILL');
  await until('the follower to take over', () => follower.stderr().includes('became the status writer'), 20_000);
  assert.notEqual(holder(), first);
  // The new leader writes: status removed behind its back comes back.
  cluster.api.put({
    ...cluster.api.get('gateways', 'gateway.networking.k8s.io', 'istio-system', 'ztunnel-egress')!,
    status: { conditions: [] },
  });
  await until('the new leader to write the status again', () => gatewayStatus()?.addresses?.[0]?.value === CLUSTER_IP);
  await follower.stop();
});

// Generous timeouts: the watches back off up to 30 s (kube-source.ts), so on a loaded machine a retry can land late.
test('the API server unreachable at start: not ready, a clear log, retried until it comes', {
  skip: SKIP,
  timeout: 300_000,
}, async () => {
  await cluster.api.stop();
  let stderr = '';
  const started = serve([], (all) => (stderr = all));
  // startServe resolves only once the gateway is listening: it must not be while the API is away.
  let ready = false;
  void started.then(
    () => (ready = true),
    () => undefined,
  );
  await until(
    'the retry log',
    () => stderr.includes('PCL_KUBE_UNREACHABLE') && stderr.split('PCL_KUBE_UNREACHABLE').length > 2,
    60_000,
  );
  assert.equal(ready, false);
  await cluster.api.start();
  const gw = await started;
  assert.match(
    gw.stderr(),
    /PCL_KUBE_UNREACHABLE: cannot reach the Kubernetes API at https:\/\/127\.0\.0\.1:\d+ .*not ready, retrying in/,
  );

  // Lost mid-run: keeps serving the last snapshot, /ready says degraded, the metric counts it.
  await cluster.api.stop();
  const degraded = await readyOnceItSays(gw, 'degraded');
  assert.equal(degraded.status, 200);
  assert.match(degraded.text, /PCL_KUBE_UNREACHABLE/);
  const productpage = caller(await pki.workload('bookinfo', 'bookinfo-productpage'), gw.hbone, GATEWAY_ID);
  const ok = await productpage.connect('httpbin.org:443');
  assert.ok(ok.ok, ok.ok ? '' : `refused ${ok.status}: ${ok.reason}`);
  ok.tunnel.stream.destroy();
  productpage.close();
  assert.match(
    (await gw.admin_get('/metrics')).text,
    /portcullis_kube_api_errors_total\{[^}]*code="PCL_KUBE_UNREACHABLE"\} [1-9]/,
  );
  await cluster.api.start();
  await until('/ready to recover', async () => !(await gw.admin_get('/ready')).text.includes('degraded'), 90_000);
  await gw.stop();
});

test('serve --kube --workers 2: the API server lost mid-run, the primary /ready says which worker is degraded and why', {
  skip: SKIP,
  timeout: 300_000,
}, async () => {
  const gw = await serve([], undefined, 2);
  await until('both workers ready', async () => /2 worker\(s\)/.test((await gw.admin_get('/ready')).text));
  await cluster.api.stop();
  try {
    const degraded = await readyOnceItSays(gw, 'degraded: worker');
    assert.equal(degraded.status, 200, 'a stale configuration still serves');
    assert.match(degraded.text, /degraded: worker \d+: .*PCL_KUBE_UNREACHABLE/);
  } finally {
    await cluster.api.start();
  }
  await until('/ready to recover', async () => !(await gw.admin_get('/ready')).text.includes('degraded'), 90_000);
  await gw.stop();
});

/** The RBAC verb of a recorded request, and the resource (with `/status`) it is on. */
function verbOf(r: { method: string; path: string; query: URLSearchParams }): {
  resource: string;
  group: string;
  verb: string;
} {
  const parts = r.path.split('/').filter((p) => p !== '');
  const [group, rest] = parts[0] === 'api' ? ['', parts.slice(2)] : [parts[1], parts.slice(3)];
  const tail = rest[0] === 'namespaces' && rest.length >= 3 ? rest.slice(2) : rest;
  const [plural, name, sub] = tail;
  const verb =
    r.method === 'GET'
      ? name !== undefined
        ? 'get'
        : r.query.get('watch') === 'true'
          ? 'watch'
          : 'list'
      : ({ POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' } as Record<string, string>)[r.method];
  return { resource: sub ? `${plural}/${sub}` : plural, group, verb };
}

test('what serve --kube called is exactly what src/kube/access.ts lists (the RBAC install generates)', {
  skip: SKIP_KUBECTL,
  timeout: 30_000,
}, () => {
  const table = new Map<string, Set<string>>();
  const add = (r: KubeResource, resource: string, verbs: readonly string[]): void => {
    table.set(`${r.group}|${resource}`, new Set(verbs));
  };
  for (const r of [...SERVE_RESOURCES, LEASE_RESOURCE, SERVICE_RESOURCE]) {
    add(r, r.resource, r.verbs);
    if (r.statusVerbs) add(r, `${r.resource}/status`, r.statusVerbs);
  }
  // The gateway lists and watches Secrets; `get` is for the read-only commands (test/kube-commands.test.ts).
  add(
    SECRET_RESOURCE,
    SECRET_RESOURCE.resource,
    SECRET_RESOURCE.verbs.filter((v) => v !== 'get'),
  );
  const used = new Map<string, Set<string>>();
  for (const q of cluster.api.requests) {
    if (q.user !== `token:${cluster.token}`) continue;
    if (q.path === '/api' || q.path === '/apis' || q.path.startsWith('/openapi')) continue;
    const { resource, group, verb } = verbOf(q);
    const key = `${group}|${resource}`;
    assert.ok(
      table.get(key)?.has(verb),
      `serve called ${verb} on ${resource} (${group || 'core'}), which access.ts does not list`,
    );
    if (!used.has(key)) used.set(key, new Set());
    used.get(key)!.add(verb);
  }
  for (const [key, verbs] of table)
    for (const v of verbs) assert.ok(used.get(key)?.has(v), `access.ts lists ${v} on ${key} but serve never called it`);
  // Secrets: only the one named, in its namespace, by name.
  for (const q of cluster.api.requests.filter(
    (x) => x.user === `token:${cluster.token}` && x.path.includes('/secrets'),
  )) {
    assert.equal(q.path, '/api/v1/namespaces/istio-system/secrets');
    assert.equal(q.query.get('fieldSelector'), 'metadata.name=other-cert');
  }
});
