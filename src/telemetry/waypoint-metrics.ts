/**
 * Istio's standard HTTP metrics for the waypoint (`istio_requests_total`, `istio_request_duration_milliseconds`,
 * labels as in Istio's "Istio Standard Metrics" page), so existing Istio dashboards work. The caller passes the
 * admin registry; `observe` turns a RequestEvent into one sample.
 *
 * The two metrics keep their series themselves and hand prom-client's registry the same values a prom-client
 * Counter and Histogram would (waypoint-metrics.test.ts compares the exposition text): prom-client hashes all 25
 * label values into a fresh key string on every `inc` and `observe`, which was a tenth of the waypoint's garbage.
 */
import type { Registry } from 'prom-client';
import type { RequestEvent } from '../events/request-event.ts';

/** Istio's standard request labels, in Istio's order. */
export const ISTIO_REQUEST_LABELS = [
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
export const ISTIO_DURATION_BUCKETS_MS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

const UNKNOWN = 'unknown';

/** The labels of one request, as a waypoint reports them (`reporter="waypoint"`). */
export function istioRequestLabels(e: RequestEvent, cluster = 'Kubernetes'): Record<IstioRequestLabel, string> {
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

export interface WaypointMetrics {
  readonly requests: MetricSource;
  readonly duration: MetricSource;
  /** Record one request. */
  observe(event: RequestEvent): void;
}

/** One label set: the request count, the duration sum and a count per bucket (not cumulative; the last is +Inf). */
interface Series {
  readonly labels: Readonly<Record<IstioRequestLabel, string>>;
  count: number;
  sum: number;
  readonly buckets: number[];
}

/** A value as prom-client's registry reads it from a metric (`get` / `getForPromString`). */
interface MetricValue {
  readonly value: number;
  readonly labels: Record<string, string | number>;
  readonly sharedLabels?: Record<string, string>;
  readonly metricName?: string;
  readonly exemplar?: null;
}

/** What prom-client's Registry needs of a registered metric. */
export interface MetricSource {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: string; values: MetricValue[]; aggregator: 'sum' }>;
  reset(): void;
}

/** Register the two metrics in `registry` (the admin server's). */
export function createWaypointMetrics(registry: Registry, cluster = 'Kubernetes'): WaypointMetrics {
  // Keyed by the five event fields the labels depend on. Every label set is kept (as prom-client kept its series).
  let series = new Map<string, Series>();
  const bounds = ISTIO_DURATION_BUCKETS_MS;
  const reset = (): void => {
    series = new Map();
  };
  const requests: MetricSource = {
    name: 'istio_requests_total',
    help: 'Total number of requests handled by the waypoint.',
    type: 'counter',
    aggregator: 'sum',
    async get() {
      const values: MetricValue[] = [];
      for (const s of series.values()) values.push({ value: s.count, labels: { ...s.labels } });
      return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
    },
    reset,
  };
  // prom-client's Histogram export: cumulative `_bucket` values labelled `le` (the series' labels shared), then
  // `le="+Inf"`, `_sum` and `_count`; `get` puts the shared labels after `le`, `getForPromString` leaves them apart.
  const histogramValues = (splay: boolean): MetricValue[] => {
    const name = 'istio_request_duration_milliseconds';
    const values: MetricValue[] = [];
    // `exemplar` as prom-client sets it (null on buckets, present but undefined on _sum and _count).
    const value = (
      labels: Record<string, string | number>,
      v: number,
      metricName: string,
      shared: Series['labels'],
      exemplar: null | undefined,
    ): MetricValue =>
      splay
        ? { value: v, metricName, exemplar, labels: { ...labels, ...shared } }
        : { labels, sharedLabels: shared, value: v, metricName, exemplar };
    for (const s of series.values()) {
      let acc = 0;
      for (let i = 0; i < bounds.length; i++) {
        acc += s.buckets[i];
        values.push(value({ le: bounds[i] }, acc, `${name}_bucket`, s.labels, null));
      }
      values.push(value({ le: '+Inf' }, s.count, `${name}_bucket`, s.labels, null));
      values.push(value({}, s.sum, `${name}_sum`, s.labels, undefined));
      values.push(value({}, s.count, `${name}_count`, s.labels, undefined));
    }
    return values;
  };
  const duration: MetricSource & { getForPromString(): ReturnType<MetricSource['get']> } = {
    name: 'istio_request_duration_milliseconds',
    help: 'Duration of requests handled by the waypoint, in milliseconds.',
    type: 'histogram',
    aggregator: 'sum',
    async get() {
      return { name: this.name, help: this.help, type: this.type, values: histogramValues(true), aggregator: 'sum' };
    },
    async getForPromString() {
      return { name: this.name, help: this.help, type: this.type, values: histogramValues(false), aggregator: 'sum' };
    },
    reset,
  };
  registry.registerMetric(requests as never);
  registry.registerMetric(duration as never);
  return {
    requests,
    duration,
    observe(event: RequestEvent): void {
      const key = `${event.principal}\n${event.serviceEntry}\n${event.backend ?? ''}\n${event.status}\n${event.responseFlags}`;
      let s = series.get(key);
      if (s === undefined) {
        s = { labels: istioRequestLabels(event, cluster), count: 0, sum: 0, buckets: bounds.map(() => 0) };
        series.set(key, s);
      }
      const ms = event.durationMs;
      if (!Number.isFinite(ms)) return;
      s.count++;
      s.sum += ms;
      // A value above the last bound is counted in +Inf only (prom-client's findBound gives -1 for it).
      for (let i = 0; i < bounds.length; i++) {
        if (ms <= bounds[i]) {
          s.buckets[i]++;
          break;
        }
      }
    },
  };
}
