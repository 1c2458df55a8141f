/** Lines reach the sink whole, in order, one string per batch; nothing waits past `drain`. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineBatcher } from './line-batcher.ts';

test('lines are handed on in order, one string per batch once the batch size is reached, the rest on drain', () => {
  const writes: string[] = [];
  const b = new LineBatcher({ write: (s) => writes.push(s) }, 10);
  b.write('aaaa\n');
  assert.deepEqual(writes, [], 'under the batch size, nothing is written yet');
  assert.equal(b.pending, true);
  b.write('bbbb\n');
  assert.deepEqual(writes, ['aaaa\nbbbb\n'], 'one write for the whole batch');
  b.write('é✓\n');
  b.drain();
  assert.deepEqual(writes, ['aaaa\nbbbb\n', 'é✓\n']);
  assert.equal(b.pending, false);
  b.drain();
  assert.equal(writes.length, 2, 'draining nothing writes nothing');
});
