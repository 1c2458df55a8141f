/**
 * The fake Kubernetes API server speaks the real protocol: the real `kubectl` gets, applies, deletes and watches
 * through it, and the protocol details a controller relies on (410 Gone, bookmarks, /status, apply) hold.
 */
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { after, before, test } from 'node:test';
import { kubectlMissing, startFakeCluster, type FakeCluster } from './support/fake-cluster.ts';

const SKIP_KUBECTL = kubectlMissing();
let cluster: FakeCluster;

before(async () => {
  cluster = await startFakeCluster({ bookmarkIntervalMs: 200 });
});
after(async () => {
  await cluster.close();
});

/** One HTTPS request to the fake with the bearer token; JSON body. */
function call(
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, cluster.api.url);
    const req = request(
      url,
      { method, ca: cluster.caPem, headers: { authorization: `Bearer ${cluster.token}`, 'content-type': contentType } },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} }),
        );
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(typeof body === 'string' ? body : JSON.stringify(body));
    req.end();
  });
}

/** Open a watch and collect its events until `count` arrived. */
function watchEvents(path: string, count: number): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const events: Record<string, unknown>[] = [];
    const req = request(
      new URL(path, cluster.api.url),
      { ca: cluster.caPem, headers: { authorization: `Bearer ${cluster.token}` } },
      (res) => {
        let buf = '';
        res.on('data', (d) => {
          buf += d;
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            events.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
            buf = buf.slice(i + 1);
            if (events.length === count) {
              req.destroy();
              resolve(events);
            }
          }
        });
        res.on('end', () => resolve(events));
      },
    );
    req.on('error', (e) => (events.length >= count ? undefined : reject(e)));
    req.end();
  });
}

const SE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: httpbin-org
  namespace: bookinfo
spec:
  hosts: [httpbin.org]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
