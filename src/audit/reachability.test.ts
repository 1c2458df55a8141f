/** The reachability table: the data-plane engine's verdict per identity × bound host:port, and the open layers. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { auditOf, goodNamespace, pod, SEED_FENCE } from '../../test/support/audit-fixtures.ts';

const SEED = join(import.meta.dirname, '..', '..', 'examples', 'seed-000');
const read = (f: string) => readFileSync(join(SEED, f), 'utf8') + '\n---\n';
const BASE =
  read('gateway.yaml') +
  read('serviceentry.yaml') +
  goodNamespace('bookinfo') +
  SEED_FENCE('bookinfo') +
  goodNamespace('default') +
  SEED_FENCE('default');
const GATEWAY_ALLOW_BOOKINFO = read('gateway-policies.yaml').split('---')[0] + '\n---\n';
const sa = (ns: string, name: string, account: string, labels: Record<string, string> = {}) =>
  pod(ns, name, labels, `serviceAccountName: ${account}\n  containers: [{name: c, image: busybox}]`);
const PODS =
  sa('bookinfo', 'productpage', 'bookinfo-productpage') +
  sa('bookinfo', 'reviews', 'bookinfo-reviews') +
  sa('default', 'sleep', 'sleep');

function table(manifests: string) {
  return Object.fromEntries(
    auditOf(manifests).reachability.map((r) => [r.identity.replace('spiffe://cluster.local/', ''), r]),
  );
}

test('only the principal the ServiceEntry layer names reaches httpbin.org:443', () => {
  const se = read('serviceentry-policies.yaml').split('---')[1];
  const t = table(BASE + GATEWAY_ALLOW_BOOKINFO + se + '\n---\n' + PODS);
  assert.deepEqual(t['ns/bookinfo/sa/bookinfo-productpage'].destinations, [{ host: 'httpbin.org', port: 443 }]);
  assert.deepEqual(t['ns/bookinfo/sa/bookinfo-reviews'].destinations, []);
  assert.deepEqual(t['ns/default/sa/sleep'].destinations, []);
  assert.deepEqual(t['ns/bookinfo/sa/bookinfo-productpage'].bypass, []);
});

test('both layers must allow: a namespace-wide ServiceEntry allow without the Gateway allow reaches nothing', () => {
  const se = read('serviceentry-policies.yaml').split('---')[0];
  const withGateway = table(BASE + GATEWAY_ALLOW_BOOKINFO + se + '\n---\n' + PODS);
  assert.deepEqual(withGateway['ns/bookinfo/sa/bookinfo-reviews'].destinations, [{ host: 'httpbin.org', port: 443 }]);
  const withoutGateway = table(BASE + se + '\n---\n' + PODS);
  assert.deepEqual(withoutGateway['ns/bookinfo/sa/bookinfo-reviews'].destinations, [], 'defaultDeny on the gateway');
});

test("bypass lists the open layers of the identity's own pods", () => {
  const t = table(
    BASE.replace(SEED_FENCE('default'), '') +
      PODS +
      sa('bookinfo', 'agent', 'bookinfo-agent', { 'istio.io/dataplane-mode': 'none' }),
  );
  assert.deepEqual(t['ns/default/sa/sleep'].bypass, [2]);
  assert.deepEqual(t['ns/bookinfo/sa/bookinfo-agent'].bypass, [1]);
  assert.deepEqual(t['ns/bookinfo/sa/bookinfo-productpage'].bypass, []);
});

test('a gateway pod is not a workload identity', () => {
  const t = table(BASE + sa('bookinfo', 'gw', 'gw', { 'gateway.networking.k8s.io/gateway-name': 'x' }));
  assert.deepEqual(Object.keys(t), []);
});
