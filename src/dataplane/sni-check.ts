/**
 * The SNI check on TLS and HTTPS ports: read the caller's ClientHello through the tunnel (bounded in size and time,
 * never terminating TLS) and refuse a server name that is not one of the ServiceEntry's hosts, so an allowed
 * address cannot front for another domain.
 */
import type { Readable } from 'node:stream';
import type { ErrorCode } from '../errors/catalogue.ts';
import { hostMatches } from '../mesh/host-match.ts';
import { MAX_CLIENT_HELLO_BYTES, parseClientHello, type ClientHelloInfo } from './client-hello.ts';

/** How long the caller has to send its ClientHello once the tunnel is up. */
export const CLIENT_HELLO_TIMEOUT_MS = 10_000;

/** Ports whose protocol carries TLS from the caller (ServiceEntry `ports[].protocol`). */
export function needsSniCheck(protocol: string | undefined): boolean {
  return protocol === 'TLS' || protocol === 'HTTPS';
}

export type SniVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: ErrorCode; readonly reason: string };

/** Whether a ClientHello may go to a ServiceEntry declaring `hosts` (exact, or `*.suffix` wildcards). Pure. */
export function checkSni(hello: ClientHelloInfo, hosts: readonly string[]): SniVerdict {
  if (hello.ech) {
    return {
      ok: false,
      code: 'PCL_DATAPLANE_SNI_MISSING',
      reason: 'the ClientHello uses Encrypted Client Hello; its real server name cannot be checked',
    };
  }
  if (hello.esni) {
    // Refused like ECH rather than judged by the outer SNI: the server reads the encrypted name, not the visible one.
    return {
      ok: false,
      code: 'PCL_DATAPLANE_SNI_MISSING',
      reason:
        'the ClientHello carries the draft encrypted_server_name extension (ESNI, 0xffce); its real server name cannot be checked',
    };
  }
  if (hello.sni === null)
    return { ok: false, code: 'PCL_DATAPLANE_SNI_MISSING', reason: 'the ClientHello carries no server name (SNI)' };
  const sni = hello.sni;
  if (hosts.some((h) => hostMatches(h, sni))) return { ok: true };
  return {
    ok: false,
    code: 'PCL_DATAPLANE_SNI_MISMATCH',
    reason: `TLS server name "${sni}" is not a host of the destination (${hosts.join(', ')})`,
  };
}

export type HelloRead =
  | { readonly ok: true; readonly hello: ClientHelloInfo; readonly buffered: Buffer }
  | { readonly ok: false; readonly code: ErrorCode; readonly reason: string; readonly ended: boolean };

/**
 * Read from `stream` until a whole ClientHello is in (or it is invalid, too big, too slow, or the stream ends).
 * Leaves the stream paused with no listeners of ours, so it can be piped on; the bytes read are returned.
 */
export function readClientHello(stream: Readable, timeoutMs: number = CLIENT_HELLO_TIMEOUT_MS): Promise<HelloRead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (result: HelloRead): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.pause();
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      const r = parseClientHello(all);
      if (r.status === 'ok') finish({ ok: true, hello: r.hello, buffered: all });
      else if (r.status === 'invalid')
        finish({ ok: false, code: 'PCL_DATAPLANE_CLIENT_HELLO_INVALID', reason: r.reason, ended: false });
      else if (size > MAX_CLIENT_HELLO_BYTES) {
        finish({
          ok: false,
          code: 'PCL_DATAPLANE_CLIENT_HELLO_INVALID',
          reason: `no complete ClientHello in ${size} bytes`,
          ended: false,
        });
      }
    };
    const onEnd = (): void =>
      finish({
        ok: false,
        code: 'PCL_DATAPLANE_CLIENT_HELLO_INVALID',
        reason: `the caller ended the tunnel after ${size} bytes, before a complete ClientHello`,
        ended: true,
      });
    const timer = setTimeout(
      () =>
        finish({
          ok: false,
          code: 'PCL_DATAPLANE_CLIENT_HELLO_INVALID',
          reason: `no complete ClientHello within ${timeoutMs} ms (${size} bytes)`,
          ended: false,
        }),
      timeoutMs,
    );
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
  });
}
