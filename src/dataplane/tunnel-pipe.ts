/**
 * Bytes both ways between the HBONE stream and the upstream socket: a FIN in one direction ends only that direction
 * (half-close, as ztunnel's copy_bidirectional does), with an idle timeout and byte counts read from the upstream
 * socket's own counters (no per-chunk work on the data path beyond the write).
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { idleSweeper, type IdleSweeper, type IdleWatched } from './idle-sweep.ts';

/** How the pipe ended: normally (both directions ended), a side failed or reset, idle, or closed from outside. */
export type PipeEnd = 'complete' | 'downstream' | 'upstream' | 'idle' | 'external';

export interface PipeOutcome {
  readonly end: PipeEnd;
  /** Bytes from the caller to the upstream (including bytes read ahead, e.g. the ClientHello). */
  readonly bytesReceived: number;
  /** Bytes from the upstream to the caller. */
  readonly bytesSent: number;
}

export interface TunnelPipe {
  /** Settles once both sides are done with; made on first use (`onDone` of pipeTunnel needs no promise). */
  readonly done: Promise<PipeOutcome>;
  /**
   * Tear both sides down now (policy change, shutdown); `done` resolves with end `external`. `closeDownstream`
   * replaces the default `destroy()` of the caller's stream (the HBONE layer resets it with a reason).
   */
  destroy(closeDownstream?: () => void): void;
}

export interface PipeOptions {
  /** Caller bytes already read (they go upstream first). */
  readonly head?: Buffer;
  /** Called once with the outcome (instead of, or as well as, awaiting `done`). */
  readonly onDone?: (outcome: PipeOutcome) => void;
  /** The idle sweeper to register with (tests pass their own); default the process's. */
  readonly sweeper?: IdleSweeper;
}

/**
 * The pipe's state, hung on both ends under a symbol: every listener is one shared function that finds it there,
 * so an idle tunnel holds this object and no closures (two `Readable.pipe`s hold some twenty, plus a Timeout for
 * the idle timer; at 10,000 idle tunnels that was a few KiB each).
 */
const PIPE = Symbol('tunnel pipe');

type Piped<T> = T & { [PIPE]: Pipe };

class Pipe implements TunnelPipe, IdleWatched {
  readonly down: Piped<Duplex>;
  readonly up: Piped<Socket>;
  readonly idleTimeoutMs: number;
  readonly #sweeper: IdleSweeper;
  readonly #onDone: ((outcome: PipeOutcome) => void) | undefined;
  active = false;
  idleSince = 0;
  firstEnd: PipeEnd | null = null;
  #outcome: PipeOutcome | null = null;
  #done: Promise<PipeOutcome> | null = null;
  #resolve: ((outcome: PipeOutcome) => void) | null = null;

  constructor(
    down: Duplex,
    up: Socket,
    idleTimeoutMs: number,
    sweeper: IdleSweeper,
    onDone?: (o: PipeOutcome) => void,
  ) {
    this.down = down as Piped<Duplex>;
    this.up = up as Piped<Socket>;
    this.idleTimeoutMs = idleTimeoutMs;
    this.#sweeper = sweeper;
    this.#onDone = onDone;
  }

