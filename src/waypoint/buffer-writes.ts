/**
 * Hands a tunnel stream Buffers only, without a stream in front of it. Node 26's HTTP/2 stream corrupts a string
 * write that has to wait in its queue (the first 16 bytes arrive as garbage; node's HTTP server writes each response
 * head as a latin1 string), so `write` and `end` of this one stream turn a string into a Buffer before Writable sees
 * it: Writable hands `_write`/`_writev` only what came through those two methods. Unlike a wrapping Duplex this adds
 * no stream layer per tunnel: every chunk in either direction passed through one more Readable/Writable before.
 */
import type { Duplex } from 'node:stream';

type WriteFn = (chunk: unknown, encoding?: unknown, cb?: unknown) => boolean;
type EndFn = (chunk?: unknown, encoding?: unknown, cb?: unknown) => Duplex;

const PATCHED = Symbol('portcullis.buffer-writes');

function toBuffer(chunk: string, encoding: unknown): Buffer {
  return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
}

/** Make every later `write`/`end` of `stream` pass Buffers on; returns the same stream. Idempotent. */
export function buffersOnly<T extends Duplex>(stream: T): T {
  const s = stream as T & { [PATCHED]?: true };
  if (s[PATCHED]) return stream;
  s[PATCHED] = true;
  const write = stream.write as WriteFn;
  const end = stream.end as EndFn;
  const patchedWrite: WriteFn = function (this: Duplex, chunk, encoding, cb) {
    if (typeof chunk !== 'string') return write.call(this, chunk, encoding, cb);
    return write.call(this, toBuffer(chunk, encoding), typeof encoding === 'function' ? encoding : cb);
  };
  const patchedEnd: EndFn = function (this: Duplex, chunk, encoding, cb) {
    if (typeof chunk !== 'string') return end.call(this, chunk, encoding, cb);
    return end.call(this, toBuffer(chunk, encoding), typeof encoding === 'function' ? encoding : cb);
  };
  const target = stream as unknown as { write: WriteFn; end: EndFn };
  target.write = patchedWrite;
  target.end = patchedEnd;
  return stream;
}
