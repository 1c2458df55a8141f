import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startFakeCluster, type FakeCluster } from '../../test/support/fake-cluster.ts';
import { kubeServeSource } from './kube-flags.ts';
import { chooseSource } from './source-choice.ts';

let cluster: FakeCluster;
before(async () => {
  cluster = await startFakeCluster();
});
after(async () => {
  await cluster.close();
});

test('the Lease namespace: --lease-namespace, else $POD_NAMESPACE, else no status writer (said in the log)', async () => {
  const logs: string[] = [];
  const log = (l: string): void => void logs.push(l);
  const fromFlag = kubeServeSource(
    { kubeconfig: cluster.kubeconfig, 'lease-namespace': 'portcullis' },
    { POD_NAMESPACE: 'ignored' },
    log,
  );
  assert.equal(fromFlag.lease?.lease, 'portcullis/portcullis-status-writer');
  const fromEnv = kubeServeSource({ kubeconfig: cluster.kubeconfig }, { POD_NAMESPACE: 'istio-system' }, log);
  assert.equal(fromEnv.lease?.lease, 'istio-system/portcullis-status-writer');
  const none = kubeServeSource({ kubeconfig: cluster.kubeconfig }, {}, log);
  assert.equal(none.lease, null);
  assert.ok(logs.some((l) => l.includes('never writes Gateway status')));
  assert.ok(logs.some((l) => l.startsWith(`reading the Kubernetes API at ${cluster.api.url} with the kubeconfig`)));
  for (const s of [fromFlag, fromEnv, none]) await s.close();
});

test('exactly one source; --kubeconfig only with --kube; both publish flags refused', () => {
  assert.equal(chooseSource('status', 'u', { kube: true }), true);
  assert.equal(chooseSource('status', 'u', { config: 'dir' }), false);
  assert.throws(() => chooseSource('status', 'u', {}), /--config is required \(or --kube/);
  assert.throws(
    () => chooseSource('status', 'u', { kube: true, config: 'dir' }),
    /exactly one of --config DIR and --kube/,
  );
  assert.throws(() => chooseSource('status', 'u', { config: 'dir', kubeconfig: 'k' }), /--kubeconfig goes with --kube/);
  assert.throws(
    () =>
      kubeServeSource(
        { kubeconfig: cluster.kubeconfig, 'publish-address': '10.0.0.1', 'publish-service': 'a/b' },
        {},
        () => {},
      ),
    /at most one of --publish-address and --publish-service/,
  );
  assert.throws(
    () => kubeServeSource({ kubeconfig: cluster.kubeconfig, settings: '/nonexistent/portcullis.yaml' }, {}, () => {}),
    /--settings \/nonexistent\/portcullis.yaml: no such file/,
  );
});
