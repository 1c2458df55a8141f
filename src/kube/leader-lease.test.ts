import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFakeCluster, type FakeCluster } from '../../test/support/fake-cluster.ts';
import { KubeClient, loadKubeConfig } from './kube-client.ts';
import { LeaderLease } from './leader-lease.ts';

let cluster: FakeCluster;
const leases: LeaderLease[] = [];
before(async () => {
  cluster = await startFakeCluster();
});
after(async () => {
  for (const l of leases) await l.stop();
  await cluster.close();
});

function candidate(identity: string, name: string): LeaderLease {
  const client = new KubeClient(loadKubeConfig({ kubeconfig: cluster.kubeconfig, env: {} }).config);
  const l = new LeaderLease({ client, namespace: 'istio-system', name, durationMs: 1000, identity });
  leases.push(l);
  return l;
}

async function until(what: string, ok: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const holderOf = (name: string): string | undefined =>
  (
    cluster.api.get('leases', 'coordination.k8s.io', 'istio-system', name)?.spec as
      | { holderIdentity?: string }
      | undefined
  )?.holderIdentity;

test('one of several candidates leads; it renews; stopped, it releases and another takes over at once', {
  timeout: 30_000,
}, async () => {
  const [a, b, c] = ['a', 'b', 'c'].map((id) => candidate(id, 'release'));
  for (const l of [a, b, c]) l.start();
  await until('a leader', () => [a, b, c].some((l) => l.leader));
  await sleep(1500);
  assert.equal([a, b, c].filter((l) => l.leader).length, 1);
  const leader = [a, b, c].find((l) => l.leader)!;
  assert.equal(holderOf('release'), leader.identity);
  const renewed = (
    cluster.api.get('leases', 'coordination.k8s.io', 'istio-system', 'release')!.spec as { renewTime: string }
  ).renewTime;
  assert.match(renewed, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  await leader.stop();
  assert.equal(leader.leader, false);
  await until('another leader', () => [a, b, c].some((l) => l !== leader && l.leader), 5_000);
  assert.notEqual(holderOf('release'), leader.identity);
});

test('a holder that stops renewing (killed) is replaced after the lease duration, not before', {
  timeout: 30_000,
}, async () => {
  // A leader that renewed once and died: nobody will renew or release this record.
  const now = new Date().toISOString().replace('Z', '000Z');
  cluster.api.put({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'expire', namespace: 'istio-system' },
    spec: { holderIdentity: 'ghost', leaseDurationSeconds: 2, acquireTime: now, renewTime: now, leaseTransitions: 0 },
  });
  const b = candidate('y', 'expire');
  const started = Date.now();
  b.start();
  await sleep(1000);
  assert.equal(b.leader, false, 'took over a lease whose holder may still be alive');
  await until('y takes over', () => b.leader, 10_000);
  // Measured on y's own clock from when it first saw the record: at least the holder's 2 s duration.
  assert.ok(Date.now() - started >= 2000);
  assert.equal(holderOf('expire'), 'y');
  assert.equal(
    (cluster.api.get('leases', 'coordination.k8s.io', 'istio-system', 'expire')!.spec as { leaseTransitions: number })
      .leaseTransitions,
    1,
  );
});
