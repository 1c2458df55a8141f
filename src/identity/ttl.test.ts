/** TTL strings read like Go durations, with days added. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PortcullisError } from '../errors/portcullis-error.ts';
import { durationFlag, formatTtl, parseTtl } from './ttl.ts';

test('parses durations', () => {
  assert.equal(parseTtl('24h'), 86_400_000);
  assert.equal(parseTtl('30m'), 1_800_000);
  assert.equal(parseTtl('7d'), 604_800_000);
  assert.equal(parseTtl('45s'), 45_000);
  assert.equal(parseTtl('1h30m'), 5_400_000);
  assert.equal(parseTtl('500ms'), 500);
});

test('rejects non-durations', () => {
  for (const bad of ['', '24', 'h', '-1h', '0h', '1.5h', '1w', '24 h', '1h-', 'abc', '1e3s']) {
    assert.equal(parseTtl(bad), null, bad);
  }
});

test('formats back to the largest whole unit', () => {
  assert.equal(formatTtl(86_400_000), '1d');
  assert.equal(formatTtl(5_400_000), '90m');
  assert.equal(formatTtl(1500), '1500ms');
});

test('durationFlag: absent is undefined, a duration is its ms, anything else names the flag and the text', () => {
  assert.equal(durationFlag('idle-timeout', undefined, 'a duration such as 30m'), undefined);
  assert.equal(durationFlag('idle-timeout', '1h30m', 'a duration such as 30m'), 5_400_000);
  assert.throws(
    () => durationFlag('idle-timeout', '30 minutes', 'a duration such as 30m'),
    (err: PortcullisError) =>
      err.code === 'PCL_CLI_BAD_VALUE' &&
      err.message === '--idle-timeout "30 minutes": expected a duration such as 30m',
  );
  assert.throws(
    () => durationFlag('lease-duration', '500ms', 'at least 1s', { minMs: 1000 }),
    /--lease-duration "500ms": expected at least 1s/,
  );
  assert.equal(durationFlag('lease-duration', '1s', 'at least 1s', { minMs: 1000 }), 1000);
  assert.throws(
    () => durationFlag('handshake-timeout', 'x', 'a duration', { fail: (m) => new RangeError(`agent: ${m}`) }),
    (err: Error) => err instanceof RangeError && err.message === 'agent: --handshake-timeout "x": expected a duration',
  );
});
