/** ipFamily answers as Node's own `isIP` does, across addresses, near-misses and host names. */
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { test } from 'node:test';
import { ipFamily, isCidr } from './ip-syntax.ts';

const SAMPLES = [
  '1.2.3.4',
  '0.0.0.0',
  '255.255.255.255',
  '256.1.1.1',
  '01.2.3.4',
  '1.2.3',
  '1.2.3.4.5',
  '1..2.3',
  '',
  'httpbin.org',
  'localhost',
  '::',
  '::1',
  '::/0',
  '1::',
  ':1::',
  '1:2:3:4:5:6:7:8',
  '1:2:3:4:5:6:7:8:9',
  '1:2:3:4:5:6:7::',
  '1::2::3',
  '::ffff:1.2.3.4',
  '::ffff:1.2.3.256',
  '64:ff9b::10.0.0.1',
  'fe80::1%eth0',
  'fe80::1%',
  '[::1]',
  '12345::',
  'g::1',
  'FE80::ABCD',
  '1.2.3.4:80',
];

test('ipFamily agrees with node:net isIP', () => {
  for (const s of SAMPLES) assert.equal(ipFamily(s), isIP(s), JSON.stringify(s));
});

test('isCidr follows netip.ParsePrefix: no zone, no leading zero in the length, length within the family', () => {
  assert.equal(isCidr('::/0'), true);
  assert.equal(isCidr('10.0.0.0/8'), true);
  assert.equal(isCidr('10.0.0.0/33'), false);
  assert.equal(isCidr('10.0.0.0/08'), false);
  assert.equal(isCidr('fe80::1%eth0/64'), false);
  assert.equal(isCidr('2001:db8::/129'), false);
});
