/** Address-set arithmetic: subtraction, the external part, and CIDR rendering. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ALL_ADDRESSES,
  describeExternal,
  describeSet,
  externalPart,
  intersect,
  isEmpty,
  setOf,
  subtract,
} from './ip-ranges.ts';

test('subtract splits a block around the hole', () => {
  assert.equal(
    describeSet(subtract(setOf(['10.0.0.0/8']), setOf(['10.1.0.0/16']))),
    '10.0.0.0/16, 10.2.0.0/15, 10.4.0.0/14, 10.8.0.0/13, 10.16.0.0/12, 10.32.0.0/11, … (8 ranges)',
  );
  assert.equal(describeSet(subtract(setOf(['192.0.2.0/24']), setOf(['192.0.2.0/25']))), '192.0.2.128/25');
  assert.ok(isEmpty(subtract(setOf(['192.0.2.0/24']), setOf(['192.0.0.0/16']))));
});

test('the external part leaves out private, loopback, link-local and CGNAT ranges', () => {
  assert.ok(
    isEmpty(
      externalPart(
        setOf(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '169.254.169.254', 'fd00::/8']),
      ),
    ),
  );
  assert.equal(describeSet(externalPart(setOf(['8.8.8.8']))), '8.8.8.8/32');
  assert.equal(describeExternal(externalPart(ALL_ADDRESSES)), 'every public IPv4 address; every public IPv6 address');
  assert.equal(describeSet(externalPart(setOf(['2001:db8::/32']))), '2001:db8::/32');
});

test('intersect', () => {
  assert.equal(
    describeSet(intersect(setOf(['10.0.0.0/8']), setOf(['10.244.0.0/16', '192.0.2.0/24']))),
    '10.244.0.0/16',
  );
  assert.ok(isEmpty(intersect(setOf(['10.0.0.0/8']), setOf(['::/0']))), 'families never meet');
});
