import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildView, FlowMap, rangeOf } from './flow-map.ts';
import type { ObservedFlow } from './observed-flow.ts';

function flow(over: Partial<ObservedFlow>): ObservedFlow {
  return {
    t: 1000,
    kind: 'tunnel',
    counted: true,
    source: 'spiffe://cluster.local/ns/bookinfo/sa/productpage',
    gateway: 'istio-system/ztunnel-egress',
    serviceEntry: 'bookinfo/httpbin-org',
    host: 'httpbin.org',
    authority: 'httpbin.org:443',
    port: 443,
    upstream: null,
    sni: null,
    decision: 'allow',
    code: 'PCL_AUTHZ_ALLOWED_BY_POLICY',
    reason: 'allow policy match: bookinfo/x',
    layers: [
      {
        layer: 'gateway',
        target: 'Gateway istio-system/ztunnel-egress',
        decision: 'allow',
        code: 'PCL_AUTHZ_ALLOWED_BY_POLICY',
        policy: 'istio-system/a',
        reason: '',
      },
    ],
    bytesIn: 0,
    bytesOut: 0,
    ...over,
  };
}

test('flow map: decisions count once per decision, bytes come from closes, the last decision keeps its layers', () => {
  const m = new FlowMap();
  m.add(flow({}));
  m.add(flow({ counted: false, bytesIn: 100, bytesOut: 2000, sni: 'httpbin.org', upstream: '1.2.3.4:443' }));
  m.add(
    flow({
      decision: 'deny',
      code: 'PCL_AUTHZ_DENIED_EXPLICIT',
      layers: [
        {
          layer: 'gateway',
          target: 'g',
          decision: 'deny',
          code: 'PCL_AUTHZ_DENIED_EXPLICIT',
          policy: 'istio-system/deny-default-egress',
          reason: '',
        },
      ],
    }),
  );
  m.add(flow({ decision: 'would-deny', code: 'PCL_LEARN_WOULD_DENY' }));
  const [e] = m.edges();
  assert.equal(m.edges().length, 1);
  assert.deepEqual([e.allowed, e.denied, e.wouldDeny, e.bytesIn, e.bytesOut], [1, 1, 1, 100, 2000]);
  assert.equal(e.sni, 'httpbin.org');
  assert.equal(e.upstream, '1.2.3.4:443');
  assert.equal(e.last.code, 'PCL_LEARN_WOULD_DENY');
  assert.equal(m.rows().length, 3);
  assert.equal(m.rows()[0].decision, 'would-deny', 'newest row first');
});

test('flow map: edges and rows are bounded; the stalest edge goes first', () => {
  const m = new FlowMap({ maxEdges: 3, maxRows: 2 });
  for (const h of ['a', 'b', 'c']) m.add(flow({ host: `${h}.example`, authority: `${h}.example:443` }));
  m.add(flow({ host: 'a.example', authority: 'a.example:443' })); // a is now the freshest
  m.add(flow({ host: 'd.example', authority: 'd.example:443' }));
  assert.deepEqual(
    m
      .edges()
      .map((e) => e.destination)
      .sort(),
    ['a.example:443', 'c.example:443', 'd.example:443'],
  );
  assert.equal(m.droppedEdges, 1);
  assert.equal(m.rows().length, 2);
  assert.equal(m.rows()[0].host, 'd.example');
});

test('flow map: unknown destinations are grouped by the egressPolicies range that decided them', () => {
  const egress = (reason: string) => [
    {
      layer: 'egressPolicies',
      target: 'egressPolicies',
      decision: 'deny',
      code: 'PCL_EGRESS_POLICY_DENY',
      policy: null,
      reason,
    },
  ];
  assert.equal(rangeOf(egress('1.2.3.4:443 denied by egressPolicies[0] 0.0.0.0/0')), 'egressPolicies[0] 0.0.0.0/0');
  assert.equal(
    rangeOf(
      egress('no ServiceEntry declares the destination and it has no IP address to match egressPolicies (port 443)'),
    ),
    'egressPolicies: no address to match',
  );
  const m = new FlowMap();
  for (const ip of ['1.2.3.4', '5.6.7.8']) {
    m.add(
      flow({
        serviceEntry: null,
        gateway: null,
        host: null,
        authority: `${ip}:443`,
        decision: 'deny',
        layers: egress(`${ip}:443 denied by egressPolicies[0] 0.0.0.0/0`),
      }),
    );
  }
  const v = buildView(m);
  assert.equal(v.destinations.length, 1);
  assert.equal(v.destinations[0].label, 'unknown: egressPolicies[0] 0.0.0.0/0');
  assert.equal(v.destinations[0].members, 2);
  assert.equal(v.edges[0].denied, 2);
  assert.equal(m.edges()[0].ipOnly, true);
});

test('flow map: a thousand identities and ten thousand edges give a bounded view, clustered by namespace, denied first', () => {
  const m = new FlowMap();
  for (let i = 0; i < 10_000; i++) {
    const id = i % 1000;
    const h = (id * 10 + Math.floor(i / 1000)) % 400; // each identity calls ten different hosts
    m.add(
      flow({
        source: `spiffe://cluster.local/ns/team-${id % 25}/sa/app-${id}`,
        host: `h${h}.example`,
        authority: `h${h}.example:443`,
        serviceEntry: `ns/h${h}`,
        decision: i === 7777 ? 'deny' : 'allow',
      }),
    );
  }
  assert.equal(m.edges().length, 10_000);
  const v = buildView(m);
  assert.equal(v.totals.identities, 1000);
  assert.equal(v.totals.edges, 10_000);
  assert.equal(v.clustered, true);
  assert.ok(v.sources.every((s) => s.kind === 'namespace'));
  assert.ok(v.sources.length <= 40 && v.destinations.length <= 40 && v.edges.length <= 150 && v.rows.length <= 200);
  assert.ok(v.hiddenEdges > 0);
  assert.equal(v.edges[0].denied, 1, 'the denied edge is drawn first');
  assert.ok(
    v.destinations.some((d) => d.kind === 'other'),
    'destinations beyond the cap are folded into one node',
  );
  // Filtering narrows to one identity: no clustering needed.
  const one = buildView(m, { identity: 'sa/app-7' + '77' });
  assert.equal(one.clustered, false);
  assert.ok(one.sources.every((s) => s.label.endsWith('/sa/app-777')));
  assert.ok(one.rows.every((r) => r.source.endsWith('/sa/app-777')));
});

test('flow map: the filter applies to edges and rows by identity, host, decision and code', () => {
  const m = new FlowMap();
  m.add(flow({}));
  m.add(
    flow({ source: 'spiffe://cluster.local/ns/default/sa/sleep', decision: 'deny', code: 'PCL_AUTHZ_DENIED_EXPLICIT' }),
  );
  m.add(flow({ host: 'api.example', authority: 'api.example:443', serviceEntry: 'x/api' }));
  assert.equal(buildView(m, { decision: 'deny' }).rows.length, 1);
  assert.equal(buildView(m, { decision: 'deny' }).edges.length, 1);
  assert.equal(buildView(m, { host: 'api.' }).rows.length, 1);
  assert.equal(buildView(m, { code: 'denied_explicit' }).rows[0].source, 'spiffe://cluster.local/ns/default/sa/sleep');
  assert.equal(buildView(m, { identity: 'nobody' }).edges.length, 0);
});
