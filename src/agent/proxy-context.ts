/** What every proxy front-end of one workload shares: its tunnel opener, its log, and the sockets to close on stop. */
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { formatAuthority } from '../net/authority.ts';
import type { Refusal } from './refusal.ts';
import type { AgentTarget } from './route.ts';
import type { ClientAddress, OpenResult, TunnelOpener } from './tunnel-opener.ts';

export type ProxyProtocol = 'connect' | 'http' | 'socks5' | 'forward' | 'unknown';

/**
 * How long a client of a proxy port has, from connecting, to name its destination (first byte, SOCKS5 greeting and
 * request, or an HTTP request head): the gateway's TLS handshake budget, ztunnel's CONNECTION_TIMEOUT (10 s).
 */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

export class ProxyContext {
  readonly opener: TunnelOpener;
  readonly log: Logger;
  readonly handshakeTimeoutMs: number;
  readonly #streams = new Set<Duplex>();
  readonly #deadlines = new WeakMap<Duplex, NodeJS.Timeout>();
  #closed = false;

  constructor(opener: TunnelOpener, log: Logger, handshakeTimeoutMs = DEFAULT_HANDSHAKE_TIMEOUT_MS) {
    this.opener = opener;
    this.log = log;
    this.handshakeTimeoutMs = handshakeTimeoutMs;
  }

  /**
   * Start a client's handshake deadline. It runs from the connection, not from the last byte, so a client that
   * trickles its request a byte at a time is cut as surely as a silent one.
   */
  startHandshake(socket: Duplex & { remoteAddress?: string; remotePort?: number }): void {
    if (this.handshakeTimeoutMs <= 0) return;
    const client = clientOf(socket);
    const timer = setTimeout(() => {
      this.#deadlines.delete(socket);
      if (socket.destroyed) return;
      this.refused('unknown', client, null, {
        kind: 'badRequest',
        code: 'PCL_AGENT_HANDSHAKE_TIMEOUT',
        reason: `no complete proxy request (SOCKS5 or HTTP) within ${this.handshakeTimeoutMs} ms of connecting`,
      });
      socket.destroy();
    }, this.handshakeTimeoutMs);
    timer.unref();
    this.#deadlines.set(socket, timer);
    socket.once('close', () => this.handshakeDone(socket));
  }

  /** The client named its destination: its deadline no longer applies. */
  handshakeDone(socket: Duplex): void {
    const timer = this.#deadlines.get(socket);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#deadlines.delete(socket);
  }

  get identity(): string {
    return this.opener.identity;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Keep `stream` until it closes, so `destroyAll` can cut it; a stream tracked after close is cut at once. */
  track<T extends Duplex>(stream: T): T {
    if (this.#closed) {
      stream.destroy();
      return stream;
    }
    this.#streams.add(stream);
    stream.once('close', () => this.#streams.delete(stream));
    return stream;
  }

  /** Sockets and tunnels currently open (tests use it to prove nothing leaks). */
  get openStreams(): number {
    return this.#streams.size;
  }

  destroyAll(): void {
    this.#closed = true;
    for (const s of this.#streams) s.destroy();
    this.#streams.clear();
  }

  /**
   * Open a tunnel for a client socket that may hang up while it opens: the opening is aborted when the socket
   * closes, and a tunnel that opened anyway is destroyed and logged. Returns null in that case (nothing to answer).
   */
  async openFor(
    protocol: ProxyProtocol,
    socket: Duplex,
    client: ClientAddress,
    target: AgentTarget,
  ): Promise<OpenResult | null> {
    const abort = new AbortController();
    const onClose = (): void => abort.abort();
    socket.once('close', onClose);
    const result = await this.opener.open(target, client, abort.signal);
    socket.off('close', onClose);
    if (!socket.destroyed) return result;
    if (result.ok) result.stream.destroy();
    this.refused(protocol, client, target, {
      kind: 'gateway',
      code: 'PCL_AGENT_CLIENT_ABORTED',
      reason: 'the client went away before the tunnel was open',
    });
    return null;
  }

  /** Log a refusal (the logger is a child carrying the identity): one JSON line with who, what, and why (the client was told the same). */
  refused(protocol: ProxyProtocol, client: ClientAddress, target: AgentTarget | string | null, refusal: Refusal): void {
    const fields = {
      event: 'refused',
      protocol,
      client: formatAuthority(client.address, client.port),
      target: target === null ? null : typeof target === 'string' ? target : formatAuthority(target.host, target.port),
      code: refusal.code,
      reason: refusal.reason,
      decidingCode: refusal.decidingCode,
      gatewayStatus: refusal.gatewayStatus,
      errno: refusal.errno,
    };
    if (refusal.code === 'PCL_AGENT_CLIENT_ABORTED') this.log.info(fields, refusal.reason);
    else this.log.warn(fields, refusal.reason);
  }

  /** Log an opened tunnel (debug level: one line per connection is the gateway's access log's job). */
  opened(protocol: ProxyProtocol, client: ClientAddress, target: AgentTarget, via: string, upstream: string): void {
    this.log.debug(
      {
        event: 'tunnel',
        protocol,
        client: formatAuthority(client.address, client.port),
        target: formatAuthority(target.host, target.port),
        via,
        upstream,
      },
      'tunnel open',
    );
  }
}

/** The client address of a socket (a socket already closed may have lost it). */
export function clientOf(socket: { remoteAddress?: string; remotePort?: number }): ClientAddress {
  return { address: socket.remoteAddress ?? '0.0.0.0', port: socket.remotePort ?? 0 };
}
