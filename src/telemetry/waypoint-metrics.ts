/**
 * Istio's standard HTTP metrics for the waypoint (`istio_requests_total`, `istio_request_duration_milliseconds`,
 * labels as in Istio's "Istio Standard Metrics" page), so existing Istio dashboards work. The caller passes the
 * admin registry; `observe` turns a RequestEvent into one sample.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { RequestEvent } from '../events/request-event.ts';

/** Istio's standard request labels, in Istio's order. */
const ISTIO_REQUEST_LABELS = [
  'reporter',
  'source_workload',
  'source_canonical_service',
  'source_canonical_revision',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_cluster',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_service_name',
  'destination_service_namespace',
  'destination_cluster',
  'request_protocol',
  'response_code',
  'grpc_response_status',
  'response_flags',
  'connection_security_policy',
] as const;

export type IstioRequestLabel = (typeof ISTIO_REQUEST_LABELS)[number];

/** Istio's default bucket boundaries for request durations (ms). */
const ISTIO_DURATION_BUCKETS_MS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

export interface WaypointMetrics {
  readonly requests: Counter<IstioRequestLabel>;
  readonly duration: Histogram<IstioRequestLabel>;
  /** Record one request. */
  observe(event: RequestEvent): void;
}

const UNKNOWN = 'unknown';
const LABEL_CACHE_MAX = 1024;

/** The labels of one request, as a waypoint reports them (`reporter="waypoint"`). */
function istioRequestLabels(e: RequestEvent, cluster = 'Kubernetes'): Record<IstioRequestLabel, string> {
  const m = /^spiffe:\/\/[^/]+\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(e.principal);
  const [seNs, seName] = e.serviceEntry.split('/');
  const backendHost = e.backend ? e.backend.replace(/:\d+$/, '') : UNKNOWN;
  return {
    reporter: 'waypoint',
    source_workload: UNKNOWN,
    source_canonical_service: UNKNOWN,
    source_canonical_revision: 'latest',
    source_workload_namespace: m?.[1] ?? UNKNOWN,
    source_principal: e.principal,
    source_app: UNKNOWN,
    source_version: UNKNOWN,
    source_cluster: cluster,
    destination_workload: UNKNOWN,
    destination_workload_namespace: UNKNOWN,
    destination_principal: UNKNOWN,
    destination_app: UNKNOWN,
    destination_version: UNKNOWN,
    destination_service: backendHost,
    destination_canonical_service: UNKNOWN,
    destination_canonical_revision: 'latest',
    destination_service_name: seName ?? UNKNOWN,
    destination_service_namespace: seNs ?? UNKNOWN,
    destination_cluster: cluster,
    request_protocol: 'http',
    response_code: String(e.status),
    grpc_response_status: '',
    response_flags: e.responseFlags,
    connection_security_policy: 'mutual_tls',
  };
}

/** Register the two metrics in `registry` (the admin server's). */
export function createWaypointMetrics(registry: Registry, cluster = 'Kubernetes'): WaypointMetrics {
  const requests = new Counter<IstioRequestLabel>({
    name: 'istio_requests_total',
    help: 'Total number of requests handled by the waypoint.',
    labelNames: ISTIO_REQUEST_LABELS,
    registers: [registry],
  });
  const duration = new Histogram<IstioRequestLabel>({
    name: 'istio_request_duration_milliseconds',
    help: 'Duration of requests handled by the waypoint, in milliseconds.',
    labelNames: ISTIO_REQUEST_LABELS,
    buckets: ISTIO_DURATION_BUCKETS_MS,
    registers: [registry],
  });
  // The labels depend on five fields of the event only; building the 25-label object (and its regex) per request was
  // half of the metrics' cost. Bounded: a burst of distinct label sets just starts the cache again.
  const labelCache = new Map<string, Record<IstioRequestLabel, string>>();
  return {
    requests,
    duration,
    observe(event: RequestEvent): void {
      const key = `${event.principal}\n${event.serviceEntry}\n${event.backend ?? ''}\n${event.status}\n${event.responseFlags}`;
      let labels = labelCache.get(key);
      if (labels === undefined) {
        if (labelCache.size >= LABEL_CACHE_MAX) labelCache.clear();
        labels = istioRequestLabels(event, cluster);
        labelCache.set(key, labels);
      }
      requests.inc(labels);
      duration.observe(labels, event.durationMs);
    },
  };
}
