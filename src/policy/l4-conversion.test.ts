/** L4 mode: ztunnel's handling of HTTP attributes and istiod's TestConvertAuthorizationPolicyStatus messages. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthorizationPolicySpec, AuthzRule } from '../config/api-types.ts';
import {
  compileAuthorizationPolicy,
  type CompiledPolicy,
  type EnforcementMode,
  type PolicyCondition,
} from './compile.ts';
import { decideLayer } from './engine.ts';
import type { AuthzRequest } from './request.ts';
import { authzPolicy } from '../../test/support/policy-fixtures.ts';

const PREFIX = 'ztunnel does not support HTTP attributes (found: ';
const MIDDLE = '). In ambient mode you must use a waypoint proxy to enforce HTTP rules. ';
const ALLOW_TAIL =
  'Within an ALLOW policy, rules matching HTTP attributes are omitted. This will be more restrictive than requested.';
const DENY_MIXED_TAIL =
  'DENY policy with HTTP attributes is enforced without the HTTP rules. This will be more restrictive than requested.';
const DENY_NO_EFFECT_TAIL =
  'After omitting unsupported HTTP attributes, this DENY policy has no enforceable rules at ztunnel and will have no effect. ' +
  'Deploy a waypoint proxy and use a targetRef to enforce this policy.';
const warning = (found: string, tail: string): PolicyCondition => ({
  type: 'ZtunnelAccepted',
  status: 'True',
  reason: 'UnsupportedValue',
  message: PREFIX + found + MIDDLE + tail,
});

function l4(spec: AuthorizationPolicySpec): CompiledPolicy {
  return compileAuthorizationPolicy(authzPolicy('ns', 'p', spec), 'l4');
}

const FOO_BAR: AuthzRequest = {
  principal: 'spiffe://cluster.local/ns/foo/sa/bar',
  sourceIp: '10.0.0.1',
  destinationIp: '240.240.0.1',
  destinationPort: 443,
};
const OTHER: AuthzRequest = { ...FOO_BAR, principal: 'spiffe://cluster.local/ns/foo/sa/other' };
const decide = (p: CompiledPolicy, r: AuthzRequest) =>
  decideLayer({ layer: 'gateway', target: 'Gateway ns/gw', policies: [p] }, r).decision;

// ---- istio pilot/pkg/serviceregistry/ambient/authorization_test.go TestConvertAuthorizationPolicyStatus ----
const principalsFoo: AuthzRule['from'] = [{ source: { principals: ['cluster.local/ns/foo/sa/bar'] } }];

test('status: "no status - targetRef is not for ztunnel" → a targetRef policy with only L4 fields gets no condition', () => {
  const p = l4({ targetRefs: [{ kind: 'Service', name: 'test-svc' }], rules: [] });
  assert.deepEqual(p.conditions, []);
});

test('status: "no status - policy is fine"', () => {
  const p = l4({
    rules: [{ from: [{ source: { principals: ['trust/ns/echo-1234/'] } }], to: [{ operation: { ports: ['8080'] } }] }],
  });
  assert.deepEqual(p.conditions, []);
});

test('status: "unsupported AUDIT action" → Portcullis records AUDIT at L4 instead of rejecting it (documented difference)', () => {
  const p = l4({ action: 'AUDIT', rules: [{ from: [{ source: { principals: ['trust/ns/echo-1234/'] } }] }] });
  assert.deepEqual(p.conditions, []);
  assert.equal(p.action, 'AUDIT');
});

test('status: "unsupported CUSTOM action"', () => {
  const p = l4({ action: 'CUSTOM', rules: [{ from: [{ source: { principals: ['trust/ns/echo-1234/'] } }] }] });
  assert.deepEqual(p.conditions, [
    {
      type: 'ZtunnelAccepted',
      status: 'False',
      reason: 'UnsupportedValue',
      message: 'ztunnel does not support the CUSTOM action',
    },
  ]);
});

test('status: "unsupported HTTP methods" (sorted found list, ALLOW sentence)', () => {
  const p = l4({
    rules: [
      {
        from: [{ source: { requestPrincipals: ['example.com/sub-1'] } }],
        to: [{ operation: { methods: ['GET'] } }],
        when: [{ key: 'request.auth.presenter', values: ['presenter.example.com'] }],
      },
    ],
  });
  assert.deepEqual(p.conditions, [warning('methods, request.auth.presenter, requestPrincipals', ALLOW_TAIL)]);
  assert.equal(decide(p, FOO_BAR), 'deny', 'the only rule was dropped: the ALLOW matches nothing');
});

test('status: "DENY policy with only L4 attributes - no status warning"', () => {
  const p = l4({ action: 'DENY', rules: [{ from: principalsFoo }] });
  assert.deepEqual(p.conditions, []);
  assert.equal(decide(p, FOO_BAR), 'deny');
});

test('status: "DENY policy with only L7 attributes results in no effect at ztunnel"', () => {
  const p = l4({ action: 'DENY', rules: [{ from: [{ source: { notRequestPrincipals: ['example.com/sub-1'] } }] }] });
  assert.deepEqual(p.conditions, [warning('notRequestPrincipals', DENY_NO_EFFECT_TAIL)]);
  assert.equal(decide(p, FOO_BAR), 'allow');
});

test('status: "DENY policy with mixed L4 and L7 attributes is enforced without HTTP rules"', () => {
  const p = l4({
    action: 'DENY',
    rules: [
      {
        from: [
          { source: { principals: ['cluster.local/ns/foo/sa/bar'], notRequestPrincipals: ['example.com/sub-1'] } },
        ],
      },
    ],
  });
  assert.deepEqual(p.conditions, [warning('notRequestPrincipals', DENY_MIXED_TAIL)]);
  assert.equal(decide(p, FOO_BAR), 'deny', 'denies on the principal alone: more restrictive');
  assert.equal(decide(p, OTHER), 'allow');
});

test('status: "DENY policy with L7-only and separate L4 rule is still enforced"', () => {
  const p = l4({
    action: 'DENY',
    rules: [{ from: [{ source: { notRequestPrincipals: ['example.com/sub-1'] } }] }, { from: principalsFoo }],
  });
  assert.deepEqual(p.conditions, [warning('notRequestPrincipals', DENY_MIXED_TAIL)]);
  const r = decideLayer({ layer: 'gateway', target: 'g', policies: [p] }, FOO_BAR);
  assert.equal(r.decision, 'deny');
  assert.equal(r.rule, 1, 'the L4 rule decided; the emptied rule never matches');
  assert.equal(decide(p, OTHER), 'allow');
});

test('status: "DENY policy with empty catch-all rule and L7-only rule is still enforced"', () => {
  const p = l4({
    action: 'DENY',
    rules: [{}, { from: [{ source: { notRequestPrincipals: ['example.com/sub-1'] } }] }],
  });
  assert.deepEqual(p.conditions, [warning('notRequestPrincipals', DENY_MIXED_TAIL)]);
  assert.equal(decide(p, OTHER), 'deny');
});

test('status: "DENY policy with L4 From and L7 When is a no-op due to AND empty clause"', () => {
  const p = l4({
    action: 'DENY',
    rules: [{ from: principalsFoo, when: [{ key: 'request.headers[x-token]', values: ['secret'] }] }],
  });
  assert.deepEqual(p.conditions, [warning('request.headers[x-token]', DENY_NO_EFFECT_TAIL)]);
  assert.equal(decide(p, FOO_BAR), 'allow');
});

test('status: "DENY policy with L4 From and L7-only To methods is a no-op due to AND empty clause"', () => {
  const p = l4({ action: 'DENY', rules: [{ from: principalsFoo, to: [{ operation: { methods: ['GET'] } }] }] });
  assert.deepEqual(p.conditions, [warning('methods', DENY_NO_EFFECT_TAIL)]);
  assert.equal(decide(p, FOO_BAR), 'allow');
});

test('a to-list with one L7-only entry and one port entry keeps the port entry (entries are ORed)', () => {
  const p = l4({
    action: 'DENY',
    rules: [{ from: principalsFoo, to: [{ operation: { methods: ['GET'] } }, { operation: { ports: ['443'] } }] }],
  });
  assert.deepEqual(p.conditions, [warning('methods', DENY_MIXED_TAIL)]);
  assert.equal(decide(p, FOO_BAR), 'deny');
  assert.equal(decide(p, { ...FOO_BAR, destinationPort: 80 }), 'allow');
});

// ---- each HTTP-only attribute, as an ALLOW and as a DENY, in L4 and L7 mode ----
interface AttrCase {
  attribute: string;
  rule: AuthzRule;
  /** A request whose HTTP part satisfies the attribute (for L7 mode). */
  matching: AuthzRequest['http'];
  /** A request whose HTTP part does not. */
  notMatching: AuthzRequest['http'];
}
const H = (method: string, host: string, path: string, headers: Record<string, string> = {}) => ({
  method,
  host,
  path,
  headers,
});
const ATTR_CASES: AttrCase[] = [
  {
    attribute: 'hosts',
    rule: { to: [{ operation: { hosts: ['httpbin.org'] } }] },
    matching: H('GET', 'httpbin.org', '/'),
    notMatching: H('GET', 'evil.org', '/'),
  },
  {
    attribute: 'notHosts',
    rule: { to: [{ operation: { notHosts: ['evil.org'] } }] },
    matching: H('GET', 'httpbin.org', '/'),
    notMatching: H('GET', 'evil.org', '/'),
  },
  {
    attribute: 'methods',
    rule: { to: [{ operation: { methods: ['GET'] } }] },
    matching: H('GET', 'h', '/'),
    notMatching: H('POST', 'h', '/'),
  },
  {
    attribute: 'notMethods',
    rule: { to: [{ operation: { notMethods: ['POST'] } }] },
    matching: H('GET', 'h', '/'),
    notMatching: H('POST', 'h', '/'),
  },
  {
    attribute: 'paths',
    rule: { to: [{ operation: { paths: ['/get'] } }] },
    matching: H('GET', 'h', '/get'),
    notMatching: H('GET', 'h', '/post'),
  },
  {
    attribute: 'notPaths',
    rule: { to: [{ operation: { notPaths: ['/admin*'] } }] },
    matching: H('GET', 'h', '/get'),
    notMatching: H('GET', 'h', '/admin/x'),
  },
  {
    attribute: 'requestPrincipals',
    rule: { from: [{ source: { requestPrincipals: ['*'] } }] },
    matching: undefined,
    notMatching: H('GET', 'h', '/'),
  },
  {
    attribute: 'notRequestPrincipals',
    rule: { from: [{ source: { notRequestPrincipals: ['*'] } }] },
    matching: H('GET', 'h', '/'),
    notMatching: undefined,
  },
  {
    attribute: 'remoteIpBlocks',
    rule: { from: [{ source: { remoteIpBlocks: ['10.0.0.0/8'] } }] },
    matching: H('GET', 'h', '/'),
    notMatching: undefined,
  },
  {
    attribute: 'notRemoteIpBlocks',
    rule: { from: [{ source: { notRemoteIpBlocks: ['192.168.0.0/16'] } }] },
    matching: H('GET', 'h', '/'),
    notMatching: undefined,
  },
  {
    attribute: 'request.headers[x-team]',
    rule: { when: [{ key: 'request.headers[x-team]', values: ['pay'] }] },
    matching: H('GET', 'h', '/', { 'x-team': 'pay' }),
    notMatching: H('GET', 'h', '/'),
  },
  {
    attribute: 'request.auth.claims[iss]',
    rule: { when: [{ key: 'request.auth.claims[iss]', values: ['x'] }] },
    matching: undefined,
    notMatching: H('GET', 'h', '/'),
  },
  {
    attribute: 'remote.ip',
    rule: { when: [{ key: 'remote.ip', values: ['10.0.0.0/8'] }] },
    matching: H('GET', 'h', '/'),
    notMatching: undefined,
  },
];

