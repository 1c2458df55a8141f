/**
 * The L7 bench's external side as its own process (so its CPU is not the bench client's): seed 002's
 * my-nginx.foo.bar (mTLS, answers `/subject` with the client certificate's subject, as nginx's `$ssl_client_s_dn`;
 * the subject is read once per connection, as nginx does) and the DNS server only the gateway asks.
 * argv: host port cert.pem key.pem ca.pem. Prints its addresses once listening; SIGUSR2 prints the handshake count.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { startDnsServer } from '../src/devtools/dns-server.ts';
import { subjectOf } from '../src/devtools/stand-ins.ts';

const [host, port, cert, key, ca] = process.argv.slice(2);
const subjects = new WeakMap<TLSSocket, string>();
let handshakes = 0;
const server = createServer(
  {
    cert: readFileSync(cert, 'utf8'),
    key: readFileSync(key, 'utf8'),
    ca: readFileSync(ca, 'utf8'),
    requestCert: true,
    rejectUnauthorized: true,
    keepAliveTimeout: 60_000,
  },
  (req, res) => {
    const socket = req.socket as TLSSocket;
    let subject = subjects.get(socket);
    if (subject === undefined) {
      const raw = socket.getPeerCertificate().raw;
      subject = raw ? subjectOf(raw) : '';
      subjects.set(socket, subject);
    }
    const body = req.url === '/subject' ? `${JSON.stringify({ subject })}\n` : 'not found\n';
    res.writeHead(req.url === '/subject' ? 200 : 404, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  },
);
server.on('secureConnection', () => handshakes++);
process.on('SIGUSR2', () => process.stdout.write(`handshakes ${handshakes}\n`));
process.on('SIGTERM', () => process.exit(0));
server.once('error', (err: NodeJS.ErrnoException) => {
  process.stdout.write(`subject server failed: ${err.code ?? err.message}\n`);
  process.exit(2);
});
server.listen(Number(port), host, async () => {
  const dns = await startDnsServer({ 'my-nginx.foo.bar': [host] });
  process.stdout.write(`subject server listening on ${host}:${port}, dns on 127.0.0.1:${dns.address.port}\n`);
});
