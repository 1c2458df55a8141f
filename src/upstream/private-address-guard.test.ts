/** Table tests for the private-address guard. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileAddressGuard } from './private-address-guard.ts';

const strict = compileAddressGuard({ allowedPrivateCidrs: [] });

const REFUSED: readonly [string, string][] = [
  ['127.0.0.1', '127.0.0.0/8'],
  ['127.255.255.254', '127.0.0.0/8'],
  ['0.0.0.0', '0.0.0.0/8'],
  ['10.1.2.3', '10.0.0.0/8'],
  ['172.16.0.1', '172.16.0.0/12'],
  ['172.31.255.255', '172.16.0.0/12'],
  ['192.168.1.1', '192.168.0.0/16'],
  ['100.64.0.1', '100.64.0.0/10'],
  ['100.127.255.255', '100.64.0.0/10'],
  ['169.254.169.254', '169.254.0.0/16'],
  ['224.0.0.1', '224.0.0.0/4'],
  ['255.255.255.255', '240.0.0.0/4'],
  ['240.240.0.1', '240.0.0.0/4'],
  ['192.0.2.10', '192.0.2.0/24'],
  ['198.18.0.1', '198.18.0.0/15'],
  ['::', '::/128'],
  ['::1', '::1/128'],
  ['fe80::1', 'fe80::/10'],
  ['fd00::1', 'fc00::/7'],
  ['fc12:3456::1', 'fc00::/7'],
  ['ff02::1', 'ff00::/8'],
  ['2001:db8::1', '2001:db8::/32'],
  ['2001:2::1', '2001:2::/48'],
  // IPv4-mapped IPv6 is judged as the IPv4 address it carries.
  ['::ffff:169.254.169.254', '169.254.0.0/16'],
  ['::ffff:a9fe:a9fe', '169.254.0.0/16'],
  ['::ffff:127.0.0.1', '127.0.0.0/8'],
  // NAT64, 6to4 and Teredo reach the embedded IPv4 host.
  ['64:ff9b::a9fe:a9fe', '169.254.0.0/16'],
  ['64:ff9b::10.0.0.1', '10.0.0.0/8'],
  ['2002:a9fe:a9fe::1', '169.254.0.0/16'],
  ['2002:c0a8:0101::', '192.168.0.0/16'],
  // Teredo: server 65.54.227.120, client 192.168.1.1 obfuscated as ~c0a8:0101 = 3f57:fefe.
  ['2001:0:4136:e378:8000:63bf:3f57:fefe', '192.168.0.0/16'],
  ['2001:0:a00:1::1', '10.0.0.0/8'],
  ['::127.0.0.1', '::/96'],
  ['100::1', '100::/64'],
  ['4000::1', '!2000::/3'],
];

const ALLOWED: readonly string[] = [
  '1.1.1.1',
  '8.8.8.8',
  '54.175.222.246',
  '172.32.0.1',
  '100.128.0.1',
  '2606:4700:4700::1111',
  '::ffff:8.8.8.8',
  '64:ff9b::808:808',
  '2002:0808:0808::1',
  '2001:0:4136:e378:8000:63bf:f7f7:f7f7', // Teredo client 8.8.8.8
];

test('the guard refuses every private, reserved and embedded-private address', () => {
  for (const [ip, range] of REFUSED) {
    const v = strict.check(ip);
    assert.equal(v.ok, false, `${ip} should be refused`);
    if (!v.ok) {
      assert.equal(v.range, range, `${ip}: ${v.reason}`);
      assert.ok(v.reason.includes(ip), v.reason);
    }
  }
});

test('the guard lets public addresses through', () => {
  for (const ip of ALLOWED) assert.deepEqual(strict.check(ip), { ok: true }, ip);
});

test('garbage is refused, never thrown', () => {
  for (const bad of ['', 'localhost', '1.2.3', '01.2.3.4', '1.2.3.4.5', ':::', 'fe80::1::2', '[::1']) {
    const v = strict.check(bad);
    assert.equal(v.ok, false, bad);
  }
});

test('allowedPrivateCidrs opens exactly the ranges listed', () => {
  const g = compileAddressGuard({ allowedPrivateCidrs: ['127.0.0.0/8', '10.1.0.0/16', 'fd00::/8'] });
  assert.deepEqual(g.check('127.0.0.1'), { ok: true });
  assert.deepEqual(g.check('::ffff:127.0.0.1'), { ok: true });
  assert.deepEqual(g.check('10.1.2.3'), { ok: true });
  assert.equal(g.check('10.2.0.1').ok, false);
  assert.deepEqual(g.check('fd00::5'), { ok: true });
  assert.equal(g.check('fd80::5').ok, true);
  assert.equal(g.check('fe80::1').ok, false);
  assert.equal(g.check('169.254.169.254').ok, false);
});

test('an invalid allowedPrivateCidrs entry fails at compile time', () => {
  assert.throws(() => compileAddressGuard({ allowedPrivateCidrs: ['10.0.0.0/33'] }), /allowedPrivateCidrs/);
});

test('the gateway never dials its own listeners, even inside an allowed range', () => {
  const g = compileAddressGuard({
    allowedPrivateCidrs: ['127.0.0.0/8', '0.0.0.0/0'],
    listeners: [
      { ip: '127.0.0.1', port: 15008 },
      { ip: '0.0.0.0', port: 15000 },
    ],
    localAddresses: ['192.0.2.7'],
  });
  assert.equal(g.check('127.0.0.1', 15008).ok, false);
  assert.deepEqual(g.check('127.0.0.1', 443), { ok: true });
  assert.equal(g.check('192.0.2.7', 15000).ok, false);
  assert.equal(g.check('127.0.0.1', 15000).ok, false);
  assert.equal(g.check('0.0.0.0', 15000).ok, false);
  const v = g.check('127.0.0.1', 15008);
  assert.ok(!v.ok && v.range === 'listener');
});
