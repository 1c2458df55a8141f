/**
 * Log lines gathered into one string per batch before they reach the writer. sonic-boom (pino's file writer) measures
 * the UTF-8 length of everything it holds on every write, so feeding it lines one by one costs O(batch) per line (at
 * 32 KiB batches, more than formatting the line); handed one flat string per batch, it measures it once.
 */

/** Where batches go: sonic-boom, or any writable stream. */
export interface LineSink {
  write(chunk: string): unknown;
}

export class LineBatcher {
  readonly #sink: LineSink;
  readonly #batchChars: number;
  #parts: string[] = [];
  #chars = 0;

  /** Lines are handed to `sink` once `batchChars` UTF-16 units are waiting (or on `drain`). */
  constructor(sink: LineSink, batchChars: number) {
    this.#sink = sink;
    this.#batchChars = batchChars;
  }

  /** Take one or more whole lines (pino calls this with each line it formats). */
  write(lines: string): boolean {
    this.#parts.push(lines);
    this.#chars += lines.length;
    if (this.#chars >= this.#batchChars) this.drain();
    return true;
  }

  /** Whether lines are waiting. */
  get pending(): boolean {
    return this.#parts.length > 0;
  }

  /** Hand what is waiting to the sink now, as one string. */
  drain(): void {
    const parts = this.#parts;
    if (parts.length === 0) return;
    this.#parts = [];
    this.#chars = 0;
    this.#sink.write(parts.length === 1 ? parts[0] : parts.join(''));
  }
}
