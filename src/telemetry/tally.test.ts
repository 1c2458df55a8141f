/** Tallies count per label object until drained; label sets give one shared object per key tuple, bounded. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LabelSets, Tally } from './tally.ts';

test('a tally sums per label set, hands every sum on once, and starts again from nothing', () => {
  const sets = new LabelSets<{ a: string }>();
  const x = sets.get('x', '', '', '', () => ({ a: 'x' }));
  const y = sets.get('y', '', '', '', () => ({ a: 'y' }));
  const t = new Tally<{ a: string }>();
  t.add(x);
  t.add(x, 4);
  t.add(y, -1);
  const seen: [string, number][] = [];
  t.drain((l, n) => seen.push([l.a, n]));
  assert.deepEqual(seen, [
    ['x', 5],
    ['y', -1],
  ]);
  t.drain(() => assert.fail('nothing left to drain'));
});

test('label sets: the same keys give the same frozen object, other keys another; past the bound they start again', () => {
  let made = 0;
  const sets = new LabelSets<{ k: string }>(3);
  const make = (k: string) => () => ({ k: `${k}${++made}` });
  const a = sets.get('p', 'q', 'r', 's', make('a'));
  assert.equal(sets.get('p', 'q', 'r', 's', make('a')), a);
  assert.ok(Object.isFrozen(a));
  assert.notEqual(sets.get('p', 'q', 'r', 't', make('b')), a, 'every level of the key counts');
  assert.notEqual(sets.get('p', 'q', 'x', 's', make('c')), a);
  assert.equal(made, 3);
  sets.get('z', '', '', '', make('d')); // the fourth set: the bound of 3 was reached, so the sets start again
  const again = sets.get('p', 'q', 'r', 's', make('a'));
  assert.notEqual(again, a);
  assert.equal(sets.get('p', 'q', 'r', 's', make('a')), again);
});
