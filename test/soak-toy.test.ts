/**
 * The soak of `npm run bench` at toy size: tunnels churn (open, move bytes, close) and two identities send L7
 * keep-alive requests, against real `portcullis serve` children. No timing assertions: it asserts no errors, work
 * done, no answer given to the wrong identity, and growth of RSS and descriptors within generous margins.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makePki, stopAllChildren } from '../bench/env.ts';
import { runSoak, TOY_SOAK } from '../bench/soak.ts';

test('soak at toy size: churning tunnels and L7 keep-alive traffic, no errors, bounded growth', {
  timeout: 180_000,
}, async () => {
  const pki = await makePki();
  try {
    const r = await runSoak(pki, TOY_SOAK);
    assert.equal(r.errors, 0, `first error: ${r.firstError}`);
    assert.ok(r.opened > TOY_SOAK.tunnels, `tunnels were replaced (opened ${r.opened})`);
    assert.ok(r.closed > 0 && r.exchanges > 0, `closed ${r.closed}, exchanges ${r.exchanges}`);
    const { start, end } = r.gateway;
    assert.ok(end.rssMiB <= start.rssMiB * 1.5 + 64, `gateway RSS ${start.rssMiB} → ${end.rssMiB} MiB`);
    assert.ok(end.fds <= start.fds + 2 * TOY_SOAK.tunnels + 64, `gateway descriptors ${start.fds} → ${end.fds}`);
    assert.ok(
      end.openTunnels <= TOY_SOAK.tunnels + 8,
      `open-tunnels gauge ${end.openTunnels} for ${TOY_SOAK.tunnels} tunnels`,
    );
    assert.equal(end.pendingHandshakes, 0);
    if (typeof r.waypoint !== 'string') {
      assert.ok(r.l7Requests > 0);
      assert.equal(r.l7WrongSubject, 0, 'every L7 answer carried its own identity');
      assert.ok(
        r.waypoint.end.fds <= r.waypoint.start.fds + 64,
        `waypoint descriptors ${r.waypoint.start.fds} → ${r.waypoint.end.fds}`,
      );
    }
  } finally {
    await stopAllChildren();
    pki.cleanup();
  }
});
