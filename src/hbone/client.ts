/**
 * The HBONE client as ztunnel's outbound side speaks it: pooled HTTP/2 sessions over mTLS 1.3 (ALPN h2, no SNI, no
 * resumption), the server's SPIFFE SAN checked exactly (src/tls/workload.rs `verify_full_san`, src/proxy/pool.rs).
 */
import * as http2 from 'node:http2';
import type {
  ClientHttp2Session,
  ClientHttp2Stream,
  IncomingHttpHeaders,
  OutgoingHttpHeaders,
  Settings,
} from 'node:http2';
import * as tls from 'node:tls';
import { PortcullisError } from '../errors/portcullis-error.ts';
import type { CertificateSource, TlsMaterial } from '../identity/cert-store.ts';
import { verifyServerSan } from '../identity/peer-identity.ts';
import { formatAuthority, parseAuthority } from '../net/authority.ts';
import { startKeepalive } from './keepalive.ts';
import { buildForwarded, newTraceparent } from './request-headers.ts';
import { REASON_HEADER } from './server.ts';
import {
  CLIENT_MAX_HEADER_LIST_SIZE,
  CLIENT_MAX_STREAMS,
  CONNECT_TIMEOUT_MS,
  CONNECTION_WINDOW_SIZE,
  HBONE_ALPN,
  hboneTlsOptions,
  KEEPALIVE_INTERVAL_MS,
  KEEPALIVE_TIMEOUT_MS,
  MAX_FRAME_SIZE,
  MAX_SESSION_MEMORY_MB,
  STREAM_WINDOW_SIZE,
} from './settings.ts';
import { messageOf } from '../errors/message-of.ts';

const { NGHTTP2_CANCEL } = http2.constants;
const MAX_ERROR_BODY = 4096;
// ztunnel releases a pooled connection unused for 5 minutes (POOL_UNUSED_RELEASE_TIMEOUT).
const POOL_IDLE_MS = 5 * 60_000;

export interface HboneGateway {
  readonly host: string;
  readonly port: number;
}

export interface HboneClientOptions {
  /** The workload identity presented to the gateway, and the bundle the gateway is verified against. */
  readonly certificates: CertificateSource | TlsMaterial;
  /** Default gateway for `connect`. */
  readonly gateway?: HboneGateway;
  /** Default expected server identities (full SPIFFE IDs); one must equal a URI SAN of the server certificate. */
  readonly expectedSans?: readonly string[];
  /** Streams per session before another session is opened: min(this, peer SETTINGS_MAX_CONCURRENT_STREAMS). Default 100. */
  readonly maxStreamsPerSession?: number;
  readonly connectTimeoutMs?: number;
  readonly keepaliveIntervalMs?: number;
  readonly keepaliveTimeoutMs?: number;
  readonly poolIdleMs?: number;
}

export interface HboneConnectOptions {
  readonly gateway?: HboneGateway;
  readonly expectedSans?: readonly string[];
  /** `baggage` header value. */
  readonly baggage?: string;
  /** `forwarded` value, or the original client address to build `for="ip:port"` from; default: this session's local address. false = omit. */
  readonly forwarded?: string | { readonly address: string; readonly port: number; readonly host?: string } | false;
  /** `traceparent`; default a random one. */
  readonly traceparent?: string;
  /** Extra headers (lower-case names). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
}

/** An open tunnel: write to and read from `stream`; end it to half-close. */
export interface HboneTunnel {
  readonly status: 200;
  readonly headers: IncomingHttpHeaders;
  readonly stream: ClientHttp2Stream;
  readonly traceparent: string;
}

/** The gateway answered the CONNECT with a status other than 200. */
export class HboneStatusError extends PortcullisError {
  readonly status: number;
  /** The `x-portcullis-reason` header, else the response body text, if any. */
  readonly reason?: string;
  readonly headers: IncomingHttpHeaders;
  constructor(status: number, headers: IncomingHttpHeaders, reason: string | undefined) {
    super('PCL_HBONE_STATUS', `HBONE CONNECT answered ${status}${reason ? `: ${reason}` : ''}`);
    this.name = 'HboneStatusError';
    this.status = status;
    this.reason = reason;
    this.headers = headers;
  }
}

interface PooledSession {
  readonly key: string;
  readonly session: ClientHttp2Session;
  readonly ready: Promise<void>;
  active: number;
  maxStreams: number;
  usable: boolean;
  idleTimer: NodeJS.Timeout | null;
}

function isSource(value: CertificateSource | TlsMaterial): value is CertificateSource {
  return typeof (value as CertificateSource).current === 'function';
}

/**
 * A pool of HBONE sessions for one workload identity. Sessions are keyed by (gateway address, expected SANs), as
 * ztunnel's `WorkloadKey` is; a new session is opened when every existing one is at its stream limit.
 */
export class HboneClient {
  readonly #options: HboneClientOptions;
  readonly #pools = new Map<string, PooledSession[]>();
  readonly #maxStreams: number;
  #closed = false;

