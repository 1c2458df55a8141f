/** Seed 000's scenarios at engine level, from the example manifests in examples/seed-000 (L4 mode, both layers). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { AuthorizationPolicy } from '../config/api-types.ts';
import { compileAuthorizationPolicy, type CompiledPolicy } from './compile.ts';
import { decideEgress, type LayerInput } from './engine.ts';
import type { AuthzRequest } from './request.ts';
import { authzPolicy, loadPoliciesFromYaml } from '../../test/support/policy-fixtures.ts';

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples', 'seed-000');
const byName = new Map<string, AuthorizationPolicy>();
for (const file of ['default-deny.yaml', 'gateway-policies.yaml', 'serviceentry-policies.yaml']) {
  for (const p of loadPoliciesFromYaml(join(EXAMPLES, file))) byName.set(p.metadata.name, p);
}
function policy(name: string): CompiledPolicy {
  const p = byName.get(name);
  assert.ok(p !== undefined, `examples/seed-000 defines ${name}`);
  return compileAuthorizationPolicy(p, 'l4', { trustDomain: 'cluster.local' });
}
const GATEWAY = 'Gateway istio-system/ztunnel-egress';
const SERVICE_ENTRY = 'ServiceEntry bookinfo/httpbin-org';
function layers(gateway: string[], serviceEntry: string[]): LayerInput[] {
  return [
    { layer: 'gateway', target: GATEWAY, policies: gateway.map(policy) },
    { layer: 'serviceentry', target: SERVICE_ENTRY, policies: serviceEntry.map(policy) },
  ];
}
const from = (ns: string, sa: string, port = 443): AuthzRequest => ({
  principal: `spiffe://cluster.local/ns/${ns}/sa/${sa}`,
  sourceIp: '10.244.1.7',
  destinationIp: '240.240.0.1',
  destinationPort: port,
});

test('the example manifests parse into the five seed policies', () => {
  assert.deepEqual([...byName.keys()].sort(), [
    'allow-bookinfo-egress',
    'allow-bookinfo-https-only',
    'allow-bookinfo-to-httpbin',
    'allow-productpage-to-httpbin',
    'default-deny-ztunnel-egress',
    'deny-default-egress',
  ]);
  for (const name of byName.keys()) assert.deepEqual(policy(name).conditions, [], `${name} is pure L4`);
});

test('step 02: with only the default-deny policy nothing gets out', () => {
  for (const caller of [
    from('bookinfo', 'bookinfo-productpage'),
    from('default', 'default'),
    { ...from('x', 'y'), principal: null },
  ]) {
    const r = decideEgress(layers(['default-deny-ztunnel-egress'], []), caller);
    assert.equal(r.decision, 'deny');
    assert.equal(r.code, 'PCL_AUTHZ_DENIED_NOT_ALLOWED');
    assert.equal(r.layers[0].layer, 'gateway');
    assert.equal(r.layers[0].decision, 'deny');
    assert.equal(r.layers[0].reason, 'allow policies exist, but none allowed');
  }
});

test('steps 04+05: allow-bookinfo-egress plus allow-bookinfo-to-httpbin let bookinfo reach httpbin.org:443', () => {
  const ls = layers(['default-deny-ztunnel-egress', 'allow-bookinfo-egress'], ['allow-bookinfo-to-httpbin']);
  const r = decideEgress(ls, from('bookinfo', 'bookinfo-reviews'));
  assert.equal(r.decision, 'allow');
  assert.deepEqual(
    r.layers.map((l) => [l.layer, l.decision, l.policy, l.rule]),
    [
      ['gateway', 'allow', 'istio-system/allow-bookinfo-egress', 0],
      ['serviceentry', 'allow', 'bookinfo/allow-bookinfo-to-httpbin', 0],
    ],
  );
  assert.equal(r.code, 'PCL_AUTHZ_ALLOWED_BY_POLICY');
  const other = decideEgress(ls, from('default', 'default'));
  assert.equal(other.decision, 'deny');
  assert.equal(other.layers[0].decision, 'deny');
  assert.equal(other.layers[1].decision, 'deny', 'both layers are evaluated and recorded');
});

test('the gateway layer alone is not enough: the ServiceEntry layer must allow too', () => {
  const r = decideEgress(
    layers(['default-deny-ztunnel-egress', 'allow-bookinfo-egress'], ['allow-productpage-to-httpbin']),
    from('bookinfo', 'bookinfo-ratings'),
  );
  assert.equal(r.decision, 'deny');
  assert.equal(r.layers[0].decision, 'allow');
});

test('step 04: allow-bookinfo-https-only alone refuses port 80 and allows 443', () => {
  const ls = layers(['default-deny-ztunnel-egress', 'allow-bookinfo-https-only'], ['allow-bookinfo-to-httpbin']);
  const r80 = decideEgress(ls, from('bookinfo', 'bookinfo-productpage', 80));
  assert.equal(r80.decision, 'deny');
  assert.equal(r80.layers[0].decision, 'deny');
  assert.equal(r80.reason, 'allow policies exist, but none allowed');
  assert.equal(decideEgress(ls, from('bookinfo', 'bookinfo-productpage', 443)).decision, 'allow');
});

test('step 04: deny-default-egress refuses namespace default even with a matching ALLOW', () => {
  // An ALLOW that matches namespace default: rules: [{}] allows every source.
  const allowAll = compileAuthorizationPolicy(
    authzPolicy('istio-system', 'allow-everyone', {
      targetRefs: [{ kind: 'Gateway', name: 'ztunnel-egress' }],
      action: 'ALLOW',
      rules: [{}],
    }),
    'l4',
  );
  const ls = layers(['default-deny-ztunnel-egress', 'deny-default-egress'], ['allow-bookinfo-to-httpbin']);
  ls[0] = { ...ls[0], policies: [...ls[0].policies, allowAll] };
  ls[1] = { ...ls[1], policies: [...ls[1].policies, allowAll] };
  const r = decideEgress(ls, from('default', 'default'));
  assert.equal(r.decision, 'deny');
  assert.equal(r.code, 'PCL_AUTHZ_DENIED_EXPLICIT');
  assert.equal(r.reason, 'explicitly denied by: istio-system/deny-default-egress');
  assert.equal(r.layers[0].policy, 'istio-system/deny-default-egress');
  assert.equal(decideEgress(ls, from('bookinfo', 'bookinfo-productpage')).decision, 'allow');
});

test('step 05: allow-productpage-to-httpbin lets only bookinfo-productpage through', () => {
  const ls = layers(['default-deny-ztunnel-egress', 'allow-bookinfo-egress'], ['allow-productpage-to-httpbin']);
  const ok = decideEgress(ls, from('bookinfo', 'bookinfo-productpage'));
  assert.equal(ok.decision, 'allow');
  assert.equal(ok.layers[1].policy, 'bookinfo/allow-productpage-to-httpbin');
  const refused = decideEgress(ls, from('bookinfo', 'bookinfo-reviews'));
  assert.equal(refused.decision, 'deny');
  assert.equal(refused.layers[0].decision, 'allow', 'the gateway layer admits the whole namespace');
  assert.equal(refused.layers[1].layer, 'serviceentry');
  assert.equal(refused.layers[1].decision, 'deny', 'refused at the ServiceEntry layer');
  assert.equal(refused.layers[1].target, SERVICE_ENTRY);
  assert.equal(refused.code, 'PCL_AUTHZ_DENIED_NOT_ALLOWED');
});
