/**
 * Prometheus metrics with Istio's standard TCP names and labels (ztunnel src/proxy/metrics.rs), so existing Istio
 * dashboards work, plus `portcullis_authz_decisions_total` and what an operator watches for exhaustion: open tunnels,
 * connections still in the TLS handshake, refusals by limit and event-loop delay. Fed by the data plane's channels
 * (and, at scrape time, the listener's counts), on a Registry of its own (never prom-client's global one, so two
 * gateways in one process do not share counters).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Registry } from 'prom-client';
import { KNOWN_KINDS } from '../config/types.ts';
import { LabelSets, Tally } from './tally.ts';
import {
  CHANNELS,
  subscribe,
  type ConfigEvent,
  type HboneRefusalEvent,
  type LayerSummary,
  type TunnelDecidedEvent,
  type TunnelIdentity,
  type TunnelRecord,
} from '../events/diagnostics.ts';

const ISTIO_LABELS = [
  'reporter',
  'source_principal',
  'source_workload_namespace',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'response_flags',
  'connection_security_policy',
] as const;

/** The HBONE listener's connection counts, read at each scrape. */
export interface ConnectionCounts {
  readonly pendingHandshakes: number;
  readonly connections: number;
}

export interface GatewayMetrics {
  readonly registry: Registry;
  /** Report the listener's connections (in the TLS handshake, established) from `counts` at each scrape. */
  watchConnections(counts: () => ConnectionCounts): void;
  close(): void;
}

/** Resolution of the event-loop delay histogram (perf_hooks monitorEventLoopDelay), in ms. */
const LOOP_DELAY_RESOLUTION_MS = 10;

/** The namespace of a SPIFFE ID (`spiffe://td/ns/<ns>/sa/<sa>`), or 'unknown'. */
function namespaceOf(principal: string): string {
  const m = /^spiffe:\/\/[^/]+\/ns\/([^/]+)\/sa\/[^/]+$/.exec(principal);
  return m ? m[1] : 'unknown';
}

type IstioLabels = Record<(typeof ISTIO_LABELS)[number], string>;

function istioLabels(t: TunnelIdentity, flags: string): IstioLabels {
  const seName = t.serviceEntry === null ? 'unknown' : t.serviceEntry.slice(t.serviceEntry.indexOf('/') + 1);
  return {
    // Istio waypoints report as "waypoint" (ztunnel uses source/destination; Envoy waypoints set reporter=waypoint).
    reporter: 'waypoint',
    source_principal: t.sourcePrincipal,
    source_workload_namespace: namespaceOf(t.sourcePrincipal),
    destination_service: t.host ?? t.authority,
    destination_service_name: seName,
    destination_service_namespace: t.serviceEntryNamespace ?? 'unknown',
    response_flags: flags,
    // HBONE is always mTLS.
    connection_security_policy: 'mutual_tls',
  };
}

