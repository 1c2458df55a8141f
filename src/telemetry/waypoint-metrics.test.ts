/** The waypoint's Istio metrics: exactly what prom-client's own Counter and Histogram would expose, in every form. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import type { RequestEvent } from '../events/request-event.ts';
import {
  createWaypointMetrics,
  ISTIO_DURATION_BUCKETS_MS,
  ISTIO_REQUEST_LABELS,
  istioRequestLabels,
} from './waypoint-metrics.ts';

function event(over: Partial<RequestEvent>): RequestEvent {
  return {
    type: 'waypoint.request',
    startTime: new Date(0).toISOString(),
    method: 'GET',
    authority: 'my-nginx.foo.bar',
    path: '/subject',
    status: 200,
    code: null,
    reason: null,
    responseFlags: '-',
    principal: 'spiffe://cluster.local/ns/team-namespace/sa/app1',
    peerAddress: '10.0.0.1',
    gateway: 'istio-egress/egress-waypoint',
    serviceEntry: 'istio-egress/nginx-mesh-external-se',
    route: null,
    backend: 'my-nginx.foo.bar:443',
    destinationRule: null,
    externalIdentity: null,
    secret: null,
    upstreamAddress: '127.0.0.1:443',
    sni: null,
    policy: null,
    bytesReceived: 0,
    bytesSent: 10,
    durationMs: 3,
    warnings: [],
    ...over,
  };
}

/** prom-client's own metrics with the same names and labels, fed the same events. */
function reference(registry: Registry): (e: RequestEvent) => void {
  const requests = new Counter({
    name: 'istio_requests_total',
    help: 'Total number of requests handled by the waypoint.',
    labelNames: ISTIO_REQUEST_LABELS,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'istio_request_duration_milliseconds',
    help: 'Duration of requests handled by the waypoint, in milliseconds.',
    labelNames: ISTIO_REQUEST_LABELS,
    buckets: ISTIO_DURATION_BUCKETS_MS,
    registers: [registry],
  });
  return (e) => {
    const labels = istioRequestLabels(e);
    requests.inc(labels);
    duration.observe(labels, e.durationMs);
  };
}

// Several label sets, durations on and between bounds, below the first and above the last one.
const EVENTS: RequestEvent[] = [
  event({ durationMs: 0.2 }),
  event({ durationMs: 0.5 }),
  event({ durationMs: 3 }),
  event({ durationMs: 5 }),
  event({ durationMs: 7.25 }),
  event({ durationMs: 4_000_000 }),
  event({ status: 503, responseFlags: 'UF', durationMs: 12 }),
  event({ principal: 'spiffe://cluster.local/ns/team-namespace/sa/app2', durationMs: 1 }),
  event({ principal: 'not-a-spiffe-id', backend: null, durationMs: 250 }),
  event({ serviceEntry: 'other/se', backend: 'x.example:8443', status: 403, durationMs: 0.9 }),
];

test('exposition text and JSON equal prom-client Counter + Histogram fed the same requests', async () => {
  const mine = new Registry();
  const theirs = new Registry();
  const m = createWaypointMetrics(mine);
  const feed = reference(theirs);
  for (const e of EVENTS) {
    m.observe(e);
    feed(e);
  }
  assert.equal(await mine.metrics(), await theirs.metrics());
  assert.deepEqual(await mine.getMetricsAsJSON(), await theirs.getMetricsAsJSON());
  assert.match(await mine.metrics(), /istio_requests_total\{[^}]*source_principal="spiffe:[^}]*sa\/app1"[^}]*\} 6\n/);
});

test('workers: the primary sums the same way for both (AggregatorRegistry)', async () => {
  const mineA = new Registry();
  const mineB = new Registry();
  const theirsA = new Registry();
  const theirsB = new Registry();
  const [ma, mb] = [createWaypointMetrics(mineA), createWaypointMetrics(mineB)];
  const [ta, tb] = [reference(theirsA), reference(theirsB)];
  EVENTS.forEach((e, i) => {
    if (i % 2 === 0) {
      ma.observe(e);
      ta(e);
    } else {
      mb.observe(e);
      tb(e);
    }
  });
  const mine = AggregatorRegistry.aggregate([await mineA.getMetricsAsJSON(), await mineB.getMetricsAsJSON()]);
  const theirs = AggregatorRegistry.aggregate([await theirsA.getMetricsAsJSON(), await theirsB.getMetricsAsJSON()]);
  assert.equal(await mine.metrics(), await theirs.metrics());
});

test('resetMetrics empties both', async () => {
  const registry = new Registry();
  const m = createWaypointMetrics(registry);
  m.observe(EVENTS[0]);
  registry.resetMetrics();
  assert.doesNotMatch(await registry.metrics(), /istio_requests_total\{/);
  assert.doesNotMatch(await registry.metrics(), /_bucket\{/);
});

test("Istio's labels: namespace from the principal, the backend's host, the ServiceEntry's name and namespace", async () => {
  const registry = new Registry();
  createWaypointMetrics(registry).observe(
    event({
      backend: 'app1.team-namespace.my-nginx.foo.bar.invalid:443',
      route: { name: 'team-namespace/r', rule: 0 },
    }),
  );
  const text = await registry.metrics();
  assert.match(
    text,
    /istio_requests_total\{reporter="waypoint",[^}]*source_workload_namespace="team-namespace",source_principal="spiffe:\/\/cluster\.local\/ns\/team-namespace\/sa\/app1"[^}]*destination_service="app1\.team-namespace\.my-nginx\.foo\.bar\.invalid"[^}]*destination_service_name="nginx-mesh-external-se",destination_service_namespace="istio-egress"[^}]*response_code="200"[^}]*\} 1/,
  );
  assert.match(text, /istio_request_duration_milliseconds_bucket\{le="5",reporter="waypoint"/);
});
