/**
 * The HBONE server: mTLS 1.3 with ALPN h2, a SPIFFE peer in the gateway's trust domain, then HTTP/2 CONNECT streams
 * handed to an injected handler that decides and answers (ztunnel src/proxy/inbound.rs, as the egress side).
 */
import { EventEmitter } from 'node:events';
import * as http2 from 'node:http2';
import type { IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import * as tls from 'node:tls';
import type { ErrorCode } from '../errors/catalogue.ts';
import { headerSafe, REASON_HEADER } from '../errors/refusal-header.ts';
import { statusOf } from '../errors/http-status.ts';
import type { CertificateSource, TlsMaterial } from '../identity/cert-store.ts';
import { verifyPeerIdentity } from '../identity/peer-identity.ts';
import type { SpiffeId } from '../identity/spiffe-id.ts';
import { parseAuthority, type AuthorityParseResult, type HboneAuthority } from '../net/authority.ts';
import type { HboneRefusal, HboneSessionInfo, HboneTunnelClosed } from '../events/hbone-events.ts';
import { startKeepalive } from './keepalive.ts';
import {
  CONNECTION_WINDOW_SIZE,
  DEFAULT_HBONE_LIMITS,
  HBONE_ALPN,
  hboneTlsOptions,
  MAX_FRAME_SIZE,
  MAX_SESSION_MEMORY_MB,
  STREAM_WINDOW_SIZE,
  type HboneLimits,
} from './settings.ts';
import { messageOf } from '../errors/message-of.ts';

const { NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR } = http2.constants;

/** Response header that carries a short human reason on refusals (informational; ztunnel sends none). */
export { REASON_HEADER };

/** One CONNECT, handed to the data plane. The handler answers it; the server never answers 200 itself. */
export interface HboneRequest {
  /** Unique per server. */
  readonly tunnelId: number;
  readonly sessionId: number;
  /** The caller: first SPIFFE URI SAN of its verified certificate. Never from a header. */
  readonly peer: SpiffeId;
  readonly peerAddress: string;
  readonly peerPort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly authority: HboneAuthority;
  readonly baggage?: string;
  readonly forwarded?: string;
  readonly traceparent?: string;
  /** All request headers as received. */
  readonly headers: IncomingHttpHeaders;
  /** The tunnel's bytes. Pipe to and from it after `respond(200)`. */
  readonly stream: ServerHttp2Stream;
  /**
   * Aborted when the stream is gone: the client reset or closed it, its session died, or `close()` was called.
   * Created on first use (an AbortController costs microseconds per tunnel); `gone` is the cheap form.
   */
  readonly signal: AbortSignal;
  /** The same condition without an AbortController: `aborted`, and 'abort' listeners run when the stream closes. */
  readonly gone: StreamGone;
  /** Whether `respond` was called. */
  readonly responded: boolean;
  /**
   * Answer the CONNECT. 200 opens the tunnel (only after policy allowed and the upstream is connected); any other
   * status (401 denied, 503 unreachable, 400 malformed) ends the stream. Returns false if the stream is already gone.
   */
  respond(status: number, headers?: Readonly<Record<string, string>>): boolean;
  /** Tear the tunnel down now (e.g. "connection closed due to policy change"); emits 'tunnel-closed'. */
  close(reason: string): void;
}

/** AbortSignal's shape for one listener kind, backed by the stream's 'close' (see `HboneRequest.gone`). */
export interface StreamGone {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { readonly once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export type HboneHandler = (request: HboneRequest) => Promise<void>;

export interface HboneServerOptions {
  /** The gateway's own certificate chain, key and trust bundle; updates are applied to new handshakes. */
  readonly certificates: CertificateSource;
  /** Clients need a SPIFFE URI SAN in this trust domain. */
  readonly trustDomain: string;
  readonly handler: HboneHandler;
  readonly limits?: Partial<HboneLimits>;
}

/** What the server emits (see events/hbone-events.ts); typed so a listener with the wrong payload does not compile. */
export interface HboneServerEvents {
  refused: [refusal: HboneRefusal];
  session: [info: HboneSessionInfo];
  'session-closed': [info: HboneSessionInfo];
  'tunnel-closed': [event: HboneTunnelClosed];
  error: [err: unknown];
}

interface SessionState {
  readonly id: number;
  readonly peer: SpiffeId;
  readonly peerAddress: string;
  readonly peerPort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly session: ServerHttp2Session;
  openStreams: number;
  /** Tunnels handed to the handler and not yet closed (refused streams are not counted). */
  tunnels: number;
  resets: number;
  resetWindowStart: number;
  idleTimer: NodeJS.Timeout | null;
  stopKeepalive: () => void;
  closing: boolean;
}

interface PendingPeer {
  readonly peer: SpiffeId;
  readonly socket: tls.TLSSocket;
}

/** A TCP connection that has not yet shown a verified certificate. */
interface Handshake {
  readonly socket: Socket;
  readonly source: string;
  readonly peerPort: number;
  readonly timer: NodeJS.Timeout;
}

/** The source address a per-source limit counts by: an IPv4-mapped IPv6 address is its IPv4 address. */
function sourceOf(address: string | undefined): string {
  const a = (address ?? '').toLowerCase();
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

/**
 * RFC 9113 §6.5.2 header list size: name + value + 32 octets per field. A UTF-8 octet count is at most 3 per UTF-16
 * unit, so when the list is under `limit` even at 3 octets per unit the exact count is skipped (it is the common case,
 * and the exact count is a native call per header).
 */
function headerListSize(rawHeaders: readonly string[], limit: number): number {
  let units = 0;
  for (let i = 0; i < rawHeaders.length; i++) units += rawHeaders[i].length;
  const fields = 32 * Math.ceil(rawHeaders.length / 2);
  if (units * 3 + fields <= limit) return units + fields;
  let size = 0;
  for (let i = 0; i < rawHeaders.length; i++) size += Buffer.byteLength(rawHeaders[i]) + (i % 2 === 0 ? 32 : 0);
  return size;
}

/** The error listener of streams whose failures surface as 'close' anyway. */
function ignore(): void {}

/** Authorities kept parsed (a bounded map, emptied when full: parsing again is the worst case). */
const AUTHORITY_CACHE_SIZE = 1024;

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function tlsErrorCode(err: Error & { code?: string }): ErrorCode {
  const text = `${err.code ?? ''} ${err.message}`;
  if (/HANDSHAKE_TIMEOUT/i.test(text)) return 'PCL_HBONE_HANDSHAKE_TIMEOUT';
  if (/APPLICATION_PROTOCOL|ALPN/i.test(text)) return 'PCL_HBONE_ALPN_REFUSED';
  return 'PCL_HBONE_TLS_HANDSHAKE_FAILED';
}

/** A CONNECT handed to the handler. Holds no closure of its own: the server's one 'close' listener calls `ended`. */
class Tunnel implements HboneRequest, StreamGone {
  readonly tunnelId: number;
  readonly sessionId: number;
  readonly peer: SpiffeId;
  readonly peerAddress: string;
  readonly peerPort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly authority: HboneAuthority;
  readonly baggage?: string;
  readonly forwarded?: string;
  readonly traceparent?: string;
  readonly headers: IncomingHttpHeaders;
  readonly stream: ServerHttp2Stream;
  readonly #server: HboneServer;
  #abort: AbortController | null = null;
  /** Why the tunnel is gone (`close()`'s reason, or the stream's end), once it is. */
  #goneReason: string | null = null;
  #responded = false;

  constructor(
    server: HboneServer,
    id: number,
    state: SessionState,
    authority: HboneAuthority,
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
  ) {
    this.#server = server;
    this.tunnelId = id;
    this.sessionId = state.id;
    this.peer = state.peer;
    this.peerAddress = state.peerAddress;
    this.peerPort = state.peerPort;
    this.localAddress = state.localAddress;
    this.localPort = state.localPort;
    this.authority = authority;
    this.baggage = firstHeader(headers.baggage);
    this.forwarded = firstHeader(headers.forwarded);
    this.traceparent = firstHeader(headers.traceparent);
    this.headers = headers;
    this.stream = stream;
  }

  get signal(): AbortSignal {
    if (this.#abort === null) {
      this.#abort = new AbortController();
      if (this.#goneReason !== null) this.#abort.abort(new Error(this.#goneReason));
    }
    return this.#abort.signal;
  }

  get gone(): StreamGone {
    return this;
  }

  get aborted(): boolean {
    return this.#goneReason !== null || this.stream.closed || this.stream.destroyed;
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    this.stream.once('close', listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    this.stream.removeListener('close', listener);
  }

  get responded(): boolean {
    return this.#responded;
  }

  /** The stream closed (the server's 'close' listener): abort the signal if anyone holds it. */
  ended(): void {
    this.#gone(`HBONE stream closed (RST_STREAM code ${this.stream.rstCode ?? 0})`);
  }

  #gone(reason: string): void {
    if (this.#goneReason !== null) return;
    this.#goneReason = reason;
    this.#abort?.abort(new Error(reason));
  }

  respond(status: number, headers?: Readonly<Record<string, string>>): boolean {
    if (this.#responded) throw new Error(`HBONE tunnel ${this.tunnelId} already answered`);
    if (!Number.isInteger(status) || status < 200 || status > 599)
      throw new RangeError(`invalid HBONE status ${status}`);
    this.#responded = true;
    if (this.stream.destroyed || this.stream.closed) return false;
    if (status === 200) {
      this.stream.respond(headers === undefined ? { ':status': 200 } : { ...headers, ':status': 200 });
    } else {
      answerAndClose(this.stream, status, headers ?? {});
    }
    return true;
  }

  close(reason: string): void {
    if (this.stream.destroyed || this.stream.closed) return;
    const event: HboneTunnelClosed = {
      code: 'PCL_HBONE_TUNNEL_CLOSED',
      tunnelId: this.tunnelId,
      sessionId: this.sessionId,
      peer: this.peer.uri,
      authority: this.authority.raw,
      reason,
    };
    this.#server.emit('tunnel-closed', event);
    this.#gone(reason);
    // Node emits 'aborted' inside Http2Stream.close() before it submits RST_STREAM; a stream.pipeline's end-of-stream
    // listener destroys the stream on 'aborted', which drops the RST and the caller never learns the tunnel is gone.
    // Detach those listeners first (a pipeline still settles on 'close'), so every consumer's close reaches the peer.
    this.stream.removeAllListeners('aborted');
    this.stream.close(NGHTTP2_CANCEL);
  }
}

/** How long a client may keep its side of an answered-and-refused stream open before it is reset. */
const REFUSED_STREAM_GRACE_MS = 5_000;

/**
 * Answer a non-200 status and end our side. The client normally ends its side at once (ztunnel treats any non-200
 * as an error); one that never does is reset after a grace period so it cannot pin stream slots. Resetting at once
 * is not an option: nghttp2 may then drop the queued HEADERS and the client never sees the status.
 */
function answerAndClose(stream: ServerHttp2Stream, status: number, headers: Readonly<Record<string, string>>): void {
  try {
    stream.respond({ ...headers, ':status': status }, { endStream: true });
  } catch {
    stream.destroy();
    return;
  }
  const timer = setTimeout(() => {
    if (!stream.closed && !stream.destroyed) stream.close(NGHTTP2_NO_ERROR);
  }, REFUSED_STREAM_GRACE_MS);
  timer.unref();
  stream.once('close', () => clearTimeout(timer));
}

/**
 * The HBONE listener. Create with `createHboneServer`. Refusals and lifecycle are reported as events (see
 * events.ts); one session's failure never touches another, and no input makes the server throw.
 */
export class HboneServer extends EventEmitter<HboneServerEvents> {
  #limits: HboneLimits;
  readonly #options: HboneServerOptions;
  /** The listener. Connections reach the TLS server only once admitted (the HTTP/2 layer is fed the same way). */
  readonly #tcp: net.Server;
  readonly #tls: tls.Server;
  readonly #h2: http2.Http2Server;
  readonly #sessions = new Set<SessionState>();
  readonly #tunnels = new Set<Tunnel>();
  readonly #sockets = new Set<Socket>();
  /** Connections in the TLS handshake, oldest first (a Map keeps insertion order). */
  readonly #handshakes = new Map<Socket, Handshake>();
  readonly #handshakesBySource = new Map<string, number>();
  readonly #tunnelsByPeer = new Map<string, number>();
  readonly #authorities = new Map<string, AuthorityParseResult>();
  /** Connections the server closed during the handshake (limit or deadline), already reported. */
  readonly #cut = new WeakSet<Socket>();
  #pending: PendingPeer | null = null;
  #nextSessionId = 1;
  #nextTunnelId = 1;
  readonly #onCertificates: (material: TlsMaterial) => void;

  constructor(options: HboneServerOptions) {
    super();
    this.#options = options;
    this.#limits = { ...DEFAULT_HBONE_LIMITS, ...options.limits };
    this.#tls = tls.createServer({
      ...this.#contextOptions(options.certificates.current()),
      requestCert: true,
      rejectUnauthorized: true,
      // Exactly h2 (ztunnel `alpn_protocols = [h2]`). Returning undefined makes OpenSSL send the fatal
      // no_application_protocol alert, so an http/1.1-only client is refused during the handshake.
      ALPNCallback: ({ protocols }) => (protocols.includes(HBONE_ALPN) ? HBONE_ALPN : undefined),
      // node's own handshakeTimeout (default 120 s) is an inactivity timer that a client trickling a byte at a time
      // never hits, and it only reports, leaving the socket open: the server keeps its own deadline (#admit).
    });
    // Tunnels carry request/response traffic: with Nagle on, a frame written while the previous one is unacked
    // waits for the peer's delayed ACK (tens of ms). ztunnel sets TCP_NODELAY on its sockets too.
    this.#tcp = net.createServer({ noDelay: true }, (socket: Socket) => this.#admit(socket));
    this.#tls.on('secureConnection', (socket: tls.TLSSocket) => this.#onSecureConnection(socket));
    this.#tls.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
      // node leaves a failed handshake's socket to the listener: close it, or it holds a descriptor.
      socket.destroy();
      // With rejectUnauthorized, node completes the handshake, records OpenSSL's verify result in
      // `authorizationError` and destroys the socket, so `err` only says "socket hang up": report the real reason.
      const verifyError = (socket as tls.TLSSocket & { authorizationError?: string }).authorizationError;
      // A failed TLSSocket no longer knows its address; the TCP socket underneath does (node keeps it as `_parent`).
      const raw = (socket as tls.TLSSocket & { _parent?: Socket })._parent;
      // One closed for a limit or the deadline was reported then; its reset is no news.
      if (raw !== undefined && this.#cut.has(raw)) return;
      if (raw !== undefined) this.#endHandshake(raw);
      this.#refuse({
        code: verifyError ? 'PCL_HBONE_TLS_HANDSHAKE_FAILED' : tlsErrorCode(err),
        stage: 'tls',
        reason: verifyError ? `client certificate rejected: ${verifyError}` : err.message.trim(),
        peerAddress: raw?.remoteAddress ?? socket.remoteAddress,
        peerPort: raw?.remotePort ?? socket.remotePort,
      });
    });
    // Server-socket errors after listen() (rare: EMFILE) are reported to 'error' listeners, never thrown.
    this.#tcp.on('error', (err) => this.#emitError(err));
    this.#tls.on('error', (err) => this.#emitError(err));

    // The HTTP/2 layer never listens: it only receives sockets that passed the TLS and identity checks.
    this.#h2 = http2.createServer({
      settings: {
        initialWindowSize: STREAM_WINDOW_SIZE,
        maxFrameSize: MAX_FRAME_SIZE,
        maxConcurrentStreams: this.#limits.maxStreamsPerSession,
        maxHeaderListSize: this.#limits.maxHeaderListSize,
        enablePush: false,
      },
      maxSessionMemory: MAX_SESSION_MEMORY_MB,
    });
    this.#h2.on('session', (session: ServerHttp2Session) => this.#onSession(session));
    // Stream-level errors of sessions that already failed are reported through 'refused'; never rethrown.
    this.#h2.on('sessionError', () => {});

    this.#onCertificates = (material) => {
      try {
        this.#tls.setSecureContext(this.#contextOptions(material));
      } catch (err) {
        // A bad rotation keeps the previous context serving; report it.
        this.#emitError(err);
      }
    };
    options.certificates.on('update', this.#onCertificates);
  }

  /**
   * Start listening; resolves with the bound address. `reusePort` lets several worker processes bind the same port
   * and the kernel spread connections among them (`serve --workers`); each binds its own socket (`exclusive`).
   */
  listen(port: number, host = '0.0.0.0', options: { readonly reusePort?: boolean } = {}): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#tcp.once('error', onError);
      const reuse = options.reusePort === true;
      this.#tcp.listen({ port, host, ...(reuse ? { reusePort: true, exclusive: true } : {}) }, () => {
        this.#tcp.off('error', onError);
        resolve(this.#tcp.address() as AddressInfo);
      });
    });
  }

  address(): AddressInfo | null {
    const addr = this.#tcp.address();
    return addr !== null && typeof addr === 'object' ? addr : null;
  }

  /** The limits in force. */
  get limits(): HboneLimits {
    return this.#limits;
  }

  /**
   * Apply new limits (a reloaded portcullis.yaml). Counts apply to the next connection or stream; nothing already
   * admitted is cut. SETTINGS_MAX_CONCURRENT_STREAMS and the header list size are fixed at start.
   */
  setLimits(limits: Partial<HboneLimits>): void {
    this.#limits = { ...this.#limits, ...limits };
  }

  /** Connections still in the TLS handshake (a gauge for operators). */
  get pendingHandshakes(): number {
    return this.#handshakes.size;
  }

  /** TCP connections held, in the handshake or established. */
  get connectionCount(): number {
    return this.#sockets.size;
  }

  /** Open tunnels (for the data plane to close those a new policy no longer allows). */
  tunnels(): ReadonlySet<HboneRequest> {
    return this.#tunnels;
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  /**
   * Stop accepting, send GOAWAY to every session (open tunnels may finish), and resolve when every connection has
   * ended. Call `destroy()` after a drain period to cut what remains.
   */
  close(): Promise<void> {
    this.#options.certificates.off('update', this.#onCertificates);
    const closed = new Promise<void>((resolve) => {
      if (!this.#tcp.listening) resolve();
      else this.#tcp.close(() => resolve());
    });
    // Nobody in the handshake can still become a session worth draining.
    for (const h of [...this.#handshakes.values()]) h.socket.destroy();
    for (const state of this.#sessions) {
      state.closing = true;
      if (!state.session.closed) state.session.close();
    }
    return closed;
  }

  /** Cut every session and connection now. */
  destroy(): void {
    for (const state of this.#sessions) {
      state.closing = true;
      state.session.destroy();
    }
    for (const socket of this.#sockets) socket.destroy();
  }

  #contextOptions(material: TlsMaterial): tls.SecureContextOptions {
    return hboneTlsOptions(material);
  }

  #emitError(err: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  #refuse(refusal: HboneRefusal): void {
    this.emit('refused', refusal);
  }

  /**
   * Admit a TCP connection into the TLS handshake, or refuse it; arm its deadline. What an unauthenticated peer can
   * hold is bounded three ways: per source address, in all, and against maxConnections, where connections still in
   * the handshake give way (oldest first) before an established workload's connection is ever refused.
   */
  #admit(socket: Socket): void {
    const source = sourceOf(socket.remoteAddress); // read now: a destroyed socket no longer knows it
    const peerPort = socket.remotePort ?? 0;
    socket.on('error', () => {}); // resets while in the handshake surface as 'close'
    const refuse = (code: ErrorCode, reason: string): void => {
      this.#refuse({ code, stage: 'tls', reason, peerAddress: source, peerPort });
      socket.destroy();
    };
    const limits = this.#limits;
    const fromSource = this.#handshakesBySource.get(source) ?? 0;
    if (fromSource >= limits.maxPendingHandshakesPerSource) {
      refuse(
        'PCL_HBONE_HANDSHAKE_LIMIT',
        `${fromSource} connections from ${source} are still in the TLS handshake (maxPendingHandshakesPerSource ${limits.maxPendingHandshakesPerSource})`,
      );
      return;
    }
    if (this.#handshakes.size >= limits.maxPendingHandshakes) {
      this.#evictOldestHandshake(
        'PCL_HBONE_HANDSHAKE_LIMIT',
        `maxPendingHandshakes ${limits.maxPendingHandshakes} reached`,
      );
    }
    if (this.#sockets.size >= limits.maxConnections) {
      if (
        !this.#evictOldestHandshake('PCL_HBONE_CONNECTION_LIMIT', `maxConnections ${limits.maxConnections} reached`)
      ) {
        refuse(
          'PCL_HBONE_CONNECTION_LIMIT',
          `the gateway holds its maximum of ${limits.maxConnections} established connections (maxConnections)`,
        );
        return;
      }
    }
    this.#sockets.add(socket);
    socket.once('close', () => {
      this.#sockets.delete(socket);
      this.#endHandshake(socket);
    });
    const timer = setTimeout(() => {
      if (!this.#handshakes.has(socket)) return;
      this.#endHandshake(socket);
      this.#cut.add(socket);
      this.#refuse({
        code: 'PCL_HBONE_HANDSHAKE_TIMEOUT',
        stage: 'tls',
        reason: `no verified client certificate ${limits.handshakeTimeoutMs} ms after connecting`,
        peerAddress: source,
        peerPort,
      });
      socket.destroy();
    }, limits.handshakeTimeoutMs);
    timer.unref();
    this.#handshakes.set(socket, { socket, source, peerPort, timer });
    this.#handshakesBySource.set(source, fromSource + 1);
    this.#tls.emit('connection', socket);
  }

  /** The handshake of `socket` is over (verified, failed or closed): stop counting it. Idempotent. */
  #endHandshake(socket: Socket): boolean {
    const h = this.#handshakes.get(socket);
    if (h === undefined) return false;
    clearTimeout(h.timer);
    this.#handshakes.delete(socket);
    const n = (this.#handshakesBySource.get(h.source) ?? 1) - 1;
    if (n <= 0) this.#handshakesBySource.delete(h.source);
    else this.#handshakesBySource.set(h.source, n);
    return true;
  }

  /** Close the connection that has been in the handshake longest; false when none is. */
  #evictOldestHandshake(code: ErrorCode, why: string): boolean {
    const oldest = this.#handshakes.values().next();
    if (oldest.done === true) return false;
    const h = oldest.value;
    this.#endHandshake(h.socket);
    this.#sockets.delete(h.socket); // its 'close' comes later; the slot is free now
    this.#cut.add(h.socket);
    this.#refuse({
      code,
      stage: 'tls',
      reason: `${why}: closed the connection longest in the TLS handshake`,
      peerAddress: h.source,
      peerPort: h.peerPort,
    });
    h.socket.destroy();
    return true;
  }

  #onSecureConnection(socket: tls.TLSSocket): void {
    const peerAddress = socket.remoteAddress;
    const peerPort = socket.remotePort;
    socket.on('error', () => {}); // the HTTP/2 session reports errors of accepted sockets; refused ones are destroyed
    const raw = (socket as tls.TLSSocket & { _parent?: Socket })._parent;
    // A handshake that finished after its deadline (or after it was displaced) was already closed and reported:
    // it never becomes a session, whatever arrived in between.
    if (raw === undefined || this.#cut.has(raw) || raw.destroyed) {
      socket.destroy();
      return;
    }
    this.#endHandshake(raw);
    if (socket.alpnProtocol !== HBONE_ALPN) {
      // A client that offered no ALPN at all never reaches the ALPN callback; refuse it here.
      this.#refuse({
        code: 'PCL_HBONE_ALPN_REFUSED',
        stage: 'tls',
        reason: 'client did not negotiate ALPN h2',
        peerAddress,
        peerPort,
      });
      socket.destroy();
      return;
    }
    const identity = verifyPeerIdentity(socket, this.#options.trustDomain);
    if (!identity.ok) {
      this.#refuse({
        code: 'PCL_HBONE_PEER_IDENTITY_REFUSED',
        stage: 'tls',
        reason: `${identity.reason} [${identity.code}]`,
        peerAddress,
        peerPort,
      });
      socket.destroy();
      return;
    }
    // http2's connection listener creates the session and emits 'session' synchronously; hand the identity over.
    this.#pending = { peer: identity.identity, socket };
    try {
      this.#h2.emit('connection', socket);
    } finally {
      this.#pending = null;
    }
  }

  #onSession(session: ServerHttp2Session): void {
    const pending = this.#pending;
    if (pending === null) {
      session.destroy();
      return;
    }
    const { socket } = pending;
    const state: SessionState = {
      id: this.#nextSessionId++,
      peer: pending.peer,
      peerAddress: socket.remoteAddress ?? '',
      peerPort: socket.remotePort ?? 0,
      localAddress: socket.localAddress ?? '',
      localPort: socket.localPort ?? 0,
      session,
      openStreams: 0,
      tunnels: 0,
      resets: 0,
      resetWindowStart: 0,
      idleTimer: null,
      stopKeepalive: () => {},
      closing: false,
    };
    this.#sessions.add(state);
    const info: HboneSessionInfo = {
      sessionId: state.id,
      peer: state.peer.uri,
      peerAddress: state.peerAddress,
      peerPort: state.peerPort,
    };
    const base = {
      peer: state.peer.uri,
      peerAddress: state.peerAddress,
      peerPort: state.peerPort,
      sessionId: state.id,
    };

    try {
      session.setLocalWindowSize(CONNECTION_WINDOW_SIZE);
    } catch {
      // Only fails on a session that is already gone; its 'close' cleans up.
    }
    session.on('error', (err: Error & { code?: string }) => {
      if (state.closing) return;
      state.closing = true;
      this.#refuse({ ...base, code: 'PCL_HBONE_PROTOCOL_ERROR', stage: 'session', reason: err.message });
    });
    session.on(
      'stream',
      (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) =>
        this.#onStream(state, stream, headers, rawHeaders),
    );
    session.once('close', () => {
      state.stopKeepalive();
      if (state.idleTimer !== null) clearTimeout(state.idleTimer);
      this.#sessions.delete(state);
      this.emit('session-closed', info);
    });
    state.stopKeepalive = startKeepalive(
      session,
      this.#limits.keepaliveIntervalMs,
      this.#limits.keepaliveTimeoutMs,
      () => {
        if (state.closing) return;
        state.closing = true;
        this.#refuse({
          ...base,
          code: 'PCL_HBONE_KEEPALIVE_TIMEOUT',
          stage: 'session',
          reason: `no PING answer in ${this.#limits.keepaliveTimeoutMs} ms`,
        });
        session.destroy();
      },
    );
    this.#armIdle(state);
    this.emit('session', info);
  }

  #armIdle(state: SessionState): void {
    if (state.idleTimer !== null) clearTimeout(state.idleTimer);
    state.idleTimer = null;
    if (this.#limits.sessionIdleTimeoutMs <= 0 || state.openStreams > 0 || state.closing) return;
    state.idleTimer = setTimeout(() => {
      state.idleTimer = null;
      if (state.openStreams > 0 || state.closing) return;
      state.closing = true;
      this.#refuse({
        code: 'PCL_HBONE_SESSION_IDLE',
        stage: 'session',
        reason: `no tunnel for ${this.#limits.sessionIdleTimeoutMs} ms`,
        peer: state.peer.uri,
        peerAddress: state.peerAddress,
        peerPort: state.peerPort,
        sessionId: state.id,
      });
      state.session.close();
    }, this.#limits.sessionIdleTimeoutMs);
    state.idleTimer.unref();
  }

  /** HTTP/2 rapid reset (CVE-2023-44487): too many streams closed before an answer → GOAWAY ENHANCE_YOUR_CALM. */
  #countReset(state: SessionState): void {
    if (state.closing) return;
    const now = Date.now();
    if (now - state.resetWindowStart >= this.#limits.resetWindowMs) {
      state.resetWindowStart = now;
      state.resets = 0;
    }
    state.resets++;
    if (state.resets <= this.#limits.maxResetsPerWindow) return;
    state.closing = true;
    this.#refuse({
      code: 'PCL_HBONE_RAPID_RESET',
      stage: 'session',
      reason: `${state.resets} streams reset before an answer within ${this.#limits.resetWindowMs} ms (limit ${this.#limits.maxResetsPerWindow})`,
      peer: state.peer.uri,
      peerAddress: state.peerAddress,
      peerPort: state.peerPort,
      sessionId: state.id,
    });
    // A numeric first argument is the GOAWAY code (`destroy(undefined, code)` would default it back to NO_ERROR).
    // (@types/node only declares the `(error, code)` form of this runtime overload.)
    (state.session.destroy as unknown as (code: number) => void).call(state.session, NGHTTP2_ENHANCE_YOUR_CALM);
  }

  /** Answer a stream the server refuses (a limit, a malformed request, a failed handler), and report it. */
  #refuseStream(
    state: SessionState,
    stream: ServerHttp2Stream,
    authority: string,
    code: ErrorCode,
    reason: string,
  ): void {
    const status = statusOf(code);
    this.#refuse({
      code,
      stage: 'stream',
      reason,
      status,
      authority,
      peer: state.peer.uri,
      peerAddress: state.peerAddress,
      peerPort: state.peerPort,
      sessionId: state.id,
    });
    answerAndClose(stream, status, { [REASON_HEADER]: headerSafe(reason) });
  }

  /** The parsed form of an authority seen recently (parsing is pure; the result is immutable and shared). */
  #parseAuthority(text: string): AuthorityParseResult {
    let parsed = this.#authorities.get(text);
    if (parsed === undefined) {
      parsed = parseAuthority(text);
      if (this.#authorities.size >= AUTHORITY_CACHE_SIZE) this.#authorities.clear();
      this.#authorities.set(text, parsed);
    }
    return parsed;
  }

  #onStream(state: SessionState, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: string[]): void {
    stream.on('error', ignore); // resets and session teardown surface as 'close'; nothing to rethrow
    state.openStreams++;
    this.#armIdle(state);
    let tunnel: Tunnel | null = null;
    // One listener does the stream's bookkeeping and tells its tunnel ('close' is emitted once).
    stream.on('close', () => {
      state.openStreams--;
      if (tunnel !== null) {
        this.#tunnels.delete(tunnel);
        state.tunnels--;
        const n = (this.#tunnelsByPeer.get(state.peer.uri) ?? 1) - 1;
        if (n <= 0) this.#tunnelsByPeer.delete(state.peer.uri);
        else this.#tunnelsByPeer.set(state.peer.uri, n);
        tunnel.ended();
      }
      if (!stream.headersSent) this.#countReset(state);
      this.#armIdle(state);
    });

    const authorityText = firstHeader(headers[':authority']) ?? '';
    const limits = this.#limits;
    const peerTunnels = this.#tunnelsByPeer.get(state.peer.uri) ?? 0;
    if (state.tunnels >= limits.maxTunnelsPerSession) {
      this.#refuseStream(
        state,
        stream,
        authorityText,
        'PCL_HBONE_SESSION_TUNNEL_LIMIT',
        `this connection carries its maximum of ${limits.maxTunnelsPerSession} tunnels (maxTunnelsPerSession)`,
      );
      return;
    }
    if (peerTunnels >= limits.maxTunnelsPerIdentity) {
      this.#refuseStream(
        state,
        stream,
        authorityText,
        'PCL_HBONE_IDENTITY_TUNNEL_LIMIT',
        `${state.peer.uri} holds its maximum of ${limits.maxTunnelsPerIdentity} tunnels (maxTunnelsPerIdentity)`,
      );
      return;
    }
    if (this.#tunnels.size >= limits.maxTunnels) {
      this.#refuseStream(
        state,
        stream,
        authorityText,
        'PCL_HBONE_TOO_MANY_TUNNELS',
        `gateway carries its maximum of ${limits.maxTunnels} tunnels (maxTunnels)`,
      );
      return;
    }
    const size = headerListSize(rawHeaders, limits.maxHeaderListSize);
    if (size > limits.maxHeaderListSize) {
      this.#refuseStream(
        state,
        stream,
        authorityText,
        'PCL_HBONE_HEADERS_TOO_LARGE',
        `header list of ${size} bytes exceeds ${limits.maxHeaderListSize}`,
      );
      return;
    }
    const method = firstHeader(headers[':method']);
    if (method !== 'CONNECT') {
      this.#refuseStream(
        state,
        stream,
        authorityText,
        'PCL_HBONE_NON_CONNECT',
        `method ${method ?? '(none)'} is not CONNECT`,
      );
      return;
    }
    const parsed = this.#parseAuthority(authorityText);
    if (!parsed.ok) {
      this.#refuseStream(state, stream, authorityText, 'PCL_HBONE_BAD_AUTHORITY', parsed.reason);
      return;
    }

    const created = new Tunnel(this, this.#nextTunnelId++, state, parsed.authority, stream, headers);
    tunnel = created;
    this.#tunnels.add(created);
    state.tunnels++;
    this.#tunnelsByPeer.set(state.peer.uri, peerTunnels + 1);
    let pending: Promise<void>;
    try {
      pending = this.#options.handler(created);
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.catch((err: unknown) => {
      const reason = `handler failed: ${messageOf(err)}`;
      if (!created.responded && !stream.closed && !stream.destroyed) {
        this.#refuseStream(state, stream, authorityText, 'PCL_HBONE_HANDLER_FAILED', reason);
      } else {
        this.#refuse({
          code: 'PCL_HBONE_HANDLER_FAILED',
          stage: 'stream',
          reason,
          authority: authorityText,
          peer: state.peer.uri,
          sessionId: state.id,
        });
        if (!stream.closed && !stream.destroyed) stream.close(NGHTTP2_INTERNAL_ERROR);
      }
    });
  }
}

/** Create an HBONE server; call `listen(15008)` to accept. */
export function createHboneServer(options: HboneServerOptions): HboneServer {
  return new HboneServer(options);
}
