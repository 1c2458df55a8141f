import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { FlowMap } from './flow-map.ts';
import type { ObservedFlow } from './observed-flow.ts';
import { suggestPolicy, type SuggestOptions } from './suggest.ts';

function flow(over: Partial<ObservedFlow>): ObservedFlow {
  return {
    t: 1,
    kind: 'tunnel',
    counted: true,
    source: 'spiffe://cluster.local/ns/shop/sa/cart',
    gateway: 'istio-egress/egress',
    serviceEntry: null,
    host: 'api.stripe.com',
    authority: 'api.stripe.com:443',
    port: 443,
    upstream: '93.184.216.34:443',
    sni: 'api.stripe.com',
    decision: 'would-deny',
    code: 'PCL_LEARN_WOULD_DENY',
    reason: '',
    layers: [],
    bytesIn: 0,
    bytesOut: 0,
    ...over,
  };
}

const OPTS: SuggestOptions = {
  defaultGateway: 'istio-egress/egress',
  privateAddress: (ip) => (ip.startsWith('10.') ? 'private (RFC 1918)' : null),
};

function edges(flows: ObservedFlow[]) {
  const m = new FlowMap();
  for (const f of flows) m.add(f);
  return m.edges();
}

test('suggest: one ServiceEntry per host:port, exact principals and port, protocol from what was seen', () => {
  const s = suggestPolicy(
    edges([
      flow({}),
      flow({ source: 'spiffe://cluster.local/ns/shop/sa/checkout' }),
      flow({ host: 'api.stripe.com', authority: 'api.stripe.com:8080', port: 8080, sni: null }),
      flow({
        kind: 'request',
        host: 'legacy.example',
        authority: 'legacy.example',
        port: 80,
        sni: null,
        decision: 'allow',
      }),
    ]),
    OPTS,
  );
  const docs = parseAllDocuments(s.yaml).map(
    (d) => d.toJS() as { kind: string; metadata: { name: string; namespace: string }; spec: Record<string, unknown> },
  );
  const ses = docs.filter((d) => d.kind === 'ServiceEntry');
  assert.deepEqual(
    ses.map((d) => d.metadata.name),
    ['api-stripe-com-443', 'api-stripe-com-8080', 'legacy-example-80'],
  );
  assert.deepEqual(
    ses.map((d) => (d.spec.ports as { protocol: string }[])[0].protocol),
    ['TLS', 'TCP', 'HTTP'],
  );
  assert.ok(
    ses.every((d) => d.metadata.namespace === 'shop'),
    'one calling namespace: the ServiceEntry lives beside it',
  );
  const stripe = docs.find((d) => d.metadata.name === 'allow-observed-api-stripe-com-443')!;
  assert.deepEqual(stripe.spec.rules, [
    {
      from: [{ source: { principals: ['cluster.local/ns/shop/sa/cart', 'cluster.local/ns/shop/sa/checkout'] } }],
      to: [{ operation: { ports: ['443'] } }],
    },
  ]);
  const gw = docs.find((d) => d.metadata.name === 'allow-observed-egress-egress')!;
  assert.equal(gw.metadata.namespace, 'istio-egress');
  assert.deepEqual(s.cases.filter((c) => c.expect === 'allow').length, 4);
  assert.deepEqual(s.cases.filter((c) => c.expect === 'deny').length, 3);
  assert.equal(s.notAllowed.length, 0);
});

test('suggest: private addresses, IP-only hosts and enforced denials are listed with a reason, not allowed', () => {
  const observed = [
    flow({ host: 'db.internal', authority: 'db.internal:5432', port: 5432, upstream: '10.0.0.5:5432' }),
    flow({ host: null, authority: '93.184.216.34:443', upstream: '93.184.216.34:443' }),
    flow({
      host: 'blocked.example',
      authority: 'blocked.example:443',
      decision: 'deny',
      code: 'PCL_AUTHZ_DENIED_EXPLICIT',
    }),
  ];
  const s = suggestPolicy(edges(observed), OPTS);
  assert.equal(s.serviceEntries, 0);
  assert.deepEqual(
    s.notAllowed.map((n) => n.destination),
    ['93.184.216.34:443', 'blocked.example:443', 'db.internal:5432'],
  );
  assert.match(s.notAllowed[0].reason, /named only by its IP address/);
  assert.match(s.notAllowed[1].reason, /denied it while enforcing \(PCL_AUTHZ_DENIED_EXPLICIT\)/);
  assert.match(s.notAllowed[2].reason, /resolved to 10\.0\.0\.5, private \(RFC 1918\)/);
  assert.match(s.yaml, /# Observed flows this does NOT allow:/);
  assert.match(s.yaml, /# \(no flow to allow\)/);
  // --include-denied takes the enforced denial too (never the private or IP-only ones).
  const wider = suggestPolicy(edges(observed), { ...OPTS, includeDenied: true });
  assert.equal(wider.serviceEntries, 1);
  assert.equal(wider.notAllowed.length, 2);
});

test('suggest: several calling namespaces put the ServiceEntry with the Gateway; the output is the same for any order', () => {
  const a = [
    flow({}),
    flow({ source: 'spiffe://cluster.local/ns/billing/sa/invoicer' }),
    flow({ host: 'b.example', authority: 'b.example:443' }),
  ];
  const s1 = suggestPolicy(edges(a), OPTS);
  const s2 = suggestPolicy(edges([...a].reverse()), OPTS);
  assert.equal(s1.yaml, s2.yaml);
  assert.equal(s1.casesYaml, s2.casesYaml);
  assert.match(s1.yaml, /name: api-stripe-com-443\n\s+namespace: istio-egress/);
});
