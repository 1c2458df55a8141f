/**
 * The data plane's events, published on `node:diagnostics_channel` (as undici does) so the data path never calls a
 * logger or a metrics library: the access log, the metrics and any UI subscribe. Publishing to a channel without
 * subscribers costs a property check.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { ErrorCode } from '../errors/catalogue.ts';
import type { HboneRefusal } from './hbone-events.ts';
import type { RequestEvent } from './request-event.ts';

/** Channel names. Stable: external subscribers may use them. */
export const CHANNELS = {
  /** A tunnel was decided (allowed or denied): TunnelDecidedEvent. */
  tunnelDecided: 'portcullis:tunnel:decided',
  /** A tunnel ended (denied, failed, or closed after bytes flowed): TunnelRecord. One per tunnel. */
  tunnelClosed: 'portcullis:tunnel:closed',
  /** The HBONE layer refused a connection, session or stream: HboneRefusal. */
  hboneRefused: 'portcullis:hbone:refused',
  /** A new configuration snapshot is in force: ConfigEvent. */
  configApplied: 'portcullis:config:applied',
  /** A configuration error appeared or was fixed: ConfigIssueEvent. One of each per error. */
  configIssue: 'portcullis:config:issue',
  /** A configuration or certificate problem the gateway survived: GatewayProblemEvent. */
  problem: 'portcullis:gateway:problem',
  /** One HTTP request through the L7 waypoint finished: WaypointRequestRecord. */
  requestCompleted: 'portcullis:request:completed',
} as const;

/** Envoy-style response flags (Envoy access-log `%RESPONSE_FLAGS%`), so Istio dashboards read them. */
export type ResponseFlag =
  /** Nothing unusual. */
  | '-'
  /** Unauthorized: denied by policy (AuthorizationPolicy, egressPolicies, private-address guard). */
  | 'UAEX'
  /** Upstream connection failure. */
  | 'UF'
  /** No route: no such port, nothing to dial, or a TLS server name that is not the destination's. */
  | 'NR'
  /** DNS resolution failure. */
  | 'DF'
  /** Downstream (the caller) ended or reset the tunnel. */
  | 'DC'
  /** Upstream ended or reset the connection. */
  | 'UC'
  /** Idle timeout. */
  | 'SI'
  /** Closed locally (drain at shutdown). */
  | 'LR';

/** One policy layer's verdict as the access log shows it. */
export interface LayerSummary {
  readonly layer: string;
  readonly target: string;
  readonly decision: 'allow' | 'deny';
  readonly code: ErrorCode;
  readonly policy: string | null;
  readonly reason: string;
}

/** Summaries already made, by the layers they summarize (and each summary by itself): a decision shared by many tunnels is summarized once. */
const summaries = new WeakMap<readonly LayerSummary[], readonly LayerSummary[]>();

/**
 * Each layer's summary fields only (a policy `LayerRecord` also carries its rule and dry-run records), in log order.
 * The result is frozen and shared: the same `layers` array always gives the same summary.
 */
export function summarizeLayers(layers: readonly LayerSummary[]): readonly LayerSummary[] {
  const known = summaries.get(layers);
  if (known !== undefined) return known;
  const summary = Object.freeze(
    layers.map((l) =>
      Object.freeze({
        layer: l.layer,
        target: l.target,
        decision: l.decision,
        code: l.code,
        policy: l.policy,
        reason: l.reason,
      }),
    ),
  );
  summaries.set(layers, summary);
  summaries.set(summary, summary);
  return summary;
}

/**
 * Channels are process-wide; every event names the gateway instance that published it, so two gateways in one
 * process (tests, the quickstart) keep separate logs and metrics.
 */
export interface InstanceEvent {
  readonly instance: number;
}

/** What the tunnel was, as far as the gateway got in deciding it. */
export interface TunnelIdentity extends InstanceEvent {
  readonly tunnelId: number;
  readonly sessionId: number;
  /** Epoch ms when the CONNECT arrived. */
  readonly startMs: number;
  readonly sourcePrincipal: string;
  readonly sourceAddress: string;
  readonly sourcePort: number;
  readonly authority: string;
  /** `ns/name` of the Gateway that decided it, when a ServiceEntry destination was found. */
  readonly gateway: string | null;
  /** `ns/name` of the destination ServiceEntry, or null for an unknown destination. */
  readonly serviceEntry: string | null;
  readonly serviceEntryNamespace: string | null;
  /** The destination host (ServiceEntry host, or the authority host); null for an unknown IP. */
  readonly host: string | null;
  readonly port: number;
  readonly traceparent?: string;
  readonly baggage?: string;
  readonly forwarded?: string;
}

