/** Dial checked upstream addresses (L4 and L7): plain TCP, half-open, 10 s per attempt (ztunnel CONNECTION_TIMEOUT). */
import { connect, type Socket } from 'node:net';
import type { UpstreamAddress } from './plan.ts';

export const CONNECT_TIMEOUT_MS = 10_000;

export type DialResult =
  | { readonly ok: true; readonly socket: Socket; readonly address: UpstreamAddress }
  | { readonly ok: false; readonly reason: string; readonly aborted: boolean };

function formatAddress(a: UpstreamAddress): string {
  return a.ip.includes(':') ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`;
}

/**
 * What dialling watches to give up early: an AbortSignal, or anything with its `aborted` and one-shot 'abort'
 * listeners (the HBONE request's `gone`, which needs no AbortController per tunnel).
 */
export interface DialAbort {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { readonly once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

function dialOne(address: UpstreamAddress, timeoutMs: number, signal: DialAbort): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // allowHalfOpen: the upstream's FIN must end only the upstream→caller direction (half-close propagation).
    const socket = connect({ host: address.ip, port: address.port, allowHalfOpen: true, noDelay: true });
    const done = (err: Error | null): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off('connect', onConnect);
      if (err === null) {
        resolve(socket);
        return;
      }
      socket.destroy();
      reject(err);
    };
    const onError = (err: Error): void => done(err);
    const onConnect = (): void => done(null);
    const onAbort = (): void => done(new Error('caller went away while dialling'));
    const timer = setTimeout(() => done(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    socket.once('error', onError);
    socket.once('connect', onConnect);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Try the addresses in order until one connects. Every address here already passed the guard; they are never
 * re-resolved (a second lookup could answer differently: DNS rebinding).
 */
export async function dialFirst(
  addresses: readonly UpstreamAddress[],
  timeoutMs: number,
  signal: DialAbort,
): Promise<DialResult> {
  const failures: string[] = [];
  for (const address of addresses) {
    if (signal.aborted) return { ok: false, reason: 'caller went away while dialling', aborted: true };
    try {
      const socket = await dialOne(address, timeoutMs, signal);
      return { ok: true, socket, address };
    } catch (err) {
      failures.push(`${formatAddress(address)}: ${(err as Error).message}`);
    }
  }
  return { ok: false, reason: `upstream connect failed (${failures.join('; ')})`, aborted: signal.aborted };
}

export { formatAddress };