`;

test('kubectl apply, get, get -o yaml, get --watch and delete work against the fake', {
  skip: SKIP_KUBECTL,
  timeout: 120_000,
}, async () => {
  assert.match(
    await cluster.kubectl(['apply', '-f', '-'], SE),
    /serviceentry\.networking\.istio\.io\/httpbin-org created/,
  );
  assert.equal(
    cluster.api.get('serviceentries', 'networking.istio.io', 'bookinfo', 'httpbin-org')?.spec !== undefined,
    true,
  );
  const table = await cluster.kubectl(['get', 'serviceentries', '-n', 'bookinfo']);
  assert.match(table, /NAME\s+AGE/);
  assert.match(table, /httpbin-org/);
  const yaml = await cluster.kubectl(['get', 'serviceentry', 'httpbin-org', '-n', 'bookinfo', '-o', 'yaml']);
  assert.match(yaml, /hosts:\n\s+- httpbin.org/);
  // Applying a change goes through kubectl's patch (client-side apply): the spec changes, the generation moves.
  assert.match(
    await cluster.kubectl(['apply', '-f', '-'], SE.replace('resolution: DNS', 'resolution: NONE')),
    /configured/,
  );
  const changed = cluster.api.get('serviceentries', 'networking.istio.io', 'bookinfo', 'httpbin-org')!;
  assert.equal((changed.spec as { resolution: string }).resolution, 'NONE');
  assert.equal((changed.metadata as { generation: number }).generation, 2);

  // get --watch: the current object, then a change made while it watches.
  const child = cluster.kubectlAsync(['get', 'serviceentries', '-n', 'bookinfo', '--watch', '-o', 'name']);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const lines = new Promise<string>((resolve) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.trim().split('\n').length >= 2) resolve(out);
    });
  });
  const seen = new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (out.includes('httpbin-org')) {
        clearInterval(poll);
        resolve();
      }
    }, 50);
  });
  await seen;
  await cluster.kubectl(
    ['apply', '-f', '-'],
    SE.replace('httpbin-org', 'example-com').replace('httpbin.org', 'example.com'),
  );
  let timer: NodeJS.Timeout | undefined;
  const got = await Promise.race([
    lines,
    new Promise<string>(
      (_, reject) =>
        (timer = setTimeout(() => reject(new Error(`kubectl get --watch printed:\n${out}\n${err}`)), 30_000)),
    ),
  ]);
  clearTimeout(timer);
  child.kill();
  assert.match(got, /serviceentry\.networking\.istio\.io\/httpbin-org/);
  assert.match(got, /serviceentry\.networking\.istio\.io\/example-com/);
  // The watch asked the fake for a watch from the list's resourceVersion.
  assert.ok(
    cluster.api.requests.some(
      (r) =>
        r.path.endsWith('/serviceentries') &&
        r.query.get('watch') === 'true' &&
        r.query.get('resourceVersion') !== null,
    ),
  );

  assert.match(
    await cluster.kubectl(['delete', 'serviceentry', 'httpbin-org', '-n', 'bookinfo', '--wait=false']),
    /deleted/,
  );
  assert.equal(cluster.api.get('serviceentries', 'networking.istio.io', 'bookinfo', 'httpbin-org'), undefined);
  await assert.rejects(cluster.kubectl(['get', 'serviceentry', 'httpbin-org', '-n', 'bookinfo']), /NotFound|not found/);
  // A core kind too (strategic merge patch on re-apply).
  await cluster.kubectl(['apply', '-f', '-'], 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bookinfo\n');
  await cluster.kubectl(
    ['apply', '-f', '-'],
    'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bookinfo\n  labels: {istio.io/dataplane-mode: ambient}\n',
  );
  assert.match(await cluster.kubectl(['get', 'namespace', 'bookinfo', '-o', 'jsonpath={.metadata.labels}']), /ambient/);
});

test('kubectl with a client-certificate kubeconfig is authenticated; a wrong token is 401', {
  skip: SKIP_KUBECTL,
  timeout: 60_000,
}, async () => {
  const out = await cluster.kubectl(['--kubeconfig', cluster.certKubeconfig, 'get', 'namespaces', '-o', 'name']);
  assert.equal(typeof out, 'string');
  await assert.rejects(
    cluster.kubectl(['--token', 'wrong', 'get', 'namespaces']),
    /Unauthorized|You must be logged in/,
  );
});

test('list then watch from its resourceVersion; bookmarks; an expired resourceVersion is 410 Gone', {
  timeout: 30_000,
}, async () => {
  const path = '/apis/gateway.networking.k8s.io/v1/namespaces/istio-system/gateways';
  cluster.api.put({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'one', namespace: 'istio-system' },
    spec: { gatewayClassName: 'x', listeners: [] },
  });
  const list = await call('GET', path);
  assert.equal(list.status, 200);
  const rv = (list.json.metadata as { resourceVersion: string }).resourceVersion;
  const events = watchEvents(`${path}?watch=true&resourceVersion=${rv}&allowWatchBookmarks=true`, 2);
  await new Promise((r) => setTimeout(r, 100));
  cluster.api.put({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'two', namespace: 'istio-system' },
    spec: { gatewayClassName: 'x', listeners: [] },
  });
  const got = await events;
  const types = got.map((e) => e.type);
  assert.ok(types.includes('ADDED'), JSON.stringify(got));
  assert.equal((got.find((e) => e.type === 'ADDED')!.object as { metadata: { name: string } }).metadata.name, 'two');
  const bookmarks = await watchEvents(
    `${path}?watch=true&resourceVersion=${cluster.api.resourceVersion}&allowWatchBookmarks=true`,
    1,
  );
  assert.equal(bookmarks[0].type, 'BOOKMARK');

  cluster.api.expireWatches();
  const gone = await watchEvents(`${path}?watch=true&resourceVersion=${rv}`, 1);
  assert.equal(gone[0].type, 'ERROR');
  assert.equal((gone[0].object as { code: number }).code, 410);
  assert.equal((await call('GET', `${path}?resourceVersion=${rv}`)).status, 410);
});

test('/status: a merge patch and a server-side apply change only status; the main resource keeps status', {
  timeout: 30_000,
}, async () => {
  const base = '/apis/gateway.networking.k8s.io/v1/namespaces/istio-system/gateways/one';
  const before = (await call('GET', base)).json;
  const patched = await call(
    'PATCH',
    `${base}/status`,
    { status: { addresses: [{ type: 'IPAddress', value: '10.0.0.1' }] }, spec: { gatewayClassName: 'changed' } },
    'application/merge-patch+json',
  );
  assert.equal(patched.status, 200);
  assert.deepEqual((patched.json.status as { addresses: unknown }).addresses, [
    { type: 'IPAddress', value: '10.0.0.1' },
  ]);
  assert.equal((patched.json.spec as { gatewayClassName: string }).gatewayClassName, 'x');
  assert.equal(
    (patched.json.metadata as { generation: number }).generation,
    (before.metadata as { generation: number }).generation,
  );
  const apply =
    'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: one, namespace: istio-system}\nstatus:\n  conditions: [{type: Accepted, status: "True"}]\n';
  assert.equal(
    (await call('PATCH', `${base}/status`, apply, 'application/apply-patch+yaml')).status,
    422,
    'apply without a field manager is refused',
  );
  const applied = await call(
    'PATCH',
    `${base}/status?fieldManager=portcullis&force=true`,
    apply,
    'application/apply-patch+yaml',
  );
  assert.equal(applied.status, 200);
  assert.equal((applied.json.status as { conditions: { type: string }[] }).conditions[0].type, 'Accepted');
  // A spec patch on the main resource leaves status alone and moves the generation.
  const main = await call(
    'PATCH',
    base,
    { spec: { gatewayClassName: 'y' }, status: null },
    'application/merge-patch+json',
  );
  assert.equal((main.json.metadata as { generation: number }).generation, 2);
  assert.ok((main.json.status as { conditions?: unknown }).conditions);
});

test('Leases: create, conflict on a stale update, update; 403 for a forbidden resource names the rule', {
  timeout: 30_000,
}, async () => {
  const path = '/apis/coordination.k8s.io/v1/namespaces/istio-system/leases';
  const lease = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'portcullis' },
    spec: { holderIdentity: 'a', leaseDurationSeconds: 2 },
  };
  const created = await call('POST', path, lease);
  assert.equal(created.status, 201);
  assert.equal((await call('POST', path, lease)).status, 409);
  const rv = (created.json.metadata as { resourceVersion: string }).resourceVersion;
  const updated = await call('PUT', `${path}/portcullis`, {
    ...created.json,
    spec: { holderIdentity: 'b', leaseDurationSeconds: 2 },
  });
  assert.equal(updated.status, 200);
  const stale = await call('PUT', `${path}/portcullis`, {
    ...lease,
    metadata: { name: 'portcullis', resourceVersion: rv },
    spec: { holderIdentity: 'c' },
  });
  assert.equal(stale.status, 409);

  cluster.api.forbid('envoyfilters', 'networking.istio.io');
  const denied = await call('GET', '/apis/networking.istio.io/v1alpha3/envoyfilters');
  assert.equal(denied.status, 403);
  assert.match(
    String(denied.json.message),
    /cannot list resource "envoyfilters" in API group "networking.istio.io" at the cluster scope/,
  );
  cluster.api.allow('envoyfilters', 'networking.istio.io');
  assert.equal((await call('GET', '/apis/networking.istio.io/v1alpha3/envoyfilters')).status, 200);
  const anonymous = await new Promise<number>((resolve, reject) => {
    request(new URL('/api/v1/namespaces', cluster.api.url), { ca: cluster.caPem }, (res) =>
      resolve(res.statusCode ?? 0),
    )
      .on('error', reject)
      .end();
  });
  assert.equal(anonymous, 401);
});