/** Create the metrics of one gateway instance and subscribe them to its events. */
export function startMetrics(instance: number): GatewayMetrics {
  const registry = new Registry();
  // Per-tunnel counts are tallied as numbers per (reused) label set and handed to prom-client when it collects
  // (tally.ts): the tunnel path does Map updates only.
  // The service entry's namespace is part of its `ns/name` ref, so (principal, destination, service entry, flags)
  // determines every Istio label.
  const tunnelLabels = new LabelSets<IstioLabels>();
  const istioOf = (t: TunnelIdentity, flags: string): IstioLabels =>
    tunnelLabels.get(t.sourcePrincipal, t.host ?? t.authority, t.serviceEntry ?? '', flags, () =>
      istioLabels(t, flags),
    );
  type DecisionLabels = { decision: string; layer: string; code: string };
  const decisionLabels = new LabelSets<DecisionLabels>();
  const decisionOf = (decision: string, layer: string, code: string): DecisionLabels =>
    decisionLabels.get(decision, layer, code, '', () => ({ decision, layer, code }));
  // A decision's layer summaries are shared by the tunnels that repeat it (summarizeLayers): their labels too.
  const layerLabels = new WeakMap<LayerSummary, DecisionLabels>();
  const layerOf = (l: LayerSummary): DecisionLabels => {
    let labels = layerLabels.get(l);
    if (labels === undefined) {
      labels = decisionOf(l.decision, l.layer, l.code);
      layerLabels.set(l, labels);
    }
    return labels;
  };
  type OpenLabels = { gateway: string; source_workload_namespace: string };
  const openLabels = new LabelSets<OpenLabels>();
  const tallies = {
    opened: new Tally<IstioLabels>(),
    closed: new Tally<IstioLabels>(),
    sent: new Tally<IstioLabels>(),
    received: new Tally<IstioLabels>(),
    decisions: new Tally<DecisionLabels>(),
    /** Net change of open tunnels per label set since the last collect (may be negative). */
    open: new Tally<OpenLabels>(),
  };
  new Counter({
    name: 'istio_tcp_connections_opened_total',
    help: 'The total number of TCP connections opened',
    labelNames: ISTIO_LABELS,
    registers: [registry],
    // Called by prom-client before the metric is read (registry.metrics(), the workers' aggregation).
    collect() {
      tallies.opened.drain((l, n) => this.inc(l, n));
    },
  });
  new Counter({
    name: 'istio_tcp_connections_closed_total',
    help: 'The total number of TCP connections closed',
    labelNames: ISTIO_LABELS,
    registers: [registry],
    collect() {
      tallies.closed.drain((l, n) => this.inc(l, n));
    },
  });
  new Counter({
    name: 'istio_tcp_sent_bytes_total',
    help: 'The size of total bytes sent during response in case of a TCP connection',
    labelNames: ISTIO_LABELS,
    registers: [registry],
    collect() {
      tallies.sent.drain((l, n) => this.inc(l, n));
    },
  });
  new Counter({
    name: 'istio_tcp_received_bytes_total',
    help: 'The size of total bytes received during request in case of a TCP connection',
    labelNames: ISTIO_LABELS,
    registers: [registry],
    collect() {
      tallies.received.drain((l, n) => this.inc(l, n));
    },
  });
  new Counter({
    name: 'portcullis_authz_decisions_total',
    help: 'Authorization decisions per layer (gateway, serviceentry, egressPolicies) and code',
    labelNames: ['decision', 'layer', 'code'] as const,
    registers: [registry],
    collect() {
      tallies.decisions.drain((l, n) => this.inc(l, n));
    },
  });

  new Gauge({
    name: 'portcullis_open_tunnels',
    help: "Tunnels allowed and not yet closed, per Gateway and source identity's namespace",
    labelNames: ['gateway', 'source_workload_namespace'] as const,
    registers: [registry],
    collect() {
      tallies.open.drain((l, n) => (n >= 0 ? this.inc(l, n) : this.dec(l, -n)));
    },
  });
  // tunnelId -> its labels, so the close decrements exactly what the open incremented.
  const open = new Map<number, { gateway: string; source_workload_namespace: string }>();
  let connectionCounts: (() => ConnectionCounts) | null = null;
  new Gauge({
    name: 'portcullis_hbone_connections',
    help: 'TCP connections on the HBONE port: state="handshake" have not finished TLS, state="established" have',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      if (connectionCounts === null) return;
      const c = connectionCounts();
      this.set({ state: 'handshake' }, c.pendingHandshakes);
      this.set({ state: 'established' }, Math.max(0, c.connections - c.pendingHandshakes));
    },
  });
  const refusals = new Counter({
    name: 'portcullis_hbone_refusals_total',
    help: 'Connections, sessions and streams the HBONE layer refused or closed, by code (each limit has its own) and stage',
    labelNames: ['code', 'stage'] as const,
    registers: [registry],
  });
  const loop = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  loop.enable();
  new Gauge({
    name: 'portcullis_event_loop_delay_seconds',
    help: 'Event-loop delay since the previous scrape (perf_hooks monitorEventLoopDelay): p50, p99 and max',
    labelNames: ['quantile'] as const,
    registers: [registry],
    // Workers are separate event loops: the primary reports the worst of them, not a sum.
    aggregator: 'max',
    collect() {
      const seconds = (ns: number): number => (Number.isFinite(ns) ? ns / 1e9 : 0);
      this.set({ quantile: '0.5' }, seconds(loop.percentile(50)));
      this.set({ quantile: '0.99' }, seconds(loop.percentile(99)));
      this.set({ quantile: 'max' }, seconds(loop.max));
      loop.reset();
    },
  });

  const unsubscribe = [
    // ztunnel counts a connection as opened before RBAC runs (ConnectionOpen), so denied ones are counted too.
    subscribe<TunnelDecidedEvent>(CHANNELS.tunnelDecided, instance, (e) => {
      tallies.opened.add(istioOf(e, '-'));
      for (const l of e.layers) tallies.decisions.add(layerOf(l));
      if (e.decision === 'allow' && !open.has(e.tunnelId)) {
        const gateway = e.gateway ?? 'none';
        const labels = openLabels.get(gateway, e.sourcePrincipal, '', '', () => ({
          gateway,
          source_workload_namespace: namespaceOf(e.sourcePrincipal),
        }));
        open.set(e.tunnelId, labels);
        tallies.open.add(labels, 1);
      }
    }),
    subscribe<HboneRefusalEvent>(CHANNELS.hboneRefused, instance, (r) =>
      refusals.inc({ code: r.code, stage: r.stage }),
    ),
    subscribe<TunnelRecord>(CHANNELS.tunnelClosed, instance, (r) => {
      const was = open.get(r.tunnelId);
      if (was !== undefined) {
        open.delete(r.tunnelId);
        tallies.open.add(was, -1);
      }
      const labels = istioOf(r, r.responseFlags);
      tallies.closed.add(labels);
      if (r.bytesSent > 0) tallies.sent.add(labels, r.bytesSent);
      if (r.bytesReceived > 0) tallies.received.add(labels, r.bytesReceived);
      // A refusal after the policy layers allowed (guard, SNI, policy change) is a decision of its own.
      if (r.decision === 'deny' && !r.layers.some((l) => l.decision === 'deny')) {
        tallies.decisions.add(decisionOf('deny', 'dataplane', r.code));
      }
    }),
  ];
  unsubscribe.push(observeConfig(registry, instance));
  return {
    registry,
    watchConnections(counts) {
      connectionCounts = counts;
    },
    close(): void {
      for (const u of unsubscribe) u();
      loop.disable();
    },
  };
}

