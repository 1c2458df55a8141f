/**
 * The HTTP side of a proxy port: `CONNECT host:port` (HTTPS_PROXY) and absolute-form requests
 * (`GET http://host/path`, HTTP_PROXY). Node's HTTP parser reads the client (16 KiB header cap → 431, malformed → 400);
 * absolute-form requests are sent in origin-form through one tunnel per distinct authority per client connection,
 * kept alive while the client's connection is.
 */
import * as http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { formatAuthority, parseAuthority } from '../net/authority.ts';
import { BufferOnlyStream } from '../hbone/buffer-only-stream.ts';
import { clientOf, type ProxyContext } from './proxy-context.ts';
import { rawRefusalResponse, refusalResponse, type Refusal } from './refusal.ts';
import type { AgentTarget } from './route.ts';
import { splice } from './splice.ts';

/** Request header cap (ztunnel's client max_header_list_size is the same 16 KiB). */
export const MAX_HEADER_BYTES = 16 * 1024;

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus the proxy-only ones; never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

/** An Error carrying the refusal, so the HTTP client's 'error' event can answer in the refusal's words. */
class RefusalError extends Error {
  readonly refusal: Refusal;
  constructor(refusal: Refusal) {
    super(refusal.reason);
    this.refusal = refusal;
  }
}

/** Parse a CONNECT target (`host:port`, `[v6]:port`); the reason says what is wrong. */
export function parseConnectTarget(text: string): { ok: true; target: AgentTarget } | { ok: false; reason: string } {
  const parsed = parseAuthority(text);
  if (!parsed.ok) return { ok: false, reason: parsed.reason.replace(/^malformed :authority/, 'bad CONNECT target') };
  const { host, port, isIp } = parsed.authority;
  return { ok: true, target: { host, port, isIp } };
}

/**
 * Tunnels for one client connection, one per authority: node's Agent keeps them alive between requests. The
 * tunnel is an HTTP/2 stream or a socket, so the socket-only keep-alive calls are skipped.
 */
class TunnelAgent extends http.Agent {
  readonly #open: (target: AgentTarget) => Promise<Duplex>;

  constructor(open: (target: AgentTarget) => Promise<Duplex>) {
    super({ keepAlive: true, maxSockets: 1 });
    this.#open = open;
  }

  override createConnection(
    options: http.ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): undefined {
    const host = String(options.host ?? '').replace(/^\[(.*)\]$/, '$1');
    const parsed = parseConnectTarget(formatAuthority(host, Number(options.port)));
    if (!parsed.ok) {
      callback?.(
        new RefusalError({ kind: 'badRequest', code: 'PCL_AGENT_BAD_REQUEST', reason: parsed.reason }),
        undefined as unknown as Duplex,
      );
      return undefined;
    }
    this.#open(parsed.target).then(
      (stream) => callback?.(null, stream),
      (err: Error) => callback?.(err, undefined as unknown as Duplex),
    );
    return undefined;
  }

  override keepSocketAlive(): boolean {
    return true;
  }

  override reuseSocket(): void {}
}

export function createHttpProxy(ctx: ProxyContext): http.Server {
  const server = http.createServer({
    maxHeaderSize: MAX_HEADER_BYTES,
    // Absolute-form requests carry the host in the URL; HTTP/1.0 clients may send no Host at all.
    requireHostHeader: false,
    // A proxied upload may take as long as it takes; the header deadline still bounds slow-header clients.
    requestTimeout: 0,
  });
  const agents = new WeakMap<Socket, TunnelAgent>();

  // A request head arrived: the proxy handshake is done. (Node's own headersTimeout is checked only by a server
  // that listens; this one is handed its sockets, so the deadline is the ProxyContext's.)
  server.on('connect', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    ctx.handshakeDone(socket);
    void onConnect(ctx, req, socket as Socket, head);
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    ctx.handshakeDone(req.socket);
    onRequest(ctx, agents, req, res);
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
    const refusal: Refusal = {
      kind: 'badRequest',
      code: 'PCL_AGENT_BAD_REQUEST',
      reason: 'protocol upgrades through HTTP_PROXY are not supported; use CONNECT',
    };
    ctx.refused('http', clientOf(socket as Socket), req.url ?? null, refusal);
    socket.end(rawRefusalResponse(refusal, `${req.method} ${req.url}`));
  });
  server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => {
    const client = clientOf(socket as Socket);
    if (err.code === 'ECONNRESET' || !socket.writable) {
      ctx.refused('http', client, null, {
        kind: 'gateway',
        code: 'PCL_AGENT_CLIENT_ABORTED',
        reason: `the client went away mid-request (${err.code ?? err.message})`,
      });
      socket.destroy();
      return;
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const refusal: Refusal = tooLarge
      ? {
          kind: 'badRequest',
          code: 'PCL_AGENT_HEADERS_TOO_LARGE',
          reason: `request headers exceed ${MAX_HEADER_BYTES} bytes`,
        }
      : {
          kind: 'badRequest',
          code: 'PCL_AGENT_BAD_REQUEST',
          reason: `malformed HTTP request (${err.code ?? 'parse error'}: ${err.message})`,
        };
    ctx.refused('http', client, null, refusal);
    socket.end(rawRefusalResponse(refusal, 'the request'));
  });
  return server;
}

