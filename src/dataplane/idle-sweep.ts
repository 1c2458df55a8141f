/**
 * Idle timeouts for many tunnels on one coarse timer: each watched tunnel has a flag its data path sets on every
 * chunk, and a sweep every tick clears the flags and closes what stayed unflagged for its whole timeout. One timer
 * for all tunnels instead of a socket timer per tunnel (whose Timeout object each idle tunnel holds, and re-arms on
 * every chunk). A tunnel is never closed early: it closes between its timeout and its timeout plus one tick.
 */

/** What the sweeper watches; the data path sets `active` whenever a byte moves either way. */
export interface IdleWatched {
  active: boolean;
  /** Set by the sweeper: when the tunnel was last seen active (performance.now() milliseconds). */
  idleSince: number;
  readonly idleTimeoutMs: number;
  /** Called once, when no byte moved for `idleTimeoutMs`; the entry is no longer watched. */
  idle(): void;
}

/** The sweep period for a timeout: an eighth of it, between 10 ms and 1 s (a 10-minute timeout is swept each second). */
export function tickFor(idleTimeoutMs: number): number {
  return Math.min(1000, Math.max(10, Math.floor(idleTimeoutMs / 8)));
}

export class IdleSweeper {
  readonly #entries = new Set<IdleWatched>();
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  #tickMs = Number.POSITIVE_INFINITY;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** Start watching (a timeout of 0 or less means never: nothing is watched). */
  watch(entry: IdleWatched): void {
    if (entry.idleTimeoutMs <= 0) return;
    entry.idleSince = this.#now();
    this.#entries.add(entry);
    const tick = tickFor(entry.idleTimeoutMs);
    if (this.#timer === null || tick < this.#tickMs) this.#arm(tick);
  }

  unwatch(entry: IdleWatched): void {
    this.#entries.delete(entry);
    if (this.#entries.size === 0 && this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  /** One sweep now (the timer calls it; tests call it with their own clock). */
  sweep(): void {
    const now = this.#now();
    let shortest = Number.POSITIVE_INFINITY;
    const expired: IdleWatched[] = [];
    for (const e of this.#entries) {
      if (e.active) {
        e.active = false;
        e.idleSince = now;
      } else if (now - e.idleSince >= e.idleTimeoutMs) {
        expired.push(e);
        continue;
      }
      if (e.idleTimeoutMs < shortest) shortest = e.idleTimeoutMs;
    }
    for (const e of expired) {
      this.#entries.delete(e);
      e.idle();
    }
    if (this.#entries.size === 0) {
      if (this.#timer !== null) clearTimeout(this.#timer);
      this.#timer = null;
      this.#tickMs = Number.POSITIVE_INFINITY;
      return;
    }
    // The tick follows the shortest timeout still watched (it grows back once short-timeout tunnels are gone).
    this.#arm(tickFor(shortest));
  }

  #arm(tickMs: number): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#tickMs = tickMs;
    this.#timer = setTimeout(() => this.sweep(), tickMs);
    this.#timer.unref();
  }
}

/** The process's sweeper: every gateway in the process shares it (each tunnel carries its own timeout). */
export const idleSweeper = new IdleSweeper();
