/**
 * What the HBONE server reports. The server is an EventEmitter; the data plane, access log and metrics subscribe:
 *  - 'refused'       (HboneRefusal)      a connection, session or stream was refused or torn down for cause
 *  - 'session'       (HboneSessionInfo)  an authenticated HTTP/2 session started
 *  - 'session-closed'(HboneSessionInfo)  it ended
 *  - 'tunnel-closed' (HboneTunnelClosed) the gateway closed an open tunnel with `request.close(reason)`
 * Events are emitted synchronously and never carry secrets; listeners must not throw.
 */
import type { ErrorCode } from '../errors/catalogue.ts';

export type HboneRefusalStage = 'tls' | 'session' | 'stream';

export interface HboneRefusal {
  readonly code: ErrorCode;
  readonly stage: HboneRefusalStage;
  readonly reason: string;
  /** Remote TCP address of the client, when known. */
  readonly peerAddress?: string;
  readonly peerPort?: number;
  /** The verified SPIFFE ID, once TLS has established it. */
  readonly peer?: string;
  readonly sessionId?: number;
  /** HTTP status answered, for stream refusals. */
  readonly status?: number;
  readonly authority?: string;
}

export interface HboneSessionInfo {
  readonly sessionId: number;
  readonly peer: string;
  readonly peerAddress: string;
  readonly peerPort: number;
}

export interface HboneTunnelClosed {
  readonly code: 'PCL_HBONE_TUNNEL_CLOSED';
  readonly tunnelId: number;
  readonly sessionId: number;
  readonly peer: string;
  readonly authority: string;
  readonly reason: string;
}
