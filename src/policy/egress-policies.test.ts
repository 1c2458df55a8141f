/** egressPolicies: longest matching CIDR wins, v4 and v6, IPv4-mapped as IPv4, no match or no address denies. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PortcullisError } from '../errors/portcullis-error.ts';
import { compileEgressPolicies, decideUnknownDestination } from './egress-policies.ts';

const policies = compileEgressPolicies([
  { matchCidrs: ['0.0.0.0/0', '::/0'], policy: 'Deny' },
  { matchCidrs: ['203.0.113.0/24', '2001:db8::/32'], policy: 'Allow' },
  { matchCidrs: ['203.0.113.128/25', '2001:db8:bad::/48'], policy: 'Deny' },
]);

test('seed 000 layer 03: deny everything unknown', () => {
  const seed = compileEgressPolicies([{ matchCidrs: ['0.0.0.0/0', '::/0'], policy: 'Deny' }]);
  for (const ip of ['1.1.1.1', '2606:4700::1111', '::ffff:8.8.8.8']) {
    const r = decideUnknownDestination(seed, ip, 443);
    assert.equal(r.decision, 'deny', ip);
    assert.equal(r.code, 'PCL_EGRESS_POLICY_DENY');
    assert.equal(r.layers.length, 1);
    assert.equal(r.layers[0].layer, 'egressPolicies');
    assert.equal(r.layers[0].rule, 0);
  }
});

test('longest prefix wins regardless of entry order (IPv4)', () => {
  assert.equal(decideUnknownDestination(policies, '198.51.100.1', 443).code, 'PCL_EGRESS_POLICY_DENY');
  const allow = decideUnknownDestination(policies, '203.0.113.10', 443);
  assert.equal(allow.decision, 'allow');
  assert.equal(allow.code, 'PCL_EGRESS_POLICY_ALLOW');
  assert.equal(allow.layers[0].rule, 1);
  assert.match(allow.reason, /203\.0\.113\.0\/24/);
  const narrower = decideUnknownDestination(policies, '203.0.113.200', 443);
  assert.equal(narrower.decision, 'deny');
  assert.equal(narrower.layers[0].rule, 2);
});

test('longest prefix wins (IPv6), and IPv4-mapped addresses match IPv4 blocks', () => {
  assert.equal(decideUnknownDestination(policies, '2001:db8:1::1', 443).decision, 'allow');
  assert.equal(decideUnknownDestination(policies, '2001:db8:bad::1', 443).decision, 'deny');
  assert.equal(decideUnknownDestination(policies, '2001:db9::1', 443).decision, 'deny');
  assert.equal(decideUnknownDestination(policies, '::ffff:203.0.113.10', 443).decision, 'allow');
  assert.equal(decideUnknownDestination(policies, '::ffff:203.0.113.200', 443).decision, 'deny');
});

test('equal prefixes: the earlier entry wins', () => {
  const p = compileEgressPolicies([
    { matchCidrs: ['10.0.0.0/8'], policy: 'Allow' },
    { matchCidrs: ['10.0.0.0/8'], policy: 'Deny' },
  ]);
  assert.equal(decideUnknownDestination(p, '10.1.1.1', 80).decision, 'allow');
});

test('no match, no address, or an unparsable address → deny with PCL_EGRESS_NO_MATCH', () => {
  const v4only = compileEgressPolicies([{ matchCidrs: ['10.0.0.0/8'], policy: 'Allow' }]);
  for (const ip of ['192.0.2.1', '2001:db8::1', null, '', 'not-an-ip']) {
    const r = decideUnknownDestination(v4only, ip, 443);
    assert.equal(r.decision, 'deny', String(ip));
    assert.equal(r.code, 'PCL_EGRESS_NO_MATCH');
  }
  assert.equal(decideUnknownDestination(compileEgressPolicies([]), '10.0.0.1', 443).code, 'PCL_EGRESS_NO_MATCH');
});

test('an invalid CIDR is refused at compile time', () => {
  assert.throws(
    () => compileEgressPolicies([{ matchCidrs: ['10.0.0.0/33'], policy: 'Allow' }]),
    (e: unknown) => e instanceof PortcullisError && e.code === 'PCL_EGRESS_POLICY_INVALID_CIDR',
  );
});
