/** :authority parsing: ip:port, [v6]:port, host:port, nothing else. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAuthority, parseAuthority } from './authority.ts';

test('parses the three authority forms', () => {
  const cases: Array<[string, string, number, boolean]> = [
    ['10.0.0.1:443', '10.0.0.1', 443, true],
    ['[fd00::1]:8080', 'fd00::1', 8080, true],
    ['[::ffff:10.0.0.1]:1', '::ffff:10.0.0.1', 1, true],
    ['HTTPBin.org:443', 'httpbin.org', 443, false],
    ['api.partner-a.example.com:65535', 'api.partner-a.example.com', 65535, false],
    ['svc_x.ns.svc.cluster.local:80', 'svc_x.ns.svc.cluster.local', 80, false],
  ];
  for (const [raw, host, port, isIp] of cases) {
    const r = parseAuthority(raw);
    assert.ok(r.ok, raw);
    assert.deepEqual(r.authority, { host, port, isIp, raw });
  }
});

test('rejects malformed authorities', () => {
  const bad = [
    '',
    'example.com',
    ':443',
    'example.com:',
    'example.com:0',
    'example.com:65536',
    'example.com:+80',
    'example.com:8 0',
    '::1:80',
    '[::1]',
    '[::1]80',
    '[not-v6]:80',
    '[10.0.0.1]:80',
    'a..b:80',
    '-a.com:80',
    'a-.com:80',
    'user@host:80',
    'host/path:80',
    '1.2.3:80',
    '10.0.0.1.5:80',
    `${'a'.repeat(64)}.com:80`,
    'exa mple.com:80',
    '%41.com:80',
  ];
  for (const raw of bad) assert.equal(parseAuthority(raw).ok, false, raw);
});

test('formats authorities, bracketing IPv6', () => {
  assert.equal(formatAuthority('::1', 80), '[::1]:80');
  assert.equal(formatAuthority('10.0.0.1', 80), '10.0.0.1:80');
});

test('a partial IP address is refused with that reason', () => {
  const r = parseAuthority('1.2.3:443');
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.reason : '', /partial IP address/);
});
