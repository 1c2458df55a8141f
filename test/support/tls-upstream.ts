/** A local TLS server standing in for an external HTTPS host (httpbin.org): answers GET /get with JSON. */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IssuedCertificate } from '../../src/identity/ca.ts';

export interface TlsUpstream {
  readonly port: number;
  /** Server names seen in ClientHellos that completed a handshake. */
  readonly servernames: string[];
  close(): Promise<void>;
}

export async function startTlsUpstream(cert: IssuedCertificate, host = '127.0.0.1', port = 0): Promise<TlsUpstream> {
  const servernames: string[] = [];
  const server: Server = createServer({ cert: cert.certChainPem, key: cert.keyPem }, (req, res) => {
    if (req.method === 'GET' && req.url === '/get') {
      const body = JSON.stringify({ url: `https://${req.headers.host}/get`, headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    res.writeHead(404).end();
  });
  server.on('secureConnection', (s) => servernames.push((s as { servername?: string | false }).servername || ''));
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    servernames,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
