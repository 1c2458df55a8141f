/** Layer 5: the perimeter, declared or not. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { auditOf, codes } from '../../test/support/audit-fixtures.ts';

const DENY = 'egressPolicies: [{matchCidrs: [0.0.0.0/0, "::/0"], policy: Deny}]\n';
const layer5 = (settings: string) => auditOf('', settings).findings.filter((f) => f.layer === 5);

test('undeclared: a warning that it is unverified', () => {
  const f = layer5(DENY);
  assert.deepEqual(codes(f), ['PCL_AUDIT_PERIMETER_UNVERIFIED Settings//perimeter']);
  assert.equal(f[0].severity, 'warning');
  assert.match(f[0].fix, /perimeter:\n\s+podCidrs:/);
});

test('declared and complete: clean', () => {
  assert.deepEqual(
    layer5(DENY + 'perimeter: {podCidrs: [10.244.0.0/16], podEgressDropped: true, snatAddresses: [192.0.2.10/32]}\n'),
    [],
  );
});

test('declared but open, incomplete, or letting a pod address out', () => {
  assert.deepEqual(
    codes(
      layer5(
        DENY + 'perimeter: {podCidrs: [10.244.0.0/16], podEgressDropped: false, snatAddresses: [192.0.2.10/32]}\n',
      ),
    ),
    ['PCL_AUDIT_PERIMETER_OPEN Settings//perimeter'],
  );
  assert.equal(
    layer5(DENY + 'perimeter: {podEgressDropped: true}\n').filter((f) => f.code === 'PCL_AUDIT_PERIMETER_INCOMPLETE')
      .length,
    2,
  );
  const inside = layer5(
    DENY + 'perimeter: {podCidrs: [10.244.0.0/16], podEgressDropped: true, snatAddresses: [10.244.1.5/32]}\n',
  );
  assert.deepEqual(codes(inside), ['PCL_AUDIT_PERIMETER_INCOMPLETE Settings//perimeter']);
  assert.equal(inside[0].severity, 'error');
});
