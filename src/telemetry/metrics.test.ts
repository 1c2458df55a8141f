/** The tunnel metrics: counts tallied per tunnel reach Prometheus text when it is scraped, with Istio's labels. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { publish, type TunnelIdentity } from '../events/diagnostics.ts';
import { startMetrics } from './metrics.ts';

const INSTANCE = 9201;

function identity(tunnelId: number): TunnelIdentity {
  return {
    instance: INSTANCE,
    tunnelId,
    sessionId: 1,
    startMs: Date.now(),
    sourcePrincipal: 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage',
    sourceAddress: '127.0.0.1',
    sourcePort: 40000 + tunnelId,
    authority: 'httpbin.org:443',
    gateway: 'istio-system/ztunnel-egress',
    serviceEntry: 'bookinfo/httpbin-org',
    serviceEntryNamespace: 'bookinfo',
    host: 'httpbin.org',
    port: 443,
  };
}

const layer = {
  layer: 'gateway',
  target: 'Gateway istio-system/ztunnel-egress',
  decision: 'allow' as const,
  code: 'PCL_AUTHZ_ALLOWED_BY_POLICY' as const,
  policy: 'istio-system/allow',
  reason: 'allow policy match',
};

/** The value of the series of `name` whose labels include every `labels` pair, or null when there is none. */
function value(text: string, name: string, labels: Record<string, string>): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(' ').at(-1));
  }
  return null;
}

test('opened, closed, bytes, decisions and open tunnels: tallied per tunnel, exact at each scrape', async () => {
  const m = startMetrics(INSTANCE);
  try {
    for (let id = 1; id <= 3; id++)
      publish.tunnelDecided({ ...identity(id), decision: 'allow', code: layer.code, reason: 'ok', layers: [layer] });
    let text = await m.registry.metrics();
    assert.equal(value(text, 'istio_tcp_connections_opened_total', { destination_service: 'httpbin.org' }), 3);
    assert.equal(value(text, 'portcullis_open_tunnels', { source_workload_namespace: 'bookinfo' }), 3);
    assert.equal(value(text, 'portcullis_authz_decisions_total', { layer: 'gateway', decision: 'allow' }), 3);
    for (let id = 1; id <= 2; id++)
      publish.tunnelClosed({
        ...identity(id),
        durationMs: 5,
        status: 200,
        decision: 'allow',
        code: layer.code,
        reason: 'ok',
        layers: [layer],
        upstreamAddress: '127.0.0.1:443',
        sni: null,
        bytesReceived: 100,
        bytesSent: 1000,
        responseFlags: '-',
      });
    // A tunnel refused after the layers allowed (the SNI check) is a decision of the data plane.
    publish.tunnelClosed({
      ...identity(3),
      durationMs: 5,
      status: 200,
      decision: 'deny',
      code: 'PCL_DATAPLANE_SNI_MISMATCH',
      reason: 'sni',
      layers: [layer],
      upstreamAddress: null,
      sni: 'evil.example',
      bytesReceived: 0,
      bytesSent: 0,
      responseFlags: 'NR',
    });
    text = await m.registry.metrics();
    assert.equal(value(text, 'portcullis_open_tunnels', { source_workload_namespace: 'bookinfo' }), 0);
    assert.equal(value(text, 'istio_tcp_connections_closed_total', { response_flags: '-' }), 2);
    assert.equal(value(text, 'istio_tcp_connections_closed_total', { response_flags: 'NR' }), 1);
    assert.equal(value(text, 'istio_tcp_sent_bytes_total', { response_flags: '-' }), 2000);
    assert.equal(value(text, 'istio_tcp_received_bytes_total', { response_flags: '-' }), 200);
    assert.equal(value(text, 'portcullis_authz_decisions_total', { layer: 'dataplane', decision: 'deny' }), 1);
    assert.equal(
      value(text, 'istio_tcp_connections_opened_total', {
        source_principal: 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage',
        source_workload_namespace: 'bookinfo',
        destination_service_name: 'httpbin-org',
        destination_service_namespace: 'bookinfo',
        reporter: 'waypoint',
      }),
      3,
      'Istio labels',
    );
    // A second scrape with nothing new reports the same totals (nothing counted twice).
    text = await m.registry.metrics();
    assert.equal(value(text, 'istio_tcp_connections_opened_total', { destination_service: 'httpbin.org' }), 3);
  } finally {
    m.close();
  }
});
