/** ztunnel's HTTP/2 and transport constants for HBONE (ztunnel src/config.rs, src/proxy/h2.rs, src/proxy.rs). */
import { DEFAULT_GATEWAY_LIMITS, type GatewayLimits } from '../config/settings-types.ts';
import type { TlsMaterial } from '../identity/cert-store.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Initial stream flow-control window (`HTTP2_STREAM_WINDOW_SIZE`). */
export const STREAM_WINDOW_SIZE = 4 * MiB;
/** Connection window, 4× the stream window; equal values can deadlock (ztunnel comment). Set with `setLocalWindowSize`. */
export const CONNECTION_WINDOW_SIZE = 16 * MiB;
/** `HTTP2_FRAME_SIZE`. */
export const MAX_FRAME_SIZE = 1 * MiB;
/** Server `max_concurrent_streams`. */
const SERVER_MAX_CONCURRENT_STREAMS = 200;
/** Client `POOL_MAX_STREAMS_PER_CONNECTION`. */
export const CLIENT_MAX_STREAMS = 100;
/** Client `max_header_list_size`. */
export const CLIENT_MAX_HEADER_LIST_SIZE = 16 * KiB;
/** Server `max_header_list_size`. */
const SERVER_MAX_HEADER_LIST_SIZE = 64 * KiB;
/** Keepalive PING interval (first after one interval). */
export const KEEPALIVE_INTERVAL_MS = 10_000;
/** A PING unanswered for this long drops the connection. */
export const KEEPALIVE_TIMEOUT_MS = 20_000;
/** `CONNECTION_TIMEOUT`: the client's TCP connect and TLS handshake budget (the server's is `handshakeTimeoutMs`). */
export const CONNECT_TIMEOUT_MS = 10_000;
export { HBONE_PORT } from '../net/hbone-port.ts';
/** The only ALPN protocol HBONE speaks. */
export const HBONE_ALPN = 'h2';
/** TLS 1.3 suites ztunnel offers (TLS 1.2 is off by default). */
export const HBONE_CIPHERS = 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256';

/** The TLS settings both ends of HBONE share: the workload's chain and key, the mesh roots, TLS 1.3 only. */
export function hboneTlsOptions(material: TlsMaterial): {
  cert: string;
  key: string;
  ca: string;
  minVersion: 'TLSv1.3';
  maxVersion: 'TLSv1.3';
  ciphers: string;
} {
  return {
    cert: material.certChainPem,
    key: material.keyPem,
    ca: material.rootCertPem,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    ciphers: HBONE_CIPHERS,
  };
}

/**
 * Node keeps its own budget for data buffered per session (default 10 MB), and refuses new streams once it is
 * spent. With a 16 MiB connection window a busy session can legitimately hold more, so raise it (MB units).
 */
export const MAX_SESSION_MEMORY_MB = 64;

/** Limits the HBONE server enforces against hostile or broken clients. All configurable. */
export interface HboneLimits {
  /** Tunnels open across the whole server; more are answered 503. */
  readonly maxTunnels: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS advertised to each client. */
  readonly maxStreamsPerSession: number;
  /** Header list size (RFC 9113 §6.5.2: name + value + 32 per field) above which a request is answered 431. */
  readonly maxHeaderListSize: number;
  /** Streams a client may reset (or abandon) before they are answered, per `resetWindowMs`, before GOAWAY. */
  readonly maxResetsPerWindow: number;
  readonly resetWindowMs: number;
  /** From TCP accept to a verified peer, however the bytes trickle in; then the connection is closed. */
  readonly handshakeTimeoutMs: number;
  /** A session with no open tunnel for this long gets GOAWAY (0 = never). */
  readonly sessionIdleTimeoutMs: number;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveTimeoutMs: number;
  /**
   * TCP connections, in the handshake or established. At the limit a new connection first displaces the oldest one
   * still in the handshake; only when every connection is established is the newcomer refused.
   */
  readonly maxConnections: number;
  /** Connections in the TLS handshake; at the limit the oldest of them is closed to admit a new one. */
  readonly maxPendingHandshakes: number;
  /** Connections in the TLS handshake from one source address; more from that address are refused at once. */
  readonly maxPendingHandshakesPerSource: number;
  /** Tunnels of one SPIFFE identity across all its sessions; more are answered 503. */
  readonly maxTunnelsPerIdentity: number;
  /** Tunnels on one session; more are answered 503 (below SETTINGS_MAX_CONCURRENT_STREAMS, so the reason is sent). */
  readonly maxTunnelsPerSession: number;
}

/** The limits portcullis.yaml also sets come from its defaults (config/settings-types.ts), one home per number. */
export const DEFAULT_HBONE_LIMITS: HboneLimits = {
  maxTunnels: DEFAULT_GATEWAY_LIMITS.maxTunnels,
  maxStreamsPerSession: SERVER_MAX_CONCURRENT_STREAMS,
  maxHeaderListSize: SERVER_MAX_HEADER_LIST_SIZE,
  // A conforming client resets a stream only when its own caller gives up; 100 per second is far above that.
  maxResetsPerWindow: 100,
  resetWindowMs: 1000,
  handshakeTimeoutMs: DEFAULT_GATEWAY_LIMITS.handshakeTimeoutMs,
  // ztunnel's client pool releases an unused connection after 5 minutes (POOL_UNUSED_RELEASE_TIMEOUT).
  sessionIdleTimeoutMs: 5 * 60_000,
  keepaliveIntervalMs: KEEPALIVE_INTERVAL_MS,
  keepaliveTimeoutMs: KEEPALIVE_TIMEOUT_MS,
  maxConnections: DEFAULT_GATEWAY_LIMITS.maxConnections,
  maxPendingHandshakes: DEFAULT_GATEWAY_LIMITS.maxPendingHandshakes,
  maxPendingHandshakesPerSource: DEFAULT_GATEWAY_LIMITS.maxPendingHandshakesPerSource,
  maxTunnelsPerIdentity: DEFAULT_GATEWAY_LIMITS.maxTunnelsPerIdentity,
  maxTunnelsPerSession: DEFAULT_GATEWAY_LIMITS.maxTunnelsPerSession,
};

/** The part of portcullis.yaml's `limits:` the HBONE server enforces. */
export function hboneLimitsFrom(limits: GatewayLimits): Partial<HboneLimits> {
  return {
    maxConnections: limits.maxConnections,
    maxPendingHandshakes: limits.maxPendingHandshakes,
    maxPendingHandshakesPerSource: limits.maxPendingHandshakesPerSource,
    handshakeTimeoutMs: limits.handshakeTimeoutMs,
    maxTunnels: limits.maxTunnels,
    maxTunnelsPerIdentity: limits.maxTunnelsPerIdentity,
    maxTunnelsPerSession: limits.maxTunnelsPerSession,
  };
}
