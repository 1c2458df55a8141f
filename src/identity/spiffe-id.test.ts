/** SPIFFE ID parsing follows ztunnel's five-part rule, plus the SPIFFE spec's character rules. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSpiffeId, parseIdentityArg, parseSpiffeId, SPIFFE_ID_RULE } from './spiffe-id.ts';

test('parses well-formed SPIFFE IDs', () => {
  const good: Array<[string, string, string, string]> = [
    ['spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage', 'cluster.local', 'bookinfo', 'bookinfo-productpage'],
    ['spiffe://example.org/ns/default/sa/default', 'example.org', 'default', 'default'],
    ['spiffe://td_1-x/ns/a.b/sa/c_d', 'td_1-x', 'a.b', 'c_d'],
  ];
  for (const [uri, trustDomain, namespace, serviceAccount] of good) {
    const r = parseSpiffeId(uri);
    assert.ok(r.ok, `${uri} should parse`);
    assert.deepEqual(r.id, { uri, trustDomain, namespace, serviceAccount });
  }
});

test('rejects malformed SPIFFE IDs, naming the rule', () => {
  const bad = [
    ['', 'does not start with spiffe://'],
    ['cluster.local/ns/a/sa/b', 'does not start with spiffe://'],
    ['SPIFFE://cluster.local/ns/a/sa/b', 'does not start with spiffe://'],
    ['spiffe://cluster.local/ns/a/sa/b/extra', '6 path parts'],
    ['spiffe://cluster.local/ns/a/sa', '4 path parts'],
    ['spiffe://cluster.local/ns/a/sa/', 'service account is empty'],
    ['spiffe:///ns/a/sa/b', 'trust domain is empty'],
    ['spiffe://cluster.local/ns//sa/b', 'namespace is empty'],
    ['spiffe://cluster.local/namespace/a/sa/b', 'not "ns"'],
    ['spiffe://cluster.local/ns/a/serviceaccount/b', 'not "sa"'],
    ['spiffe://cluster.local/ns/a/sa/b?x=1', 'query string'],
    ['spiffe://cluster.local/ns/a/sa/b#frag', 'fragment'],
    ['spiffe://Cluster.Local/ns/a/sa/b', 'trust domain'],
    ['spiffe://cluster.local/ns/a b/sa/c', 'characters outside'],
    ['spiffe://cluster.local/ns/../sa/b', 'may not be ".."'],
    ['spiffe://user@cluster.local/ns/a/sa/b', 'trust domain'],
  ] as const;
  for (const [uri, why] of bad) {
    const r = parseSpiffeId(uri);
    assert.equal(r.ok, false, `${JSON.stringify(uri)} should be rejected`);
    if (!r.ok) {
      assert.ok(r.reason.startsWith(SPIFFE_ID_RULE), r.reason);
      assert.ok(r.reason.includes(why), `${r.reason} should mention ${why}`);
    }
  }
});

test('formatSpiffeId builds canonical IDs and refuses bad parts', () => {
  assert.equal(formatSpiffeId('cluster.local', 'egress', 'waypoint'), 'spiffe://cluster.local/ns/egress/sa/waypoint');
  assert.throws(() => formatSpiffeId('cluster.local', 'a/b', 'c'), /5/);
  assert.throws(() => formatSpiffeId('cluster.local', '', 'c'), /namespace is empty/);
});

test('parseIdentityArg accepts the ns/sa shorthand and full IDs', () => {
  const short = parseIdentityArg('bookinfo/productpage', 'cluster.local');
  assert.ok(short.ok);
  assert.equal(short.id.uri, 'spiffe://cluster.local/ns/bookinfo/sa/productpage');
  const full = parseIdentityArg('spiffe://example.org/ns/a/sa/b', 'cluster.local');
  assert.ok(full.ok);
  assert.equal(full.id.trustDomain, 'example.org');
  for (const arg of ['justone', 'a/b/c', '/b', 'a/']) {
    assert.equal(parseIdentityArg(arg, 'cluster.local').ok, false, arg);
  }
});
