/** Copy bytes both ways between a client and its tunnel, half-close included, and tear both down together. */
import type { Duplex } from 'node:stream';

/**
 * Pipe `a` → `b` and `b` → `a`. When one side ends, the other side's writable is ended (half-close, as ztunnel's
 * copy_bidirectional does); when both directions are done, or either fails, both are destroyed. Resolves then.
 *
 * Two plain `pipe`s with the completion and failure checks `stream.pipeline` made (each side read to its end and
 * written to its finish; a close before that, or an error, is a failure), kept in one set of listeners: two
 * `pipeline`s cost every tunnel four end-of-stream trackers, their closures and a destroyer per stream.
 */
export function splice(a: Duplex, b: Duplex): Promise<void> {
  // The pipes and our checks add to the tunnel's own listeners: more than the default of 10 'close' listeners.
  for (const s of [a, b]) if (s.getMaxListeners() < 32) s.setMaxListeners(32);
  return new Promise((resolve) => {
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      a.destroy();
      b.destroy();
      resolve();
    };
    const bothEnded = (s: Duplex): boolean => s.readableEnded && s.writableFinished;
    const progress = (): void => {
      if (bothEnded(a) && bothEnded(b)) settle();
    };
    // An error on either side, or a close before both of its ends were reached, fails the whole splice.
    const onClose = function (this: Duplex): void {
      if (bothEnded(this)) progress();
      else settle();
    };
    for (const s of [a, b]) {
      s.on('error', settle);
      s.once('close', onClose);
      s.once('end', progress);
      s.once('finish', progress);
    }
    if (a.destroyed || b.destroyed) {
      // Already gone: `pipeline` reported this as a premature close on the next tick.
      process.nextTick(settle);
      return;
    }
    a.pipe(b);
    b.pipe(a);
  });
}
