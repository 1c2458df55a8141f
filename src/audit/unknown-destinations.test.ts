/** Layer 3: which ranges egressPolicies leave open, by longest prefix. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeExternal, describeSet, externalPart, isEmpty } from './ip-ranges.ts';
import { openAddresses } from './unknown-destinations.ts';
import { auditOf, codes } from '../../test/support/audit-fixtures.ts';

test('seed 000 values deny everything', () => {
  assert.ok(isEmpty(openAddresses([{ matchCidrs: ['0.0.0.0/0', '::/0'], policy: 'Deny' }])));
});

test('IPv4 only leaves IPv6 open; nothing listed leaves everything open', () => {
  assert.equal(
    describeExternal(externalPart(openAddresses([{ matchCidrs: ['0.0.0.0/0'], policy: 'Deny' }]))),
    'every public IPv6 address',
  );
  assert.equal(describeSet(openAddresses([])), '0.0.0.0/0, ::/0');
});

test('a longer Allow punches a hole; the first entry wins a tie', () => {
  const open = openAddresses([
    { matchCidrs: ['0.0.0.0/0', '::/0'], policy: 'Deny' },
    { matchCidrs: ['203.0.113.0/24'], policy: 'Allow' },
    { matchCidrs: ['203.0.113.0/25'], policy: 'Deny' },
  ]);
  assert.equal(describeSet(open), '203.0.113.128/25');
  const tie = openAddresses([
    { matchCidrs: ['0.0.0.0/0', '::/0'], policy: 'Deny' },
    { matchCidrs: ['198.51.100.0/24'], policy: 'Deny' },
    { matchCidrs: ['198.51.100.0/24'], policy: 'Allow' },
  ]);
  assert.ok(isEmpty(tie));
});

test('findings: missing, open to the internet (error), open to private ranges only (info)', () => {
  const missing = auditOf('', 'egressGateway: {defaultDeny: true}\n').findings.filter((f) => f.layer === 3);
  assert.deepEqual(codes(missing), ['PCL_AUDIT_EGRESS_POLICIES_MISSING Settings//egressPolicies']);
  assert.match(missing[0].fix, /matchCidrs:\n\s+- 0\.0\.0\.0\/0\n\s+- ::\/0\n\s+policy: Deny/);

  const open = auditOf('', 'egressPolicies: [{matchCidrs: [0.0.0.0/0], policy: Deny}]\n').findings.filter(
    (f) => f.layer === 3,
  );
  assert.equal(open[0].code, 'PCL_AUDIT_EGRESS_POLICIES_OPEN');
  assert.equal(open[0].severity, 'error');
  assert.match(open[0].message, /every public IPv6 address/);

  const priv = auditOf(
    '',
    'egressPolicies: [{matchCidrs: [0.0.0.0/0, "::/0"], policy: Deny}, {matchCidrs: [10.10.0.0/16], policy: Allow}]\n',
  ).findings.filter((f) => f.layer === 3);
  assert.equal(priv[0].severity, 'info');
  assert.match(priv[0].message, /10\.10\.0\.0\/16/);
});
