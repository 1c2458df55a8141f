/** The event the waypoint emits once per HTTP request: the access-log line and the metrics are built from it. */

export interface RequestEvent {
  readonly type: 'waypoint.request';
  /** ISO time the request headers arrived. */
  readonly startTime: string;
  /** The same instant in epoch milliseconds (so consumers need not parse `startTime`). */
  readonly startMs?: number;
  readonly method: string;
  /** The request's Host / `:authority` as the client sent it. */
  readonly authority: string;
  /** The request target (path and query) as the client sent it. */
  readonly path: string;
  readonly status: number;
  /** PCL_WAYPOINT_* when the waypoint answered itself, else null. */
  readonly code: string | null;
  /** Why the waypoint answered itself (also sent as `x-portcullis-reason`), else null. */
  readonly reason: string | null;
  /** Envoy-style response flags: `-`, NR (no route), UF (upstream failure), UPE (upstream protocol error), DPE. */
  readonly responseFlags: string;
  /** The caller's verified SPIFFE ID. */
  readonly principal: string;
  readonly peerAddress: string;
  /** `namespace/name` of the Gateway and of the tunnel's ServiceEntry. */
  readonly gateway: string;
  readonly serviceEntry: string;
  /** The route that matched: `namespace/name` and rule index; null when none did or none is attached. */
  readonly route: { readonly name: string; readonly rule: number } | null;
  /** `host:port` of the backend the request went (or would have gone) to. */
  readonly backend: string | null;
  readonly destinationRule: string | null;
  /** The external identity used: the client certificate's subject, e.g. `CN=team-namespace.app1`. */
  readonly externalIdentity: string | null;
  /** `namespace/name` of the Secret the client certificate came from. */
  readonly secret: string | null;
  /** `ip:port` actually dialled. */
  readonly upstreamAddress: string | null;
  readonly sni: string | null;
  /** The policy that decided (the deny for a 403, the allow otherwise), null when none decided. */
  readonly policy: string | null;
  /** Request body bytes received from the caller, response body bytes sent back. */
  readonly bytesReceived: number;
  readonly bytesSent: number;
  readonly durationMs: number;
  /** Weakened verification and similar things an operator should see (logged as warnings). */
  readonly warnings: readonly string[];
}
