/**
 * One observed egress decision in the shape the flow map and `suggest` share, built from the gateway's events or
 * from its JSON access log (the same fields either way). Pure: parsing only, no files or sockets.
 */
import { ipFamily } from '../net/ip-syntax.ts';
import {
  summarizeLayers,
  type TunnelDecidedEvent,
  type TunnelRecord,
  type WaypointRequestRecord,
} from '../events/diagnostics.ts';
import { isWouldDeny, WOULD_DENY } from './learn-mode.ts';

export type FlowDecision = 'allow' | 'deny' | typeof WOULD_DENY;

/** A policy layer's verdict, as the access log and `check` name it. */
export interface FlowLayer {
  readonly layer: string;
  readonly target: string;
  readonly decision: string;
  readonly code: string;
  readonly policy: string | null;
  readonly reason: string;
}

export interface ObservedFlow {
  /** Epoch ms of the decision. */
  readonly t: number;
  /** `tunnel` (L4, one per CONNECT) or `request` (one L7 request through the waypoint). */
  readonly kind: 'tunnel' | 'request';
  /** Counted as a decision (false: only bytes of a tunnel already counted when it was decided). */
  readonly counted: boolean;
  readonly source: string;
  /** `ns/name` of the Gateway that decided it, null for an unknown destination. */
  readonly gateway: string | null;
  readonly serviceEntry: string | null;
  /** The destination host name (ServiceEntry host or the name asked for); null when only an IP was asked for. */
  readonly host: string | null;
  /** The authority as the caller sent it (`host:port` or `ip:port`). */
  readonly authority: string;
  readonly port: number;
  /** `ip:port` dialled, when one was. */
  readonly upstream: string | null;
  readonly sni: string | null;
  readonly decision: FlowDecision;
  readonly code: string;
  readonly reason: string;
  readonly layers: readonly FlowLayer[];
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly method?: string;
  readonly path?: string;
}

/** `namespace` of a SPIFFE ID (`spiffe://td/ns/NS/sa/SA`), or `(unknown)`. */
export function namespaceOf(principal: string): string {
  return /\/ns\/([^/]+)\/sa\//.exec(principal)?.[1] ?? '(unknown)';
}

function hostOfAuthority(authority: string): string {
  const m = /^\[([^\]]+)\]:\d+$/.exec(authority) ?? /^(.*):\d+$/.exec(authority);
  return m ? m[1] : authority;
}

/**
 * Whether the destination was named only by an IP address (no host name to write a ServiceEntry for). A VIP
 * authority (what ztunnel sends) still has its ServiceEntry host, so the host decides, not the authority.
 */
export function isIpOnly(f: Pick<ObservedFlow, 'host' | 'authority'>): boolean {
  return f.host === null || ipFamily(f.host) !== 0;
}

/** The code the data plane gives an L7 tunnel before any request in it is decided: not a decision of its own. */
const HTTP_TUNNEL_CODE = 'PCL_DATAPLANE_HTTP_TUNNEL';

/** The fields a decided and a closed tunnel share. */
function tunnelFlow(e: TunnelDecidedEvent | TunnelRecord, t: number, counted: boolean): ObservedFlow {
  const closed = 'durationMs' in e;
  return {
    t,
    kind: 'tunnel',
    counted,
    source: e.sourcePrincipal,
    gateway: e.gateway,
    serviceEntry: e.serviceEntry,
    host: e.host,
    authority: e.authority,
    port: e.port,
    upstream: closed ? e.upstreamAddress : null,
    sni: closed ? e.sni : null,
    decision: isWouldDeny(e.decision, e.layers) ? WOULD_DENY : e.decision,
    code: e.code,
    reason: e.reason,
    layers: summarizeLayers(e.layers),
    bytesIn: closed ? e.bytesReceived : 0,
    bytesOut: closed ? e.bytesSent : 0,
  };
}

/** A decided tunnel (counted once, no bytes yet). */
export function flowFromDecided(e: TunnelDecidedEvent): ObservedFlow | null {
  return e.code === HTTP_TUNNEL_CODE ? null : tunnelFlow(e, e.startMs, true);
}

/** A closed tunnel: its bytes (its decision was counted when it was decided). */
export function flowFromClosed(e: TunnelRecord): ObservedFlow | null {
  return e.code === HTTP_TUNNEL_CODE ? null : tunnelFlow(e, e.startMs + e.durationMs, false);
}

function requestDecision(status: number, code: string | null, warnings: readonly string[]): FlowDecision {
  if (warnings.some((w) => w.startsWith(`${WOULD_DENY}:`))) return WOULD_DENY;
  return code === 'PCL_WAYPOINT_DENIED' || status === 403 ? 'deny' : 'allow';
}

function portOf(authority: string, fallback: number): number {
  const m = /:(\d+)$/.exec(authority);
  return m ? Number(m[1]) : fallback;
}