  constructor(options: HboneClientOptions) {
    this.#options = options;
    this.#maxStreams = Math.max(1, options.maxStreamsPerSession ?? CLIENT_MAX_STREAMS);
  }

  /** Sessions currently open (or opening) to all gateways. */
  get sessionCount(): number {
    let n = 0;
    for (const list of this.#pools.values()) n += list.length;
    return n;
  }

  /**
   * Open a tunnel to `authority` (`ip:port`, `[v6]:port` or `host:port`). Resolves when the gateway answers 200;
   * rejects with `HboneStatusError` for any other status, or a PortcullisError (PCL_HBONE_CONNECT_FAILED,
   * PCL_IDENTITY_SAN_MISMATCH) when no session could be set up.
   */
  async connect(authority: string, options: HboneConnectOptions = {}): Promise<HboneTunnel> {
    if (this.#closed) throw new PortcullisError('PCL_HBONE_CONNECT_FAILED', 'HBONE client is closed');
    const parsed = parseAuthority(authority);
    if (!parsed.ok) throw new PortcullisError('PCL_HBONE_BAD_AUTHORITY', parsed.reason);
    const gateway = options.gateway ?? this.#options.gateway;
    if (gateway === undefined) throw new TypeError('HboneClient.connect: no gateway given');
    const sans = options.expectedSans ?? this.#options.expectedSans ?? [];
    if (sans.length === 0) throw new TypeError('HboneClient.connect: no expected server SANs given');
    options.signal?.throwIfAborted();

    const pooled = await this.#acquire(gateway, sans);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      pooled.active--;
      this.#armIdle(pooled);
    };

    const traceparent = options.traceparent ?? newTraceparent();
    const headers: OutgoingHttpHeaders = {
      ...options.headers,
      ':method': 'CONNECT',
      ':authority': authority,
      traceparent,
    };
    if (options.baggage !== undefined) headers.baggage = options.baggage;
    if (options.forwarded !== false) {
      if (typeof options.forwarded === 'string') headers.forwarded = options.forwarded;
      else if (options.forwarded !== undefined)
        headers.forwarded = buildForwarded(options.forwarded.address, options.forwarded.port, options.forwarded.host);
      else {
        const socket = pooled.session.socket;
        if (socket?.localAddress !== undefined && socket.localPort !== undefined)
          headers.forwarded = buildForwarded(socket.localAddress, socket.localPort);
      }
    }

    let stream: ClientHttp2Stream;
    try {
      stream = pooled.session.request(headers, { endStream: false, signal: options.signal });
    } catch (err) {
      release();
      throw new PortcullisError('PCL_HBONE_CONNECT_FAILED', `cannot open an HBONE stream: ${messageOf(err)}`, {
        cause: err,
      });
    }
    stream.once('close', release);
    return new Promise<HboneTunnel>((resolve, reject) => {
      let answered = false;
      const onEarlyClose = (err?: Error): void => {
        if (answered) return;
        answered = true;
        const why = err?.message ?? `stream closed before a response (RST_STREAM code ${stream.rstCode ?? 0})`;
        reject(
          new PortcullisError(
            'PCL_HBONE_CONNECT_FAILED',
            `HBONE CONNECT ${authority} via ${formatAuthority(gateway.host, gateway.port)} failed: ${why}`,
            { cause: err },
          ),
        );
      };
      stream.once('error', onEarlyClose);
      stream.once('close', () => onEarlyClose());
      stream.once('response', (responseHeaders: IncomingHttpHeaders) => {
        const status = Number(responseHeaders[':status']);
        if (status === 200) {
          answered = true;
          stream.off('error', onEarlyClose);
          stream.on('error', () => {}); // later resets surface to the caller through 'close' / stream.rstCode
          resolve({ status: 200, headers: responseHeaders, stream, traceparent });
          return;
        }
        // ztunnel: any status other than 200 is an error (`HttpStatus(code)`). Read a short body for the message.
        const chunks: Buffer[] = [];
        let size = 0;
        stream.on('data', (chunk: Buffer) => {
          if (size < MAX_ERROR_BODY) chunks.push(chunk.subarray(0, MAX_ERROR_BODY - size));
          size += chunk.length;
        });
        const finish = (): void => {
          if (answered) return;
          answered = true;
          const header = responseHeaders[REASON_HEADER];
          const body = Buffer.concat(chunks).toString('utf8').trim();
          const reason = (Array.isArray(header) ? header[0] : header) ?? (body === '' ? undefined : body);
          if (!stream.closed && !stream.destroyed) stream.close(NGHTTP2_CANCEL);
          reject(new HboneStatusError(status, responseHeaders, reason));
        };
        stream.once('end', finish);
        stream.once('close', finish);
        stream.resume();
      });
    });
  }

  /** Close every session (GOAWAY; open tunnels finish) and refuse new connects. */
  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#pools.values()].flat();
    await Promise.all(
      all.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.session.closed || p.session.destroyed) resolve();
            else p.session.close(() => resolve());
          }),
      ),
    );
  }

  /** Destroy every session now. */
  destroy(): void {
    this.#closed = true;
    for (const p of [...this.#pools.values()].flat()) p.session.destroy();
  }

  async #acquire(gateway: HboneGateway, sans: readonly string[]): Promise<PooledSession> {
    const key = `${formatAuthority(gateway.host, gateway.port)}|${[...sans].sort().join(',')}`;
    for (;;) {
      const list = this.#pools.get(key) ?? [];
      let pooled = list.find((p) => p.usable && p.active < p.maxStreams);
      if (pooled === undefined) pooled = this.#open(key, gateway, sans);
      pooled.active++;
      if (pooled.idleTimer !== null) clearTimeout(pooled.idleTimer);
      pooled.idleTimer = null;
      try {
        await pooled.ready;
      } catch (err) {
        pooled.active--;
        throw err;
      }
      // The peer's SETTINGS may have lowered the limit while we waited; then try another (or a new) session.
      if (pooled.active <= pooled.maxStreams && pooled.usable) return pooled;
      pooled.active--;
      this.#armIdle(pooled);
    }
  }

  #open(key: string, gateway: HboneGateway, sans: readonly string[]): PooledSession {
    const material = isSource(this.#options.certificates)
      ? this.#options.certificates.current()
      : this.#options.certificates;
    const connectTimeout = this.#options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    const settings: Settings = {
      initialWindowSize: STREAM_WINDOW_SIZE,
      maxFrameSize: MAX_FRAME_SIZE,
      maxHeaderListSize: CLIENT_MAX_HEADER_LIST_SIZE,
      enablePush: false,
    };
    const session = http2.connect(`https://${formatAuthority(gateway.host, gateway.port)}`, {
      settings,
      maxSessionMemory: MAX_SESSION_MEMORY_MB,
      peerMaxConcurrentStreams: this.#maxStreams,
      createConnection: () => {
        const socket = tls.connect({
          host: gateway.host,
          port: gateway.port,
          // No `servername`: ztunnel disables SNI (`enable_sni = false`); tls.connect sends none unless asked.
          ...hboneTlsOptions(material),
          ALPNProtocols: [HBONE_ALPN],
          rejectUnauthorized: true,
          // Chain validation is OpenSSL's; identity is the exact SPIFFE SAN match, not a hostname check.
          checkServerIdentity: (_host, cert) => verifyServerSan(cert, sans) ?? undefined,
        });
        // TCP_NODELAY, as on the server: without it small frames wait for the peer's delayed ACK.
        socket.setNoDelay(true);
        return socket;
      },
    });
    const list = this.#pools.get(key) ?? [];
    this.#pools.set(key, list);
    let settle: { resolve: () => void; reject: (err: Error) => void } | null = null;
    const ready = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    ready.catch(() => {}); // observed by each acquirer; avoid an unhandled rejection when nobody waits
    const pooled: PooledSession = {
      key,
      session,
      ready,
      active: 0,
      maxStreams: this.#maxStreams,
      usable: true,
      idleTimer: null,
    };
    list.push(pooled);

    const fail = (err: Error): void => {
      pooled.usable = false;
      if (settle === null) return;
      const s = settle;
      settle = null;
      clearTimeout(timer);
      const sanMismatch = (err as Error & { code?: string }).code === 'PCL_IDENTITY_SAN_MISMATCH';
      s.reject(
        sanMismatch
          ? new PortcullisError('PCL_IDENTITY_SAN_MISMATCH', err.message, { cause: err })
          : new PortcullisError(
              'PCL_HBONE_CONNECT_FAILED',
              `HBONE session to ${formatAuthority(gateway.host, gateway.port)} failed: ${err.message} (is port ${gateway.port} reachable, and do both sides share the root certificate?)`,
              { cause: err },
            ),
      );
    };
    const timer = setTimeout(() => {
      fail(new Error(`no HTTP/2 SETTINGS within ${connectTimeout} ms`));
      session.destroy();
    }, connectTimeout);
    timer.unref();

    session.on('error', (err) => fail(err));
    session.once('connect', (_s, socket) => {
      if ((socket as tls.TLSSocket).alpnProtocol !== HBONE_ALPN) {
        fail(new Error('gateway did not negotiate ALPN h2'));
        session.destroy();
        return;
      }
      try {
        session.setLocalWindowSize(CONNECTION_WINDOW_SIZE);
      } catch {
        // session already failing; 'error' / 'close' report it
      }
    });
    session.on('remoteSettings', (remote: Settings) => {
      pooled.maxStreams = Math.min(this.#maxStreams, remote.maxConcurrentStreams ?? Number.POSITIVE_INFINITY);
      if (settle !== null) {
        const s = settle;
        settle = null;
        clearTimeout(timer);
        s.resolve();
      }
    });
    session.on('goaway', () => {
      pooled.usable = false;
    });
    const stopKeepalive = startKeepalive(
      session,
      this.#options.keepaliveIntervalMs ?? KEEPALIVE_INTERVAL_MS,
      this.#options.keepaliveTimeoutMs ?? KEEPALIVE_TIMEOUT_MS,
      () => session.destroy(new Error('HBONE keepalive PING timed out')),
    );
    session.once('close', () => {
      stopKeepalive();
      pooled.usable = false;
      if (pooled.idleTimer !== null) clearTimeout(pooled.idleTimer);
      fail(new Error('session closed before it was ready'));
      const current = this.#pools.get(key);
      if (current !== undefined) {
        const i = current.indexOf(pooled);
        if (i >= 0) current.splice(i, 1);
        if (current.length === 0) this.#pools.delete(key);
      }
    });
    return pooled;
  }

  #armIdle(pooled: PooledSession): void {
    if (pooled.active > 0 || pooled.idleTimer !== null || pooled.session.closed) return;
    pooled.idleTimer = setTimeout(() => {
      pooled.idleTimer = null;
      if (pooled.active === 0 && !pooled.session.closed) {
        pooled.usable = false;
        pooled.session.close();
      }
    }, this.#options.poolIdleMs ?? POOL_IDLE_MS);
    pooled.idleTimer.unref();
  }
}
