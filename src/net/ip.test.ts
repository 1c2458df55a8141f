/** Address and CIDR parsing and matching, v4 and v6, with IPv4-mapped IPv6 treated as IPv4. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cidrContains, formatIpBits, ipBits, parseCidr, parseIp } from './ip.ts';

function contains(cidr: string, ip: string): boolean {
  const b = parseCidr(cidr);
  const a = parseIp(ip);
  assert.ok(b !== null, `cidr ${cidr}`);
  assert.ok(a !== null, `ip ${ip}`);
  return cidrContains(b, a);
}

test('IPv4 CIDR containment, including /0 and /32 and bare addresses', () => {
  assert.equal(contains('127.0.0.1/24', '127.0.0.4'), true); // ztunnel cidr_range
  assert.equal(contains('127.0.0.1/32', '127.0.0.1'), true);
  assert.equal(contains('127.0.0.1/32', '127.0.0.3'), false);
  assert.equal(contains('127.0.0.1', '127.0.0.1'), true);
  assert.equal(contains('0.0.0.0/0', '203.0.113.9'), true);
  assert.equal(contains('10.0.0.0/8', '11.0.0.1'), false);
  assert.equal(contains('192.168.128.0/17', '192.168.255.255'), true);
  assert.equal(contains('192.168.128.0/17', '192.168.127.255'), false);
});

test('IPv6 CIDR containment across word boundaries', () => {
  assert.equal(contains('::/0', '2001:db8::1'), true);
  assert.equal(contains('2001:db8::/32', '2001:db8:ffff::1'), true);
  assert.equal(contains('2001:db8::/32', '2001:db9::1'), false);
  assert.equal(contains('2001:db8:0:0:8000::/65', '2001:db8::8000:0:0:1'), true);
  assert.equal(contains('2001:db8:0:0:8000::/65', '2001:db8::7fff:0:0:1'), false);
  assert.equal(contains('::1/128', '::1'), true);
  assert.equal(contains('fe80::/10', 'fe80::1%eth0'), true);
});

test('families never cross; ::ffff:a.b.c.d is IPv4', () => {
  assert.equal(contains('::/0', '1.2.3.4'), false);
  assert.equal(contains('0.0.0.0/0', '2001:db8::1'), false);
  assert.equal(contains('1.2.3.0/24', '::ffff:1.2.3.4'), true);
  assert.equal(contains('::ffff:1.2.3.0/120', '1.2.3.4'), true);
  assert.deepEqual(parseIp('::ffff:7f00:1'), parseIp('127.0.0.1'));
  assert.deepEqual(parseIp('[::1]'), parseIp('::1'));
});

test('invalid addresses and CIDRs are rejected', () => {
  for (const bad of [
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4',
    '1::2::3',
    'g::1',
    'abc',
    '1:2:3:4:5:6:7:8:9',
  ]) {
    assert.equal(parseIp(bad), null, bad);
  }
  for (const bad of ['1.2.3.4/33', '::/129', '1.2.3.4/', '1.2.3.4/a', 'x/8', '::ffff:1.2.3.4/80']) {
    assert.equal(parseCidr(bad), null, bad);
  }
});

test('ipBits and formatIpBits round-trip, with RFC 5952 compression', () => {
  const cases: [string, string][] = [
    ['240.240.0.1', '240.240.0.1'],
    ['2001:2::1', '2001:2::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['::', '::'],
    ['fe80::1:0:0:1', 'fe80::1:0:0:1'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
  ];
  for (const [input, shown] of cases) {
    const ip = parseIp(input)!;
    assert.equal(formatIpBits(ip.v6, ipBits(ip)), shown, input);
  }
  assert.equal(ipBits(parseIp('0.0.0.255')!), 255n);
  assert.equal(ipBits(parseIp('::1:0')!), 65536n);
});
