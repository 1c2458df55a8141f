/** The coarse idle sweep: never closes early, activity keeps a tunnel open, one timer for all. A fake clock mostly. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IdleSweeper, tickFor, type IdleWatched } from './idle-sweep.ts';

function entry(idleTimeoutMs: number): IdleWatched & { closed: number } {
  return {
    active: false,
    idleSince: 0,
    idleTimeoutMs,
    closed: 0,
    idle() {
      this.closed++;
    },
  };
}

test('an entry with no activity closes at the first sweep at or after its timeout, never before, and once', () => {
  let now = 0;
  const sweeper = new IdleSweeper(() => now);
  const e = entry(1000);
  sweeper.watch(e);
  for (now = 0; now < 1000; now += 100) {
    sweeper.sweep();
    assert.equal(e.closed, 0, `still open at ${now} ms`);
  }
  now = 1000;
  sweeper.sweep();
  assert.equal(e.closed, 1);
  assert.equal(sweeper.size, 0);
  now = 5000;
  sweeper.sweep();
  assert.equal(e.closed, 1, 'idle() runs once');
});

test('activity between sweeps restarts the timeout from the sweep that saw it (so the close is never early)', () => {
  let now = 0;
  const sweeper = new IdleSweeper(() => now);
  const e = entry(1000);
  sweeper.watch(e);
  now = 900;
  e.active = true; // a byte moved at some time up to 900
  sweeper.sweep(); // seen at 900: idle from 900 on at the earliest
  assert.equal(e.active, false, 'the sweep clears the flag');
  now = 1899;
  sweeper.sweep();
  assert.equal(e.closed, 0, '999 ms after the last sweep that saw bytes');
  now = 1900;
  sweeper.sweep();
  assert.equal(e.closed, 1);
});

test('each entry has its own timeout; unwatch stops watching; a timeout of 0 is never watched', () => {
  let now = 0;
  const sweeper = new IdleSweeper(() => now);
  const short = entry(100);
  const long = entry(10_000);
  const gone = entry(100);
  const never = entry(0);
  for (const e of [short, long, gone, never]) sweeper.watch(e);
  assert.equal(sweeper.size, 3);
  sweeper.unwatch(gone);
  now = 100;
  sweeper.sweep();
  assert.deepEqual([short.closed, long.closed, gone.closed, never.closed], [1, 0, 0, 0]);
  now = 10_000;
  sweeper.sweep();
  assert.deepEqual([short.closed, long.closed, gone.closed, never.closed], [1, 1, 0, 0]);
  assert.equal(sweeper.size, 0);
});

test('the sweep period is an eighth of the timeout, between 10 ms and 1 s', () => {
  assert.equal(tickFor(10 * 60_000), 1000);
  assert.equal(tickFor(1500), 187);
  assert.equal(tickFor(20), 10);
});

test('on the real clock, the sweeper timer closes an idle entry by itself', async () => {
  const sweeper = new IdleSweeper();
  const closed = new Promise<void>((resolve) => {
    sweeper.watch({ active: false, idleSince: 0, idleTimeoutMs: 50, idle: resolve });
  });
  await closed;
  assert.equal(sweeper.size, 0);
});