// ---- configuration health: errors by kind, the generation in force, and the time and result of the last reload ----

/** Every kind an error can be counted under, exported at 0 so dashboards see the series before the first error. */
const CONFIG_ERROR_KINDS = ['Settings', 'File', ...KNOWN_KINDS];

/** Register the configuration gauges and feed them from configApplied; returns the unsubscribe function. */
function observeConfig(registry: Registry, instance: number): () => void {
  const errors = new Gauge({
    name: 'portcullis_config_errors',
    help: 'Configuration errors in force, by kind (each invalid resource fails closed until it is fixed)',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const generation = new Gauge({
    name: 'portcullis_config_generation',
    help: 'Generation of the configuration snapshot in force',
    registers: [registry],
  });
  const reloadTime = new Gauge({
    name: 'portcullis_config_last_reload_timestamp_seconds',
    help: 'When the configuration was last (re)loaded, in seconds since the epoch',
    registers: [registry],
  });
  const reloadOk = new Gauge({
    name: 'portcullis_config_last_reload_success',
    help: '1 when the last (re)load had no configuration error, 0 when it had some (they fail closed)',
    registers: [registry],
  });
  for (const kind of CONFIG_ERROR_KINDS) errors.set({ kind }, 0);
  return subscribe<ConfigEvent>(CHANNELS.configApplied, instance, (e) => {
    const byKind = e.errorsByKind ?? {};
    for (const kind of new Set([...CONFIG_ERROR_KINDS, ...Object.keys(byKind)]))
      errors.set({ kind }, byKind[kind] ?? 0);
    generation.set(e.generation);
    reloadTime.set((e.reloadedAtMs ?? Date.now()) / 1000);
    reloadOk.set(e.errors === 0 ? 1 : 0);
  });
}