export interface TunnelDecidedEvent extends TunnelIdentity {
  readonly decision: 'allow' | 'deny';
  readonly code: ErrorCode;
  readonly reason: string;
  readonly layers: readonly LayerSummary[];
}

/** The access-log record of one tunnel, published once when it ends. */
export interface TunnelRecord extends TunnelIdentity {
  readonly durationMs: number;
  /** HTTP status answered on the CONNECT (0 when the stream vanished before an answer). */
  readonly status: number;
  /** The final verdict: `allow` for a tunnel that carried bytes and ended normally. */
  readonly decision: 'allow' | 'deny';
  readonly code: ErrorCode;
  readonly reason: string;
  readonly layers: readonly LayerSummary[];
  /** `ip:port` dialled, when one was. */
  readonly upstreamAddress: string | null;
  readonly sni: string | null;
  /** Bytes from the caller to the upstream. */
  readonly bytesReceived: number;
  /** Bytes from the upstream to the caller. */
  readonly bytesSent: number;
  readonly responseFlags: ResponseFlag;
}

export interface HboneRefusalEvent extends HboneRefusal, InstanceEvent {}

export interface ConfigEvent extends InstanceEvent {
  readonly generation: number;
  readonly servedGateways: readonly string[];
  readonly errors: number;
  readonly warnings: number;
  /** Tunnels closed because the new snapshot no longer allows them. */
  readonly tunnelsClosed: number;
  /** Configuration errors by kind (Settings, File, or the resource kind). */
  readonly errorsByKind?: Readonly<Record<string, number>>;
  /** Epoch ms of the reload that produced this snapshot. */
  readonly reloadedAtMs?: number;
  /** Learn mode is on: policy denials are allowed and logged as would-deny. */
  readonly learn?: boolean;
}

/** A configuration error that appeared (logged as an error) or was fixed (logged as info), with its place and code. */
export interface ConfigIssueEvent extends InstanceEvent {
  readonly state: 'appeared' | 'fixed';
  readonly code: ErrorCode;
  readonly kind: string;
  readonly ref: string;
  readonly file: string;
  readonly line: number;
  readonly message: string;
  readonly generation: number;
}

export interface GatewayProblemEvent extends InstanceEvent {
  readonly code: ErrorCode;
  readonly message: string;
}

const tunnelDecided = diagnosticsChannel.channel(CHANNELS.tunnelDecided);
const tunnelClosed = diagnosticsChannel.channel(CHANNELS.tunnelClosed);
const hboneRefused = diagnosticsChannel.channel(CHANNELS.hboneRefused);
const configApplied = diagnosticsChannel.channel(CHANNELS.configApplied);
const problem = diagnosticsChannel.channel(CHANNELS.problem);
const configIssue = diagnosticsChannel.channel(CHANNELS.configIssue);
const requestCompleted = diagnosticsChannel.channel(CHANNELS.requestCompleted);

/** An L7 waypoint request, tagged with the gateway instance that served it. */
export interface WaypointRequestRecord extends RequestEvent, InstanceEvent {}

/** Publishers: one function per channel, each a no-op when nobody listens. */
export const publish = {
  tunnelDecided(e: TunnelDecidedEvent): void {
    if (tunnelDecided.hasSubscribers) tunnelDecided.publish(e);
  },
  tunnelClosed(e: TunnelRecord): void {
    if (tunnelClosed.hasSubscribers) tunnelClosed.publish(e);
  },
  hboneRefused(e: HboneRefusalEvent): void {
    if (hboneRefused.hasSubscribers) hboneRefused.publish(e);
  },
  configApplied(e: ConfigEvent): void {
    if (configApplied.hasSubscribers) configApplied.publish(e);
  },
  configIssue(e: ConfigIssueEvent): void {
    if (configIssue.hasSubscribers) configIssue.publish(e);
  },
  problem(e: GatewayProblemEvent): void {
    if (problem.hasSubscribers) problem.publish(e);
  },
  requestCompleted(e: WaypointRequestRecord): void {
    if (requestCompleted.hasSubscribers) requestCompleted.publish(e);
  },
};

let nextInstance = 1;

/** A new instance number for a gateway's events. */
export function newInstanceId(): number {
  return nextInstance++;
}

/** Subscribe to one channel for one instance's events; returns the unsubscribe function. */
export function subscribe<T extends InstanceEvent>(
  name: (typeof CHANNELS)[keyof typeof CHANNELS],
  instance: number,
  listener: (message: T) => void,
): () => void {
  const fn = (message: unknown): void => {
    if ((message as InstanceEvent).instance === instance) listener(message as T);
  };
  diagnosticsChannel.subscribe(name, fn);
  return () => {
    diagnosticsChannel.unsubscribe(name, fn);
  };
}