async function onConnect(ctx: ProxyContext, req: http.IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
  // Bytes the client sends before our 200 (an eager TLS ClientHello) must wait in the socket, not be dropped.
  socket.pause();
  const client = clientOf(socket);
  const text = req.url ?? '';
  const parsed = parseConnectTarget(text);
  if (!parsed.ok) {
    const refusal: Refusal = { kind: 'badRequest', code: 'PCL_AGENT_BAD_REQUEST', reason: parsed.reason };
    ctx.refused('connect', client, text, refusal);
    socket.end(rawRefusalResponse(refusal, `CONNECT ${text}`));
    return;
  }
  const target = parsed.target;
  const result = await ctx.openFor('connect', socket, client, target);
  if (result === null) return;
  if (!result.ok) {
    ctx.refused('connect', client, target, result.refusal);
    socket.end(rawRefusalResponse(result.refusal, `CONNECT ${text}`));
    return;
  }
  ctx.track(result.stream);
  ctx.opened('connect', client, target, result.via, result.upstream);
  socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  if (head.length > 0) result.stream.write(head);
  await splice(socket, result.stream);
}

/** The request's headers minus hop-by-hop ones and those `Connection` names, as raw [name, value] pairs. */
function forwardHeaders(raw: readonly string[]): string[] {
  const named = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() === 'connection') for (const t of raw[i + 1].split(',')) named.add(t.trim().toLowerCase());
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (HOP_BY_HOP.has(name) || named.has(name)) continue;
    out.push(raw[i], raw[i + 1]);
  }
  return out;
}

function onRequest(
  ctx: ProxyContext,
  agents: WeakMap<Socket, TunnelAgent>,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): void {
  const socket = req.socket;
  const client = clientOf(socket);
  const what = `${req.method} ${req.url}`;
  const refuse = (refusal: Refusal, target: AgentTarget | string | null): void => {
    ctx.refused('http', client, target, refusal);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const { status, headers, body } = refusalResponse(refusal, what);
    res.writeHead(status, headers);
    res.end(body);
  };

  let url: URL | null = null;
  try {
    url = new URL(req.url ?? '');
  } catch {
    url = null;
  }
  if (url === null || url.protocol !== 'http:' || url.hostname === '') {
    const reason =
      url?.protocol === 'https:'
        ? 'an https:// URL must be sent with CONNECT (set HTTPS_PROXY)'
        : `not a proxy request: expected an absolute-form URL such as http://host/path, got "${req.url}"`;
    refuse({ kind: 'badRequest', code: 'PCL_AGENT_BAD_REQUEST', reason }, null);
    return;
  }
  const port = url.port === '' ? 80 : Number(url.port);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const parsed = parseConnectTarget(formatAuthority(host, port));
  if (!parsed.ok) {
    refuse(
      {
        kind: 'badRequest',
        code: 'PCL_AGENT_BAD_REQUEST',
        reason: parsed.reason.replace('bad CONNECT target', 'bad URL authority'),
      },
      null,
    );
    return;
  }
  const target = parsed.target;

  let agent = agents.get(socket);
  if (agent === undefined) {
    const abort = new AbortController();
    const created: TunnelAgent = new TunnelAgent(async (t) => {
      const result = await ctx.opener.open(t, client, abort.signal);
      if (!result.ok) throw new RefusalError(result.refusal);
      ctx.opened('http', client, t, result.via, result.upstream);
      ctx.track(result.stream);
      return new BufferOnlyStream(result.stream);
    });
    agent = created;
    agents.set(socket, created);
    socket.once('close', () => {
      abort.abort();
      created.destroy();
    });
  }

  const headers = forwardHeaders(req.rawHeaders);
  if (!headers.some((_, i) => i % 2 === 0 && headers[i].toLowerCase() === 'host')) headers.push('Host', url.host);
  const upstream = http.request({
    agent,
    host,
    port,
    method: req.method,
    path: `${url.pathname}${url.search}`,
    headers,
    setHost: false,
  });
  upstream.on('error', (err: Error) => {
    req.unpipe(upstream);
    if (err instanceof RefusalError) refuse(err.refusal, target);
    else
      refuse(
        { kind: 'gateway', code: 'PCL_AGENT_GATEWAY_ERROR', reason: `the upstream connection failed: ${err.message}` },
        target,
      );
  });
  upstream.on('response', (up: http.IncomingMessage) => {
    res.writeHead(up.statusCode ?? 502, up.statusMessage, forwardHeaders(up.rawHeaders));
    up.pipe(res);
    up.on('error', () => res.destroy());
  });
  // The client going away mid-exchange takes the upstream request (and its tunnel) with it.
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}
