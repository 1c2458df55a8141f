/** TTL strings read like Go durations, with days added. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTtl, parseTtl } from './ttl.ts';

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
