/** Copy bytes both ways between a client and its tunnel, half-close included, and tear both down together. */
import { pipeline, type Duplex } from 'node:stream';

/**
 * Pipe `a` → `b` and `b` → `a`. When one side ends, the other side's writable is ended (half-close, as ztunnel's
 * copy_bidirectional does); when both directions are done, or either fails, both are destroyed. Resolves then.
 */
export function splice(a: Duplex, b: Duplex): Promise<void> {
  // Two pipelines each watch both streams, on top of the tunnel's own listeners: more than the default 10.
  for (const s of [a, b]) if (s.getMaxListeners() < 32) s.setMaxListeners(32);
  return new Promise((resolve) => {
    let open = 2;
    const done = (err?: Error | null): void => {
      if (err) {
        a.destroy();
        b.destroy();
      }
      if (--open === 0) {
        a.destroy();
        b.destroy();
        resolve();
      }
    };
    pipeline(a, b, done);
    pipeline(b, a, done);
  });
}
