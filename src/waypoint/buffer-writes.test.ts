/** buffersOnly: the stream below sees Buffers only, whichever way a string was written. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Duplex } from 'node:stream';
import { test } from 'node:test';
import { buffersOnly } from './buffer-writes.ts';

/** A Duplex that, like node's HTTP/2 stream, does not decode strings itself, and records what reaches it. */
function recorder(): { stream: Duplex; seen: unknown[]; ended: Promise<void> } {
  const seen: unknown[] = [];
  let done!: () => void;
  const ended = new Promise<void>((resolve) => (done = resolve));
  const stream = new Duplex({
    decodeStrings: false,
    read() {},
    write(chunk, _encoding, cb) {
      seen.push(chunk);
      cb();
    },
    writev(chunks, cb) {
      for (const c of chunks) seen.push(c.chunk);
      cb();
    },
    final(cb) {
      done();
      cb();
    },
  });
  return { stream, seen, ended };
}

test('strings written, corked or ended reach the stream as Buffers with their bytes', async () => {
  const { stream, seen, ended } = recorder();
  assert.equal(buffersOnly(stream), stream);
  buffersOnly(stream); // idempotent: patched once
  let called = 0;
  stream.write('HTTP/1.1 200 OK\r\n', 'latin1', () => called++);
  stream.write('é', () => called++);
  stream.cork();
  stream.write('a\xff', 'latin1');
  stream.write(Buffer.from('b'));
  stream.uncork();
  stream.end('last');
  await ended;
  await once(stream, 'finish');
  assert.equal(called, 2, 'callbacks given in either position still run');
  assert.ok(
    seen.every((c) => Buffer.isBuffer(c)),
    `non-Buffer chunk reached the stream: ${seen.map((c) => typeof c)}`,
  );
  assert.deepEqual(
    Buffer.concat(seen as Buffer[]),
    Buffer.concat([
      Buffer.from('HTTP/1.1 200 OK\r\n', 'latin1'),
      Buffer.from('é'),
      Buffer.from('a\xff', 'latin1'),
      Buffer.from('blast'),
    ]),
  );
});

test('without it, the same stream is handed strings (the case the patch exists for)', () => {
  const { stream, seen } = recorder();
  stream.write('x', 'latin1');
  assert.equal(typeof seen[0], 'string');
});
