/** Minimal proxy clients for the agent's tests: raw HTTP CONNECT, SOCKS5, and a raw exchange that reads to close. */
import * as net from 'node:net';

/** Connect, write `data`, and collect everything until the agent closes the connection. */
export function exchange(port: number, data: string | Buffer, opts: { end?: boolean } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.write(data);
      if (opts.end) s.end();
    });
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', (err: Error & { code?: string }) => (err.code === 'ECONNRESET' ? undefined : reject(err)));
    s.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

/** Read from `s` until `pred(buffer)` holds; resolves with the bytes read so far. */
export function readUntil(s: net.Socket, pred: (b: Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer): void => {
      buf = Buffer.concat([buf, c]);
      if (pred(buf)) {
        cleanup();
        resolve(buf);
      }
    };
    const onEnd = (): void => {
      cleanup();
      resolve(buf);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const cleanup = (): void => {
      s.off('data', onData);
      s.off('close', onEnd);
      s.off('error', onError);
    };
    s.on('data', onData);
    s.on('close', onEnd);
    s.on('error', onError);
  });
}

export function connectTo(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

export interface HttpHead {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly rest: Buffer;
}

export function parseHead(buf: Buffer): HttpHead | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...lines] = buf.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, rest: buf.subarray(end + 4) };
}

/** CONNECT through the agent; on 200 the socket is the tunnel. On a refusal, the body is read to the close. */
export async function httpConnect(
  port: number,
  target: string,
): Promise<{ head: HttpHead; socket: net.Socket; body: string }> {
  const s = await connectTo(port);
  s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  const buf = await readUntil(s, (b) => parseHead(b) !== null);
  const head = parseHead(buf);
  if (head === null) throw new Error(`no HTTP response to CONNECT (got ${JSON.stringify(buf.toString('latin1'))})`);
  if (head.status === 200) return { head, socket: s, body: '' };
  const rest = await readUntil(s, () => false);
  return { head, socket: s, body: Buffer.concat([head.rest, rest]).toString('utf8') };
}

/** Send bytes through an open tunnel and read back the same number of bytes (the far end echoes). */
export async function echoThrough(s: net.Socket, text: string): Promise<string> {
  const reading = readUntil(s, (b) => b.length >= Buffer.byteLength(text));
  s.write(text);
  return (await reading).toString('utf8');
}

export type SocksAddress = { domain: string } | { ipv4: string } | { ipv6: Buffer };

export function socksRequest(addr: SocksAddress, port: number, cmd = 0x01): Buffer {
  let a: Buffer;
  if ('domain' in addr)
    a = Buffer.concat([Buffer.from([0x03, addr.domain.length]), Buffer.from(addr.domain, 'latin1')]);
  else if ('ipv4' in addr) a = Buffer.from([0x01, ...addr.ipv4.split('.').map(Number)]);
  else a = Buffer.concat([Buffer.from([0x04]), addr.ipv6]);
  const p = Buffer.alloc(2);
  p.writeUInt16BE(port);
  return Buffer.concat([Buffer.from([0x05, cmd, 0x00]), a, p]);
}

/** SOCKS5 no-auth + CONNECT; resolves with the reply code and the socket (the tunnel when the code is 0). */
export async function socks5Connect(
  port: number,
  addr: SocksAddress,
  dstPort: number,
): Promise<{ reply: number; socket: net.Socket }> {
  const s = await connectTo(port);
  s.write(Buffer.from([0x05, 0x01, 0x00]));
  const method = await readUntil(s, (b) => b.length >= 2);
  if (method[0] !== 0x05 || method[1] !== 0x00)
    throw new Error(`SOCKS5 method selection failed: ${method.toString('hex')}`);
  s.write(socksRequest(addr, dstPort));
  const reply = await readUntil(s, (b) => b.length >= 10);
  if (reply.length < 10) throw new Error(`short SOCKS5 reply: ${reply.toString('hex')}`);
  return { reply: reply[1], socket: s };
}
