/**
 * Bytes both ways between the HBONE stream and the upstream socket: `stream.pipeline` per direction, so a FIN in
 * one direction ends only that direction (half-close, as ztunnel's copy_bidirectional does), with an idle timeout
 * and byte counts read from the upstream socket's own counters (no per-chunk work on the data path).
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export const DEFAULT_IDLE_TIMEOUT_MS = 60 * 60_000;

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
  // Two pipelines plus the HBONE layer's own listeners exceed the default of 10 'close' listeners; not a leak.
  downstream.setMaxListeners(32);
  let firstEnd: PipeEnd | null = null;
  const mark = (end: PipeEnd): void => {
    if (firstEnd === null) firstEnd = end;
  };
  downstream.on('error', () => mark('downstream'));
  upstream.on('error', () => mark('upstream'));
  // An HTTP/2 stream that closes before its END_STREAM was reset (by the caller, or its session died).
  downstream.once('close', () => {
    if (!downstream.readableEnded) mark('downstream');
  });
  upstream.once('close', (hadError: boolean) => {
    if (hadError || !upstream.readableEnded) mark('upstream');
  });
  if (idleTimeoutMs > 0) {
    // The upstream socket sees every byte of both directions, so its inactivity timer is the tunnel's.
    upstream.setTimeout(idleTimeoutMs, () => {
      mark('idle');
      upstream.destroy();
      downstream.destroy();
    });
  }
  if (head !== undefined && head.length > 0) upstream.write(head);

  const up = pipeline(downstream, upstream);
  const down = pipeline(upstream, downstream);
  const done = Promise.allSettled([up, down]).then(([a, b]): PipeOutcome => {
    if (a.status === 'rejected' || b.status === 'rejected') {
      // One direction failed: nothing more can flow either way.
      upstream.destroy();
      downstream.destroy();
    } else {
      upstream.destroy(); // both directions ended; release the socket now rather than at GC
    }
    return {
      end: firstEnd ?? (a.status === 'fulfilled' && b.status === 'fulfilled' ? 'complete' : 'upstream'),
      bytesReceived: upstream.bytesWritten,
      bytesSent: upstream.bytesRead,
    };
  });
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