function compileWith(action: 'ALLOW' | 'DENY', rule: AuthzRule, mode: EnforcementMode): CompiledPolicy {
  // The L4 part of every rule: only bar in namespace foo, so "denies more" and "allows less" are visible.
  const from = rule.from ?? [{ source: {} }];
  const withL4: AuthzRule = {
    ...rule,
    from: from.map((f) => ({ source: { ...f.source, principals: ['cluster.local/ns/foo/sa/bar'] } })),
  };
  return compileAuthorizationPolicy(authzPolicy('ns', `${action.toLowerCase()}-p`, { action, rules: [withL4] }), mode);
}

for (const c of ATTR_CASES) {
  const isToOrWhen = c.rule.to !== undefined || c.rule.when !== undefined;
  test(`L4 ALLOW with ${c.attribute}: the rule is dropped (allows less) and a warning is set`, () => {
    const p = compileWith('ALLOW', c.rule, 'l4');
    assert.deepEqual(p.conditions, [warning(c.attribute, ALLOW_TAIL)]);
    assert.equal(decide(p, FOO_BAR), 'deny');
    if (c.matching !== undefined)
      assert.equal(decide(p, { ...FOO_BAR, http: c.matching }), 'deny', 'HTTP is ignored at L4');
  });
  test(`L4 DENY with ${c.attribute}: ${isToOrWhen ? 'the emptied to/when entry makes the rule a no-op' : 'the rule keeps its L4 fields (denies more)'}`, () => {
    const p = compileWith('DENY', c.rule, 'l4');
    assert.deepEqual(p.conditions, [warning(c.attribute, isToOrWhen ? DENY_NO_EFFECT_TAIL : DENY_MIXED_TAIL)]);
    assert.equal(decide(p, FOO_BAR), isToOrWhen ? 'allow' : 'deny');
    if (c.notMatching !== undefined) {
      assert.equal(
        decide(p, { ...FOO_BAR, http: c.notMatching }),
        isToOrWhen ? 'allow' : 'deny',
        'HTTP is ignored at L4',
      );
    }
    assert.equal(decide(p, OTHER), 'allow', 'the L4 part still has to match');
  });
  test(`L7 ALLOW and DENY with ${c.attribute}: enforced per request`, () => {
    const a = compileWith('ALLOW', c.rule, 'l7');
    const d = compileWith('DENY', c.rule, 'l7');
    assert.deepEqual(a.conditions, []);
    assert.deepEqual(d.conditions, []);
    if (c.matching !== undefined) {
      assert.equal(decide(a, { ...FOO_BAR, http: c.matching }), 'allow');
      assert.equal(decide(d, { ...FOO_BAR, http: c.matching }), 'deny');
      assert.equal(decide(a, { ...OTHER, http: c.matching }), 'deny', 'and the L4 part');
    }
    if (c.notMatching !== undefined) {
      assert.equal(decide(a, { ...FOO_BAR, http: c.notMatching }), 'deny');
      assert.equal(decide(d, { ...FOO_BAR, http: c.notMatching }), 'allow');
    }
  });
}

