/**
 * A Duplex in front of a tunnel stream that hands it Buffers only. Node 26's HTTP/2 stream corrupts a string write
 * that has to wait in its queue (the first 16 bytes of the request line arrived as garbage when node's HTTP client
 * wrote its header as a latin1 string and the body later); Writable's `decodeStrings` turns every string into a
 * Buffer before it reaches the HTTP/2 stream.
 */
import { Duplex } from 'node:stream';

export class BufferOnlyStream extends Duplex {
  readonly #inner: Duplex;

  constructor(inner: Duplex) {
    super({ allowHalfOpen: true, decodeStrings: true });
    this.#inner = inner;
    inner.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) inner.pause();
    });
    inner.once('end', () => this.push(null));
    inner.once('error', (err: Error) => this.destroy(err));
    inner.once('close', () => {
      if (!this.destroyed) this.destroy();
    });
    // One forwarder for the stream's life: node's HTTP server re-arms the timeout on every request, and a listener
    // added per call piled up on the HTTP/2 stream (and made each re-arm scan them all).
    inner.on('timeout', () => this.emit('timeout'));
  }

  override _read(): void {
    this.#inner.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#inner.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#inner.end(callback);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#inner.destroy(err ?? undefined);
    callback(err);
  }

  /** node's HTTP client may set an idle timeout on its socket; the tunnel honours it. */
  setTimeout(ms: number, callback?: () => void): this {
    const inner = this.#inner as Duplex & { setTimeout?: (ms: number, cb?: () => void) => unknown };
    // As net.Socket#setTimeout: a callback is added once per call, and removed again by setTimeout(0, callback).
    if (callback !== undefined) {
      if (ms === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    if (typeof inner.setTimeout === 'function') inner.setTimeout(ms);
    return this;
  }
}
