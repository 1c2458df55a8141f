/** Longest-prefix lookups over VIPs and CIDRs, as ztunnel matches CIDR VIPs. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PrefixTable } from './address-index.ts';

test('the longest prefix wins, families never cross, the first insert of a prefix wins', () => {
  const t = new PrefixTable<string>();
  assert.equal(t.insert('10.0.0.0/8', 'wide'), true);
  assert.equal(t.insert('10.1.0.0/16', 'narrow'), true);
  assert.equal(t.insert('10.1.2.3', 'host'), true);
  assert.equal(t.insert('10.1.0.0/16', 'later'), true);
  assert.equal(t.insert('2001:2::/48', 'v6'), true);
  assert.equal(t.insert('not-a-cidr', 'x'), false);
  assert.deepEqual(t.lookup('10.1.2.3'), { value: 'host', prefix: 32 });
  assert.deepEqual(t.lookup('10.1.9.9'), { value: 'narrow', prefix: 16 });
  assert.deepEqual(t.lookup('10.200.0.1'), { value: 'wide', prefix: 8 });
  assert.deepEqual(t.lookup('[2001:2::5]'), { value: 'v6', prefix: 48 });
  assert.deepEqual(t.lookup('::ffff:10.1.2.3'), { value: 'host', prefix: 32 });
  assert.equal(t.lookup('11.0.0.1'), null);
  assert.equal(t.lookup('2001:3::1'), null);
  assert.equal(t.lookup('garbage'), null);
  assert.equal(t.size, 4);
});
