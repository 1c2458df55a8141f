/**
 * Prometheus metrics with Istio's standard TCP names and labels (ztunnel src/proxy/metrics.rs), so existing Istio
 * dashboards work, plus `portcullis_authz_decisions_total`. Fed only by the data plane's channels, on a Registry of
 * its own (never prom-client's global one, so two gateways in one process do not share counters).
 */
import { Counter, Registry } from 'prom-client';
import { CHANNELS, subscribe, type TunnelDecidedEvent, type TunnelIdentity, type TunnelRecord } from '../events/diagnostics.ts';

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

export interface GatewayMetrics {
  readonly registry: Registry;
  close(): void;
}

/** The namespace of a SPIFFE ID (`spiffe://td/ns/<ns>/sa/<sa>`), or 'unknown'. */
function namespaceOf(principal: string): string {
  const m = /^spiffe:\/\/[^/]+\/ns\/([^/]+)\/sa\/[^/]+$/.exec(principal);
  return m ? m[1] : 'unknown';
}

function istioLabels(t: TunnelIdentity, flags: string): Record<(typeof ISTIO_LABELS)[number], string> {
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
  const opened = new Counter({
    name: 'istio_tcp_connections_opened_total',
    help: 'The total number of TCP connections opened',
    labelNames: ISTIO_LABELS,
    registers: [registry],
  });
  const closed = new Counter({
    name: 'istio_tcp_connections_closed_total',
    help: 'The total number of TCP connections closed',
    labelNames: ISTIO_LABELS,
    registers: [registry],
  });
  const sent = new Counter({
    name: 'istio_tcp_sent_bytes_total',
    help: 'The size of total bytes sent during response in case of a TCP connection',
    labelNames: ISTIO_LABELS,
    registers: [registry],
  });
  const received = new Counter({
    name: 'istio_tcp_received_bytes_total',
    help: 'The size of total bytes received during request in case of a TCP connection',
    labelNames: ISTIO_LABELS,
    registers: [registry],
  });
  const decisions = new Counter({
    name: 'portcullis_authz_decisions_total',
    help: 'Authorization decisions per layer (gateway, serviceentry, egressPolicies) and code',
    labelNames: ['decision', 'layer', 'code'] as const,
    registers: [registry],
  });

  const unsubscribe = [
    // ztunnel counts a connection as opened before RBAC runs (ConnectionOpen), so denied ones are counted too.
    subscribe<TunnelDecidedEvent>(CHANNELS.tunnelDecided, instance, (e) => {
      opened.inc(istioLabels(e, '-'));
      for (const l of e.layers) decisions.inc({ decision: l.decision, layer: l.layer, code: l.code });
    }),
    subscribe<TunnelRecord>(CHANNELS.tunnelClosed, instance, (r) => {
      const labels = istioLabels(r, r.responseFlags);
      closed.inc(labels);
      if (r.bytesSent > 0) sent.inc(labels, r.bytesSent);
      if (r.bytesReceived > 0) received.inc(labels, r.bytesReceived);
      // A refusal after the policy layers allowed (guard, SNI, policy change) is a decision of its own.
      if (r.decision === 'deny' && !r.layers.some((l) => l.decision === 'deny')) {
        decisions.inc({ decision: 'deny', layer: 'dataplane', code: r.code });
      }
    }),
  ];
  return {
    registry,
    close(): void {
      for (const u of unsubscribe) u();
    },
  };
}