  get done(): Promise<PipeOutcome> {
    if (this.#done === null) {
      const outcome = this.#outcome;
      this.#done =
        outcome !== null ? Promise.resolve(outcome) : new Promise<PipeOutcome>((resolve) => (this.#resolve = resolve));
    }
    return this.#done;
  }

  mark(end: PipeEnd): void {
    if (this.firstEnd === null) this.firstEnd = end;
  }

  /** As `Promise.allSettled` of two `stream.pipeline`s did: on any failure both sides go; on success the socket goes. */
  settle(ok: boolean): void {
    if (this.#outcome !== null) return;
    this.#sweeper.unwatch(this);
    this.up.destroy(); // both directions ended (or one failed): release the socket now rather than at GC
    if (!ok) this.down.destroy();
    const outcome: PipeOutcome = {
      end: this.firstEnd ?? (ok ? 'complete' : 'upstream'),
      bytesReceived: this.up.bytesWritten,
      bytesSent: this.up.bytesRead,
    };
    this.#outcome = outcome;
    this.#resolve?.(outcome);
    this.#onDone?.(outcome);
  }

  progress(): void {
    if (bothEnded(this.down) && bothEnded(this.up)) this.settle(true);
  }

  idle(): void {
    this.mark('idle');
    this.up.destroy();
    this.down.destroy();
  }

  destroy(closeDownstream?: () => void): void {
    this.mark('external');
    // closeDownstream is the HBONE tunnel's close(), which makes sure the RST_STREAM reaches the caller.
    if (closeDownstream) closeDownstream();
    else this.down.destroy();
    this.up.destroy();
  }
}

function bothEnded(s: Duplex): boolean {
  return s.readableEnded && s.writableFinished;
}

// ---- the shared listeners: `this` is the emitting end, its pipe is under PIPE ----

function downData(this: Piped<Duplex>, chunk: Buffer): void {
  const p = this[PIPE];
  p.active = true;
  if (!p.up.write(chunk)) this.pause();
}
function upData(this: Piped<Socket>, chunk: Buffer): void {
  const p = this[PIPE];
  p.active = true;
  if (!p.down.write(chunk)) this.pause();
}
/** The other side took what was queued: let this side's source flow again. */
function upDrain(this: Piped<Socket>): void {
  this[PIPE].down.resume();
}
function downDrain(this: Piped<Duplex>): void {
  this[PIPE].up.resume();
}
/** A FIN one way ends only that direction (the other side's writable end), as `pipe` does with `end: true`. */
function downEnd(this: Piped<Duplex>): void {
  const p = this[PIPE];
  p.up.end();
  p.progress();
}
function upEnd(this: Piped<Socket>): void {
  const p = this[PIPE];
  p.down.end();
  p.progress();
}
function finished(this: Piped<Duplex>): void {
  this[PIPE].progress();
}
function downError(this: Piped<Duplex>): void {
  const p = this[PIPE];
  p.mark('downstream');
  p.settle(false);
}
function upError(this: Piped<Socket>): void {
  const p = this[PIPE];
  p.mark('upstream');
  p.settle(false);
}
/** An HTTP/2 stream that closes before its END_STREAM was reset (by the caller, or its session died). */
function downClose(this: Piped<Duplex>): void {
  const p = this[PIPE];
  if (!this.readableEnded) p.mark('downstream');
  if (!bothEnded(this)) p.settle(false);
  else p.progress();
}
function upClose(this: Piped<Socket>, hadError: boolean): void {
  const p = this[PIPE];
  if (hadError || !this.readableEnded) p.mark('upstream');
  if (!bothEnded(this)) p.settle(false);
  else p.progress();
}

type Listener = (this: never, ...args: never[]) => void;

/**
 * Each side's listeners: failure and completion at once, the byte flow once it may start. 'close', 'end' and
 * 'finish' are emitted once each, so plain `on` (no once-wrapper per listener).
 */
const DOWN_WATCH: readonly (readonly [string, Listener])[] = [
  ['error', downError],
  ['close', downClose],
  ['finish', finished],
];
const UP_WATCH: readonly (readonly [string, Listener])[] = [
  ['error', upError],
  ['close', upClose],
  ['finish', finished],
];
const DOWN_FLOW: readonly (readonly [string, Listener])[] = [
  ['end', downEnd],
  ['drain', downDrain],
  ['data', downData],
];
const UP_FLOW: readonly (readonly [string, Listener])[] = [
  ['end', upEnd],
  ['drain', upDrain],
  ['data', upData],
];

function listen(side: Duplex, listeners: readonly (readonly [string, Listener])[]): void {
  for (const [event, fn] of listeners) side.on(event, fn as (...args: unknown[]) => void);
}

/**
 * Start piping. The upstream socket must have been created with `allowHalfOpen: true`. `idleTimeoutMs` (0 = never)
 * closes the tunnel when no byte moved either way for that long.
 */
export function pipeTunnel(
  downstream: Duplex,
  upstream: Socket,
  idleTimeoutMs: number,
  options: PipeOptions = {},
): TunnelPipe {
  const p = new Pipe(downstream, upstream, idleTimeoutMs, options.sweeper ?? idleSweeper, options.onDone);
  const down = p.down;
  const up = p.up;
  down[PIPE] = p;
  up[PIPE] = p;
  listen(down, DOWN_WATCH);
  listen(up, UP_WATCH);
  if (down.destroyed || up.destroyed) {
    // Already gone: `pipeline` reported this as a premature close on the next tick.
    process.nextTick(() => {
      p.mark(down.destroyed ? 'downstream' : 'upstream');
      p.settle(false);
    });
    return p;
  }
  const head = options.head;
  if (head !== undefined && head.length > 0) up.write(head);
  listen(down, DOWN_FLOW);
  listen(up, UP_FLOW);
  // A 'data' listener does not restart a stream paused on purpose (the ClientHello read leaves it paused).
  down.resume();
  up.resume();
  // A side that already ended (its 'end' came before these listeners) ends its direction now, as `pipe` does.
  if (down.readableEnded) process.nextTick(() => downEnd.call(down));
  if (up.readableEnded) process.nextTick(() => upEnd.call(up));
  (options.sweeper ?? idleSweeper).watch(p);
  return p;
}
