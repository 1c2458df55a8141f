/** HTTP/2 keepalive as ztunnel's h2 builders configure it: a PING every interval, dropped if unanswered in time. */
import type { Http2Session } from 'node:http2';

/**
 * Start pinging `session`. When a PING is not answered within `timeoutMs`, `onTimeout` runs (the caller destroys
 * the session). Returns a stop function; timers are unref'd so they never keep the process alive.
 */
export function startKeepalive(
  session: Http2Session,
  intervalMs: number,
  timeoutMs: number,
  onTimeout: () => void,
): () => void {
  if (intervalMs <= 0) return () => {};
  let deadline: NodeJS.Timeout | null = null;
  const interval = setInterval(() => {
    if (deadline !== null || session.destroyed || session.closed) return;
    deadline = setTimeout(() => {
      deadline = null;
      onTimeout();
    }, timeoutMs);
    deadline.unref();
    const settle = (): void => {
      if (deadline !== null) clearTimeout(deadline);
      deadline = null;
    };
    try {
      // The callback also runs with an error when the session closes; either way this PING is settled.
      if (!session.ping(settle)) settle();
    } catch {
      settle();
    }
  }, intervalMs);
  interval.unref();
  return () => {
    clearInterval(interval);
    if (deadline !== null) clearTimeout(deadline);
    deadline = null;
  };
}
