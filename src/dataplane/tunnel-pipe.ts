/**
 * Bytes both ways between the HBONE stream and the upstream socket: `pipe` per direction, so a FIN in
 * one direction ends only that direction (half-close, as ztunnel's copy_bidirectional does), with an idle timeout
 * and byte counts read from the upstream socket's own counters (no per-chunk work on the data path).
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

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
  readonly done: Promise<PipeOutcome>;
  /**
   * Tear both sides down now (policy change, shutdown); `done` resolves with end `external`. `closeDownstream`
   * replaces the default `destroy()` of the caller's stream (the HBONE layer resets it with a reason).
   */
  destroy(closeDownstream?: () => void): void;
}

/**
 * Start piping. `head` holds caller bytes already read (they go upstream first). The upstream socket must have been
 * created with `allowHalfOpen: true`.
 */
export function pipeTunnel(downstream: Duplex, upstream: Socket, idleTimeoutMs: number, head?: Buffer): TunnelPipe {
  // Two pipes plus the HBONE layer's own listeners exceed the default of 10 'close' listeners; not a leak.
  downstream.setMaxListeners(32);
  let firstEnd: PipeEnd | null = null;
  const mark = (end: PipeEnd): void => {
    if (firstEnd === null) firstEnd = end;
  };
  let settled = false;
  let resolveDone!: (outcome: PipeOutcome) => void;
  const done = new Promise<PipeOutcome>((resolve) => {
    resolveDone = resolve;
  });
  /** As `Promise.allSettled` of two `stream.pipeline`s did: on any failure both sides go; on success the socket goes. */
  const settle = (ok: boolean): void => {
    if (settled) return;
    settled = true;
    upstream.destroy(); // both directions ended (or one failed): release the socket now rather than at GC
    if (!ok) downstream.destroy();
    resolveDone({
      end: firstEnd ?? (ok ? 'complete' : 'upstream'),
      bytesReceived: upstream.bytesWritten,
      bytesSent: upstream.bytesRead,
    });
  };
  // Plain `pipe` per direction (what `pipeline` runs underneath) with the completion and failure checks done here:
  // two `pipeline`s cost each idle tunnel an AbortController, four end-of-stream trackers and their closures.
  const bothEnded = (s: Duplex): boolean => s.readableEnded && s.writableFinished;
  const progress = (): void => {
    if (bothEnded(downstream) && bothEnded(upstream)) settle(true);
  };
  downstream.on('error', () => {
    mark('downstream');
    settle(false);
  });
  upstream.on('error', () => {
    mark('upstream');
    settle(false);
  });
  // An HTTP/2 stream that closes before its END_STREAM was reset (by the caller, or its session died).
  downstream.once('close', () => {
    if (!downstream.readableEnded) mark('downstream');
    if (!bothEnded(downstream)) settle(false);
    else progress();
  });
  upstream.once('close', (hadError: boolean) => {
    if (hadError || !upstream.readableEnded) mark('upstream');
    if (!bothEnded(upstream)) settle(false);
    else progress();
  });
  downstream.once('end', progress);
  downstream.once('finish', progress);
  upstream.once('end', progress);
  upstream.once('finish', progress);
  if (idleTimeoutMs > 0) {
    // The upstream socket sees every byte of both directions, so its inactivity timer is the tunnel's.
    upstream.setTimeout(idleTimeoutMs, () => {
      mark('idle');
      upstream.destroy();
      downstream.destroy();
    });
  }
  if (downstream.destroyed || upstream.destroyed) {
    // Already gone: `pipeline` reported this as a premature close on the next tick.
    process.nextTick(() => {
      mark(downstream.destroyed ? 'downstream' : 'upstream');
      settle(false);
    });
  } else {
    if (head !== undefined && head.length > 0) upstream.write(head);
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  }
  return {
    done,
    destroy(closeDownstream?: () => void): void {
      mark('external');
      // closeDownstream is the HBONE tunnel's close(), which makes sure the RST_STREAM reaches the caller.
      if (closeDownstream) closeDownstream();
      else downstream.destroy();
      upstream.destroy();
    },
  };
}