/** One L7 request through the waypoint (counted, with its bytes). */
export function flowFromRequest(e: WaypointRequestRecord, port: number): ObservedFlow {
  const decision = requestDecision(e.status, e.code, e.warnings);
  const host = hostOfAuthority(e.authority).toLowerCase();
  return {
    t: e.startMs ?? (Date.parse(e.startTime) || Date.now()),
    kind: 'request',
    counted: true,
    source: e.principal,
    gateway: e.gateway,
    serviceEntry: e.serviceEntry,
    host,
    authority: e.authority,
    port: portOf(e.authority, port),
    upstream: e.upstreamAddress,
    sni: e.sni,
    decision,
    code: e.code ?? 'PCL_AUTHZ_ALLOWED_BY_POLICY',
    reason:
      e.reason ?? e.warnings.find((w) => w.startsWith(WOULD_DENY)) ?? `${e.method} ${e.path} answered ${e.status}`,
    layers: e.policy
      ? [
          {
            layer: 'http',
            target: e.serviceEntry,
            decision: decision === 'deny' ? 'deny' : 'allow',
            code: e.code ?? '',
            policy: e.policy,
            reason: e.reason ?? '',
          },
        ]
      : [],
    bytesIn: e.bytesReceived,
    bytesOut: e.bytesSent,
    method: e.method,
    path: e.path,
  };
}

/** Why an access-log line could not be used (the caller names the file and line). */
export class BadLogLine extends Error {}

function str(o: Record<string, unknown>, k: string): string | null {
  const v = o[k];
  return typeof v === 'string' ? v : null;
}

function num(o: Record<string, unknown>, k: string): number {
  const v = o[k];
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/**
 * One line of `portcullis serve`'s JSON access log as an observed flow: tunnel and request lines count; other lines
 * (configuration, refusals, problems) return null. Throws BadLogLine for a line that is not a JSON object.
 */
export function flowFromLogLine(line: string): ObservedFlow | null {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    throw new BadLogLine('not JSON');
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new BadLogLine('not a JSON object');
  const r = o as Record<string, unknown>;
  if (r.type !== 'tunnel' && r.type !== 'request') return null;
  const source = str(r, 'source_principal');
  const authority = str(r, 'authority');
  if (source === null || authority === null)
    throw new BadLogLine(`a ${String(r.type)} line without source_principal or authority`);
  const t = Date.parse(str(r, 'start') ?? str(r, 'start_time') ?? '') || 0;
  if (r.type === 'request') {
    const status = num(r, 'status');
    const warnings = Array.isArray(r.warnings) ? r.warnings.filter((w): w is string => typeof w === 'string') : [];
    const decision = requestDecision(status, str(r, 'code'), warnings);
    return {
      t,
      kind: 'request',
      counted: true,
      source,
      gateway: str(r, 'gateway'),
      serviceEntry: str(r, 'service_entry'),
      host: hostOfAuthority(authority).toLowerCase(),
      authority,
      port: portOf(authority, 80),
      upstream: str(r, 'upstream_address'),
      sni: str(r, 'sni'),
      decision,
      code: str(r, 'code') ?? 'PCL_AUTHZ_ALLOWED_BY_POLICY',
      reason: str(r, 'reason') ?? '',
      layers: [],
      bytesIn: num(r, 'bytes_received'),
      bytesOut: num(r, 'bytes_sent'),
      method: str(r, 'method') ?? undefined,
      path: str(r, 'path') ?? undefined,
    };
  }
  const code = str(r, 'code') ?? '';
  if (code === HTTP_TUNNEL_CODE) return null;
  const layers: FlowLayer[] = Array.isArray(r.policies)
    ? r.policies
        .filter((p): p is Record<string, unknown> => typeof p === 'object' && p !== null)
        .map((p) => ({
          layer: str(p, 'layer') ?? '',
          target: str(p, 'target') ?? '',
          decision: str(p, 'decision') ?? '',
          code: str(p, 'code') ?? '',
          policy: str(p, 'policy'),
          reason: str(p, 'reason') ?? '',
        }))
    : [];
  const logged = str(r, 'decision');
  const learned = logged === WOULD_DENY || isWouldDeny(logged ?? '', layers);
  const decision: FlowDecision = learned ? WOULD_DENY : logged === 'allow' ? 'allow' : 'deny';
  return {
    t,
    kind: 'tunnel',
    counted: true,
    source,
    gateway: str(r, 'gateway'),
    serviceEntry: str(r, 'service_entry'),
    host: str(r, 'host'),
    authority,
    port: typeof r.port === 'number' ? r.port : portOf(authority, 0),
    upstream: str(r, 'upstream_address'),
    sni: str(r, 'sni'),
    decision,
    code,
    reason: str(r, 'reason') ?? '',
    layers,
    bytesIn: num(r, 'bytes_received'),
    bytesOut: num(r, 'bytes_sent'),
  };
}
