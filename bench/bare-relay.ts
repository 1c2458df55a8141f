/**
 * The floor of Node's own stack, as a child process: a bare HBONE relay with no policy, logs or metrics. It is the
 * reference every Portcullis row is compared with, so a gap between the two is our own code's cost.
 *
 *   node bench/bare-relay.ts l4-gateway CERT KEY ROOT
 *     http2.createSecureServer (TLS 1.3, ALPN h2, client certificate required); each CONNECT stream gets one
 *     net.connect to 127.0.0.1:<authority port>, a 200 and two pipes. Prints `bare gateway listening on PORT`.
 *   node bench/bare-relay.ts l4-agent CERT KEY ROOT GATEWAY_PORT TARGET...
 *     one http2.connect session with the client certificate; one local TCP port per TARGET (host:port), each
 *     accepted socket one CONNECT stream piped both ways. Prints `bare agent PORT -> TARGET` per target.
 *   node bench/bare-relay.ts l7-gateway CERT KEY ROOT UPSTREAM_IP UPSTREAM_PORT CLIENTS_DIR
 *     the same TLS front door; each CONNECT stream is answered 200 and handed to an HTTP/1.1 server as a connection;
 *     every request is forwarded over HTTPS keep-alive with the client certificate CLIENTS_DIR/<sa>.crt (+ .key) mapped from
 *     the caller's SPIFFE ID (one https.Agent per identity: no connection shared by two identities).
 *     Prints `bare l7 gateway listening on PORT`.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';

const [mode, certFile, keyFile, rootFile, ...rest] = process.argv.slice(2);
const cert = readFileSync(certFile, 'utf8');
const key = readFileSync(keyFile, 'utf8');
const ca = readFileSync(rootFile, 'utf8');
process.on('SIGTERM', () => process.exit(0));

function frontDoor(onStream: (stream: http2.ServerHttp2Stream, authority: string) => void): http2.Http2SecureServer {
  const server = http2.createSecureServer({
    cert,
    key,
    ca,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
    ALPNProtocols: ['h2'],
  });
  server.on('stream', (stream: http2.ServerHttp2Stream, headers) => {
    stream.on('error', () => stream.destroy());
    const authority = headers[':authority'];
    if (headers[':method'] !== 'CONNECT' || typeof authority !== 'string') {
      stream.respond({ ':status': 405 }, { endStream: true });
      return;
    }
    onStream(stream, authority);
  });
  return server;
}

function portOf(authority: string): number {
  return Number(authority.slice(authority.lastIndexOf(':') + 1));
}

if (mode === 'l4-gateway') {
  const server = frontDoor((stream, authority) => {
    const upstream = net.connect(portOf(authority), '127.0.0.1');
    upstream.on('error', () => stream.close(http2.constants.NGHTTP2_CONNECT_ERROR));
    upstream.once('connect', () => {
      stream.respond({ ':status': 200 });
      upstream.pipe(stream);
      stream.pipe(upstream);
    });
    stream.on('close', () => upstream.destroy());
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`bare gateway listening on ${(server.address() as net.AddressInfo).port}\n`);
  });
} else if (mode === 'l4-agent') {
  const [gatewayPort, ...targets] = rest;
  const session = http2.connect(`https://127.0.0.1:${gatewayPort}`, {
    cert,
    key,
    ca,
    minVersion: 'TLSv1.3',
    ALPNProtocols: ['h2'],
    rejectUnauthorized: true,
    checkServerIdentity: () => undefined,
  });
  session.on('error', (err) => {
    process.stderr.write(`bare agent session: ${err.message}\n`);
    process.exit(1);
  });
  for (const target of targets) {
    const server = net.createServer((socket) => {
      const stream = session.request({ ':method': 'CONNECT', ':authority': target });
      stream.on('error', () => socket.destroy());
      socket.on('error', () => stream.destroy());
      stream.once('response', (h) => {
        if (h[':status'] !== 200) return socket.destroy();
        socket.pipe(stream);
        stream.pipe(socket);
      });
      socket.on('close', () => stream.destroy());
    });
    server.listen(0, '127.0.0.1', () => {
      process.stdout.write(`bare agent ${(server.address() as net.AddressInfo).port} -> ${target}\n`);
    });
  }
} else if (mode === 'l7-gateway') {
  const [upstreamIp, upstreamPort, clientsDir] = rest;
  const agents = new Map<string, https.Agent>();
  const agentFor = (spiffe: string): https.Agent | undefined => {
    let agent = agents.get(spiffe);
    if (agent === undefined) {
      const sa = spiffe.slice(spiffe.lastIndexOf('/') + 1);
      let pair: { cert: string; key: string };
      try {
        pair = {
          cert: readFileSync(join(clientsDir, `${sa}.crt`), 'utf8'),
          key: readFileSync(join(clientsDir, `${sa}.key`), 'utf8'),
        };
      } catch {
        return undefined;
      }
      agent = new https.Agent({ keepAlive: true, ...pair, ca, servername: 'my-nginx.foo.bar', maxSockets: 64 });
      agents.set(spiffe, agent);
    }
    return agent;
  };
  const identities = new WeakMap<object, string>();
  const inner = http.createServer((req, res) => {
    const spiffe = identities.get(req.socket) ?? '';
    const agent = agentFor(spiffe);
    if (agent === undefined) {
      res.writeHead(403).end();
      return;
    }
    const up = https.request(
      { host: upstreamIp, port: Number(upstreamPort), method: req.method, path: req.url, headers: req.headers, agent },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  const server = frontDoor((stream, _authority) => {
    const peer = (stream.session?.socket as TLSSocket | undefined)?.getPeerCertificate();
    const uri = /URI:(spiffe:\/\/[^,\s]+)/.exec(peer?.subjectaltname ?? '')?.[1] ?? '';
    stream.respond({ ':status': 200 });
    identities.set(stream, uri);
    // node's HTTP server writes its response head as a latin1 string, and Node 26's HTTP/2 stream corrupts a string
    // write that has to wait in its queue: the floor hands the stream Buffers only, as the waypoint must.
    const write = stream.write as (chunk: unknown, enc?: unknown, cb?: unknown) => boolean;
    stream.write = function (this: http2.ServerHttp2Stream, chunk: unknown, enc?: unknown, cb?: unknown): boolean {
      if (typeof chunk !== 'string') return write.call(this, chunk, enc, cb);
      const encoding = typeof enc === 'string' ? (enc as BufferEncoding) : 'utf8';
      return write.call(this, Buffer.from(chunk, encoding), typeof enc === 'function' ? enc : cb);
    } as typeof stream.write;
    inner.emit('connection', stream);
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`bare l7 gateway listening on ${(server.address() as net.AddressInfo).port}\n`);
  });
} else {
  process.stderr.write(`bare-relay: unknown mode ${mode}\n`);
  process.exit(2);
}