test('L4 keeps ports, serviceAccounts, trustDomains, source.serviceAccount, source.trustDomain and connection.sni', () => {
  const p = l4({
    rules: [
      {
        from: [{ source: { serviceAccounts: ['foo/bar'], trustDomains: ['cluster.local'] } }],
        to: [{ operation: { ports: ['443'] } }],
        when: [
          { key: 'source.serviceAccount', values: ['foo/bar'] },
          { key: 'source.trustDomain', values: ['cluster.local'] },
          { key: 'connection.sni', values: ['httpbin.org'] },
        ],
      },
    ],
  });
  assert.deepEqual(p.conditions, []);
  assert.equal(decide(p, { ...FOO_BAR, sni: 'httpbin.org' }), 'allow');
  assert.equal(decide(p, { ...FOO_BAR, sni: 'other.org' }), 'deny');
});

test('found attributes across several rules are deduplicated and sorted', () => {
  const p = l4({
    rules: [
      { to: [{ operation: { paths: ['/a'], methods: ['GET'] } }] },
      { to: [{ operation: { hosts: ['h'], methods: ['PUT'] } }], when: [{ key: 'request.headers[b]', values: ['1'] }] },
      { from: [{ source: { namespaces: ['foo'] } }] },
    ],
  });
  assert.deepEqual(p.conditions, [warning('hosts, methods, paths, request.headers[b]', ALLOW_TAIL)]);
  assert.equal(decide(p, FOO_BAR), 'allow', 'the pure-L4 rule survives');
});
