/**
 * A mesh workload calling out through the gateway: the project's HBONE client holding a workload certificate, then
 * (for TLS destinations) a real TLS handshake through the tunnel and an HTTP/1.1 GET, as the application would.
 */
import * as tls from 'node:tls';
import type { IssuedCertificate } from '../../src/identity/ca.ts';
import { HboneClient, HboneStatusError, type HboneTunnel } from '../../src/hbone/client.ts';

export interface Caller {
  /** Open a tunnel; resolves with the tunnel, or the refusal status and reason. */
  connect(
    authority: string,
  ): Promise<{ ok: true; tunnel: HboneTunnel } | { ok: false; status: number; reason: string }>;
  close(): void;
}

export function caller(
  cert: IssuedCertificate,
  gateway: { host: string; port: number },
  gatewayIdentity: string,
): Caller {
  const client = new HboneClient({
    certificates: cert,
    gateway,
    expectedSans: [gatewayIdentity],
    keepaliveIntervalMs: 0,
  });
  return {
    async connect(authority) {
      try {
        return { ok: true, tunnel: await client.connect(authority) };
      } catch (err) {
        if (err instanceof HboneStatusError) return { ok: false, status: err.status, reason: err.reason ?? '' };
        throw err;
      }
    },
    close: () => client.destroy(),
  };
}

/** TLS through a tunnel with `servername`, verified against `ca`; resolves with the socket once the handshake is done. */
export function tlsOver(tunnel: HboneTunnel, servername: string, ca: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ socket: tunnel.stream, servername, ca, ALPNProtocols: ['http/1.1'] });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('TLS connection closed before the handshake completed')));
  });
}

/** One HTTP/1.1 GET over an established TLS socket; resolves with the status line and body. */
export function httpGet(socket: tls.TLSSocket, host: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (data += d));
    socket.once('error', reject);
    socket.once('end', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      resolve({ status, body: data.slice(data.indexOf('\r\n\r\n') + 4) });
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  });
}
