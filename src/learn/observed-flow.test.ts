import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BadLogLine, flowFromLogLine, isIpOnly, namespaceOf } from './observed-flow.ts';

const tunnel = {
  level: 'info',
  type: 'tunnel',
  start: '2026-01-01T00:00:00.000Z',
  source_principal: 'spiffe://cluster.local/ns/bookinfo/sa/productpage',
  authority: 'httpbin.org:443',
  gateway: 'istio-system/ztunnel-egress',
  service_entry: 'bookinfo/httpbin-org',
  host: 'httpbin.org',
  port: 443,
  upstream_address: '127.0.0.1:443',
  decision: 'allow',
  code: 'PCL_AUTHZ_ALLOWED_BY_POLICY',
  reason: 'ok',
  policies: [
    {
      layer: 'gateway',
      target: 'Gateway g',
      decision: 'allow',
      code: 'PCL_AUTHZ_ALLOWED_BY_POLICY',
      policy: 'istio-system/a',
      reason: 'ok',
    },
  ],
  sni: 'httpbin.org',
  bytes_received: 10,
  bytes_sent: 20,
};

test('access log: a tunnel line becomes an observed flow with its layers, bytes and SNI', () => {
  const f = flowFromLogLine(JSON.stringify(tunnel))!;
  assert.equal(f.kind, 'tunnel');
  assert.equal(f.decision, 'allow');
  assert.equal(f.host, 'httpbin.org');
  assert.equal(f.port, 443);
  assert.equal(f.sni, 'httpbin.org');
  assert.equal(f.bytesIn + f.bytesOut, 30);
  assert.equal(f.layers[0].policy, 'istio-system/a');
  assert.equal(f.t, Date.parse('2026-01-01T00:00:00.000Z'));
});

test('access log: would-deny lines (learn mode) and request lines are read; other lines are skipped', () => {
  const would = flowFromLogLine(
    JSON.stringify({
      ...tunnel,
      decision: 'would-deny',
      code: 'PCL_LEARN_WOULD_DENY',
      policies: [{ ...tunnel.policies[0], decision: 'deny' }],
    }),
  )!;
  assert.equal(would.decision, 'would-deny');
  const req = flowFromLogLine(
    JSON.stringify({
      type: 'request',
      start_time: '2026-01-01T00:00:00.000Z',
      method: 'GET',
      authority: 'my-nginx.foo.bar',
      path: '/',
      status: 200,
      code: null,
      source_principal: 'spiffe://cluster.local/ns/team-namespace/sa/app1',
      gateway: 'istio-egress/egress-waypoint',
      service_entry: 'istio-egress/nginx',
      warnings: [],
    }),
  )!;
  assert.equal(req.kind, 'request');
  assert.equal(req.host, 'my-nginx.foo.bar');
  assert.equal(req.port, 80);
  assert.equal(req.decision, 'allow');
  const learnedReq = flowFromLogLine(
    JSON.stringify({
      type: 'request',
      authority: 'a.example:8080',
      status: 200,
      source_principal: 's',
      warnings: ['would-deny: PCL_AUTHZ_DENIED_NOT_ALLOWED: x'],
    }),
  )!;
  assert.equal(learnedReq.decision, 'would-deny');
  assert.equal(learnedReq.port, 8080);
  assert.equal(flowFromLogLine(JSON.stringify({ type: 'config', generation: 1 })), null);
  assert.equal(flowFromLogLine(JSON.stringify({ ...tunnel, code: 'PCL_DATAPLANE_HTTP_TUNNEL' })), null);
});

test('access log: bad lines are errors the caller can place (not JSON, not an object, missing fields)', () => {
  assert.throws(() => flowFromLogLine('{"type": "tunnel"'), BadLogLine);
  assert.throws(() => flowFromLogLine('[1,2]'), BadLogLine);
  assert.throws(() => flowFromLogLine('"text"'), BadLogLine);
  assert.throws(
    () => flowFromLogLine(JSON.stringify({ type: 'tunnel', authority: 'a:1' })),
    /without source_principal/,
  );
});

test('observed flows: namespaces and IP-only destinations', () => {
  assert.equal(namespaceOf('spiffe://cluster.local/ns/bookinfo/sa/x'), 'bookinfo');
  assert.equal(namespaceOf('not-spiffe'), '(unknown)');
  assert.equal(isIpOnly({ host: null, authority: '1.2.3.4:443' }), true);
  assert.equal(isIpOnly({ host: '2001:db8::1', authority: '[2001:db8::1]:443' }), true);
  assert.equal(isIpOnly({ host: 'httpbin.org', authority: 'httpbin.org:443' }), false);
  assert.equal(
    isIpOnly({ host: 'httpbin.org', authority: '240.240.0.1:443' }),
    false,
    'a VIP authority keeps its ServiceEntry host',
  );
});
