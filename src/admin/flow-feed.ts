/**
 * The flow map's feed from one gateway instance: subscribes to the decision, close, request, config and problem
 * events, and hands them on in batches (at most one every `intervalMs`, each bounded), either to the hub in the same
 * process or over IPC to the primary (`serve --workers`). Bounded: a burst beyond `maxQueue` is counted, not kept.
 */
import {
  CHANNELS,
  subscribe,
  type ConfigEvent,
  type GatewayProblemEvent,
  type TunnelDecidedEvent,
  type TunnelRecord,
  type WaypointRequestRecord,
} from '../events/diagnostics.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import { flowFromClosed, flowFromDecided, flowFromRequest, type ObservedFlow } from '../learn/observed-flow.ts';

/** Decisions that mean a layer failed closed on a fault rather than on a policy. */
const FAIL_CLOSED_CODES = new Set([
  'PCL_AUTHZ_DENIED_CUSTOM_UNSUPPORTED',
  'PCL_AUTHZ_DENIED_NO_LAYERS',
  'PCL_DATAPLANE_GATEWAY_NOT_SERVED',
]);

export interface ConfigErrorView {
  readonly code: string;
  readonly where: string;
  readonly message: string;
}

/** What the banner and header show: the gateway, its configuration and what it survived. */
export interface GatewayStatusView {
  readonly gateways: readonly string[];
  readonly generation: number;
  readonly startedMs: number;
  readonly learn: boolean;
  readonly configErrors: readonly ConfigErrorView[];
  readonly configErrorCount: number;
  readonly warnings: number;
  readonly problems: readonly { readonly t: number; readonly code: string; readonly message: string }[];
  /** `code: layer target` of every layer seen failing closed. */
  readonly failClosed: readonly string[];
}

export interface FlowSink {
  flows(batch: readonly ObservedFlow[], dropped: number): void;
  status(status: GatewayStatusView): void;
}

export interface FlowFeedOptions {
  readonly instance: number;
  snapshot(): Snapshot;
  readonly startedMs: number;
  readonly sink: FlowSink;
  readonly intervalMs?: number;
  readonly maxQueue?: number;
}

const MAX_ERRORS_SHOWN = 20;
const MAX_PROBLEMS = 20;
const MAX_FAIL_CLOSED = 50;

/** The status of a snapshot, for the banner. */
export function statusOf(
  snap: Snapshot,
  startedMs: number,
  problems: GatewayStatusView['problems'],
  failClosed: readonly string[],
): GatewayStatusView {
  const errors = snap.diagnostics.filter((d) => d.severity === 'error');
  return {
    gateways: snap.servedGateways().map((g) => g.ref),
    generation: snap.generation,
    startedMs,
    learn: snap.settings.learn === true,
    configErrors: errors.slice(0, MAX_ERRORS_SHOWN).map((d) => ({
      code: d.code,
      where: `${d.file}:${d.line}:${d.column}${d.kind ? ` ${d.kind} ${d.namespace ?? ''}/${d.name ?? ''}` : ''}`,
      message: d.message,
    })),
    configErrorCount: errors.length,
    warnings: snap.diagnostics.filter((d) => d.severity === 'warning').length,
    problems,
    failClosed,
  };
}

/** Start feeding; returns the function that stops it (flushing what is queued). */
export function startFlowFeed(opts: FlowFeedOptions): () => void {
  const maxQueue = opts.maxQueue ?? 5000;
  let queue: ObservedFlow[] = [];
  let dropped = 0;
  const problems: { t: number; code: string; message: string }[] = [];
  const failClosed = new Set<string>();
  let statusDirty = true;
  let servicePort = new Map<string, number>();
  const push = (f: ObservedFlow | null): void => {
    if (f === null) return;
    if (queue.length >= maxQueue) {
      dropped++;
      return;
    }
    queue.push(f);
    if (f.counted && FAIL_CLOSED_CODES.has(f.code) && failClosed.size < MAX_FAIL_CLOSED) {
      const layer = f.layers.find((l) => l.decision === 'deny');
      const key = `${f.code}: ${layer ? `${layer.layer} ${layer.target}` : (f.gateway ?? f.authority)}`;
      if (!failClosed.has(key)) {
        failClosed.add(key);
        statusDirty = true;
      }
    }
  };
  const unsubscribe = [
    subscribe<TunnelDecidedEvent>(CHANNELS.tunnelDecided, opts.instance, (e) => {
      if (e.serviceEntry !== null) servicePort.set(e.serviceEntry, e.port);
      push(flowFromDecided(e));
    }),
    subscribe<TunnelRecord>(CHANNELS.tunnelClosed, opts.instance, (e) => push(flowFromClosed(e))),
    subscribe<WaypointRequestRecord>(CHANNELS.requestCompleted, opts.instance, (e) =>
      push(flowFromRequest(e, servicePort.get(e.serviceEntry) ?? 80)),
    ),
    subscribe<ConfigEvent>(CHANNELS.configApplied, opts.instance, () => {
      statusDirty = true;
      if (servicePort.size > 10_000) servicePort = new Map();
    }),
    subscribe<GatewayProblemEvent>(CHANNELS.problem, opts.instance, (e) => {
      problems.push({ t: Date.now(), code: e.code, message: e.message });
      if (problems.length > MAX_PROBLEMS) problems.shift();
      statusDirty = true;
    }),
  ];
  const flush = (): void => {
    if (statusDirty) {
      statusDirty = false;
      opts.sink.status(statusOf(opts.snapshot(), opts.startedMs, [...problems], [...failClosed].sort()));
    }
    if (queue.length === 0 && dropped === 0) return;
    const batch = queue;
    const lost = dropped;
    queue = [];
    dropped = 0;
    opts.sink.flows(batch, lost);
  };
  flush();
  const timer = setInterval(flush, opts.intervalMs ?? 200);
  timer.unref();
  return () => {
    clearInterval(timer);
    for (const u of unsubscribe) u();
    flush();
  };
}
