/**
 * Local stand-ins for the seeds' external hosts, for the quickstart: `httpbin.org` (HTTPS, answers `/get` with JSON
 * shaped like httpbin's) and `my-nginx.foo.bar` (mTLS, answers `/subject` with the client certificate's subject, as
 * seed 002's nginx does with `$ssl_client_s_dn`).
 */
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface StandIn {
  readonly server: Server;
  close(): Promise<void>;
}

function listen(server: Server, host: string, port: number): Promise<StandIn> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({
        server,
        close: () =>
          new Promise((res) => {
            server.closeAllConnections();
            server.close(() => res());
          }),
      });
    });
  });
}

/** httpbin.org's `/get`: the request's args, headers, origin and URL as JSON. */
export function startHttpbin(opts: { host: string; port: number; certPem: string; keyPem: string }): Promise<StandIn> {
  const server = createServer({ cert: opts.certPem, key: opts.keyPem }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://httpbin.org');
    if (req.method === 'GET' && url.pathname === '/get') {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers))
        if (typeof v === 'string') headers[k.replace(/(^|-)([a-z])/g, (m) => m.toUpperCase())] = v;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          { args: Object.fromEntries(url.searchParams), headers, origin: req.socket.remoteAddress, url: url.href },
          null,
          2,
        ) + '\n',
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  return listen(server, opts.host, opts.port);
}

/** The subject of a client certificate as nginx's `$ssl_client_s_dn` prints it for a one-RDN subject: `CN=...`. */
export function subjectOf(der: Buffer): string {
  return new X509Certificate(der).subject.split('\n').filter(Boolean).reverse().join(',');
}

/** my-nginx.foo.bar: requires a client certificate signed by `caPem`, answers `/subject`. */
export function startSubjectServer(opts: {
  host: string;
  port: number;
  certPem: string;
  keyPem: string;
  caPem: string;
}): Promise<StandIn> {
  const server = createServer(
    { cert: opts.certPem, key: opts.keyPem, ca: opts.caPem, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const cert = (req.socket as TLSSocket).getPeerCertificate();
      if (req.url === '/subject') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ subject: cert?.raw ? subjectOf(cert.raw) : '' }) + '\n');
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    },
  );
  return listen(server, opts.host, opts.port);
}
