/** Istio's evaluation rules (istio/api security/v1beta1/authorization.proto) and the two-layer decision record. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthorizationPolicySpec, AuthzRule } from '../config/api-types.ts';
import { compileAuthorizationPolicy, denyAllPolicy, type CompiledPolicy, type EnforcementMode } from './compile.ts';
import { decideEgress, decideLayer, type LayerInput } from './engine.ts';
import type { AuthzRequest } from './request.ts';
import { authzPolicy } from '../../test/support/policy-fixtures.ts';

const BOOKINFO_PP = 'spiffe://cluster.local/ns/bookinfo/sa/productpage';
const req = (over: Partial<AuthzRequest> = {}): AuthzRequest => ({
  principal: BOOKINFO_PP,
  sourceIp: '10.1.2.3',
  destinationIp: '240.240.0.1',
  destinationPort: 443,
  ...over,
});
const http = (method: string, host: string, path: string, headers: Record<string, string> = {}) => ({
  http: { method, host, path, headers },
});

function compile(
  spec: AuthorizationPolicySpec,
  mode: EnforcementMode = 'l4',
  name = 'p',
  ns = 'istio-system',
  opts: { trustDomain?: string } = {},
  annotations: Record<string, string> = {},
): CompiledPolicy {
  return compileAuthorizationPolicy(authzPolicy(ns, name, spec, annotations), mode, opts);
}
const layer = (...policies: CompiledPolicy[]): LayerInput => ({
  layer: 'gateway',
  target: 'Gateway istio-system/gw',
  policies,
});
const allowRule = (rule: AuthzRule, mode: EnforcementMode = 'l4') => compile({ action: 'ALLOW', rules: [rule] }, mode);
const decision = (p: CompiledPolicy, r: AuthzRequest) => decideLayer(layer(p), r).decision;

test('DENY is evaluated first: a matching DENY wins over a matching ALLOW', () => {
  const a = compile({ action: 'ALLOW', rules: [{}] }, 'l4', 'allow-all');
  const d = compile(
    { action: 'DENY', rules: [{ from: [{ source: { namespaces: ['bookinfo'] } }] }] },
    'l4',
    'deny-bookinfo',
  );
  const r = decideLayer(layer(a, d), req());
  assert.equal(r.decision, 'deny');
  assert.equal(r.reason, 'explicitly denied by: istio-system/deny-bookinfo');
  assert.equal(decideLayer(layer(a, d), req({ principal: 'spiffe://cluster.local/ns/other/sa/x' })).decision, 'allow');
});

test('no enforced ALLOW policy → allow, even when DENY policies exist and do not match', () => {
  const d = compile({ action: 'DENY', rules: [{ from: [{ source: { namespaces: ['default'] } }] }] });
  const r = decideLayer(layer(d), req());
  assert.equal(r.decision, 'allow');
  assert.equal(r.code, 'PCL_AUTHZ_ALLOWED_NO_POLICIES');
  assert.equal(r.reason, 'no allow policies, allow');
});

test('any ALLOW matching allows; the record names the policy and rule index', () => {
  const a1 = compile({ action: 'ALLOW', rules: [{ from: [{ source: { namespaces: ['x'] } }] }] }, 'l4', 'a1');
  const a2 = compile(
    {
      action: 'ALLOW',
      rules: [{ from: [{ source: { namespaces: ['y'] } }] }, { from: [{ source: { namespaces: ['bookinfo'] } }] }],
    },
    'l4',
    'a2',
  );
  const r = decideLayer(layer(a1, a2), req());
  assert.equal(r.decision, 'allow');
  assert.equal(r.code, 'PCL_AUTHZ_ALLOWED_BY_POLICY');
  assert.equal(r.policy, 'istio-system/a2');
  assert.equal(r.rule, 1);
  assert.equal(r.reason, 'allow policy match: istio-system/a2');
});

test('AUDIT never changes a decision and is recorded when it matches', () => {
  const audit = compile({ action: 'AUDIT', rules: [{}] }, 'l4', 'audit-all');
  const auditNo = compile(
    { action: 'AUDIT', rules: [{ from: [{ source: { namespaces: ['nope'] } }] }] },
    'l4',
    'audit-none',
  );
  const only = decideLayer(layer(audit, auditNo), req());
  assert.equal(only.decision, 'allow');
  assert.equal(only.code, 'PCL_AUTHZ_ALLOWED_NO_POLICIES');
  assert.deepEqual(only.audit, ['istio-system/audit-all']);
  const withDenyAll = decideLayer(layer(audit, denyAllPolicy({ namespace: 'istio-system', name: 'dd' }, 'l4')), req());
  assert.equal(withDenyAll.decision, 'deny');
  assert.deepEqual(withDenyAll.audit, ['istio-system/audit-all']);
});

test('CUSTOM is unsupported: the layer fails closed and the policy carries a condition', () => {
  for (const mode of ['l4', 'l7'] as const) {
    const custom = compile({ action: 'CUSTOM', provider: { name: 'ext' }, rules: [{}] }, mode, 'ext-authz');
    assert.equal(custom.conditions.length, 1);
    assert.equal(custom.conditions[0].status, 'False');
    assert.equal(custom.conditions[0].reason, 'UnsupportedValue');
    if (mode === 'l4') {
      assert.deepEqual(custom.conditions[0], {
        type: 'ZtunnelAccepted',
        status: 'False',
        reason: 'UnsupportedValue',
        message: 'ztunnel does not support the CUSTOM action',
      });
    }
    const allowAll = compile({ action: 'ALLOW', rules: [{}] }, mode, 'allow-all');
    const r = decideLayer(layer(allowAll, custom), req());
    assert.equal(r.decision, 'deny');
    assert.equal(r.code, 'PCL_AUTHZ_DENIED_CUSTOM_UNSUPPORTED');
    assert.equal(r.policy, 'istio-system/ext-authz');
  }
  // A dry-run CUSTOM is recorded, never enforced.
  const dry = compile(
    { action: 'CUSTOM', rules: [{}] },
    'l4',
    'dry-custom',
    'istio-system',
    {},
    { 'istio.io/dry-run': 'true' },
  );
  const r = decideLayer(layer(dry), req());
  assert.equal(r.decision, 'allow');
  assert.equal(r.dryRun[0].message, 'dry-run: CUSTOM action is not supported');
});

test('rules: [] / absent never match: ALLOW = deny-all, DENY = no effect; rules: [{}] always matches', () => {
  assert.equal(decision(compile({ action: 'ALLOW', rules: [] }), req()), 'deny');
  assert.equal(decision(compile({ action: 'ALLOW' }), req()), 'deny');
  assert.equal(decision(compile({ action: 'DENY', rules: [] }), req()), 'allow');
  assert.equal(decision(compile({ action: 'DENY', rules: [{}] }), req()), 'deny');
  assert.equal(decision(compile({ rules: [{}] }), req()), 'allow', 'action defaults to ALLOW');
  const dd = decideLayer(layer(denyAllPolicy({ namespace: 'istio-system', name: 'default-deny' }, 'l4')), req());
  assert.equal(dd.decision, 'deny');
  assert.equal(dd.reason, 'allow policies exist, but none allowed');
});

test('inside one source fields are ANDed, list items ORed; from entries ORed; all when ANDed', () => {
  const and = allowRule({ from: [{ source: { namespaces: ['bookinfo'], ipBlocks: ['10.9.0.0/16'] } }] });
  assert.equal(decision(and, req()), 'deny', 'namespace matches, ip does not');
  assert.equal(decision(and, req({ sourceIp: '10.9.1.1' })), 'allow');
  const or = allowRule({ from: [{ source: { namespaces: ['x', 'bookinfo'] } }] });
  assert.equal(decision(or, req()), 'allow');
  const entries = allowRule({ from: [{ source: { namespaces: ['x'] } }, { source: { ipBlocks: ['10.1.0.0/16'] } }] });
  assert.equal(decision(entries, req()), 'allow', 'second from entry matches');
  const whenAll = allowRule({
    when: [
      { key: 'source.namespace', values: ['bookinfo'] },
      { key: 'destination.port', values: ['80'] },
    ],
  });
  assert.equal(decision(whenAll, req()), 'deny', 'port condition fails');
  assert.equal(decision(whenAll, req({ destinationPort: 80 })), 'allow');
  const both = allowRule({ when: [{ key: 'source.namespace', values: ['book*'], notValues: ['bookinfo'] }] });
  assert.equal(decision(both, req()), 'deny', 'values and notValues of one condition are ANDed');
  const fromTo = allowRule({
    from: [{ source: { namespaces: ['bookinfo'] } }],
    to: [{ operation: { ports: ['80'] } }, { operation: { ports: ['443'] } }],
  });
  assert.equal(decision(fromTo, req()), 'allow');
  assert.equal(decision(fromTo, req({ destinationPort: 8443 })), 'deny');
});

test('notX means none match; several not lists are ANDed', () => {
  const p = allowRule({
    from: [{ source: { notNamespaces: ['default', 'kube-*'], notIpBlocks: ['192.168.0.0/16'] } }],
  });
  assert.equal(decision(p, req()), 'allow');
  assert.equal(decision(p, req({ principal: 'spiffe://cluster.local/ns/kube-system/sa/x' })), 'deny');
  assert.equal(decision(p, req({ sourceIp: '192.168.1.1' })), 'deny');
  const ports = allowRule({ to: [{ operation: { notPorts: ['80', '8080'] } }] });
  assert.equal(decision(ports, req()), 'allow');
  assert.equal(decision(ports, req({ destinationPort: 8080 })), 'deny');
});

test('string forms on principals (without spiffe://) and namespaces', () => {
  const prefix = allowRule({ from: [{ source: { principals: ['cluster.local/ns/bookinfo/*'] } }] });
  assert.equal(decision(prefix, req()), 'allow');
  const suffix = allowRule({ from: [{ source: { principals: ['*/sa/productpage'] } }] });
  assert.equal(decision(suffix, req()), 'allow');
  const withScheme = allowRule({
    from: [{ source: { principals: ['spiffe://cluster.local/ns/bookinfo/sa/productpage'] } }],
  });
  assert.equal(decision(withScheme, req()), 'deny', 'principals are compared without spiffe://');
  const nsPresence = allowRule({ from: [{ source: { namespaces: ['*'] } }] });
  assert.equal(decision(nsPresence, req()), 'allow');
  assert.equal(decision(nsPresence, req({ principal: null })), 'deny');
  const nsSuffix = allowRule({ from: [{ source: { namespaces: ['*info'] } }] });
  assert.equal(decision(nsSuffix, req()), 'allow');
});

test('no identity: positive identity matchers fail, negative ones pass', () => {
  const anon = req({ principal: null });
  assert.equal(decision(allowRule({ from: [{ source: { principals: ['*'] } }] }), anon), 'deny');
  assert.equal(decision(allowRule({ from: [{ source: { notPrincipals: ['*'] } }] }), anon), 'allow');
  assert.equal(decision(allowRule({ from: [{ source: { notNamespaces: ['bookinfo'] } }] }), anon), 'allow');
  assert.equal(
    decision(allowRule({ from: [{ source: { serviceAccounts: ['bookinfo/productpage'] } }] }), anon),
    'deny',
  );
  assert.equal(
    decision(allowRule({ from: [{ source: { notServiceAccounts: ['bookinfo/productpage'] } }] }), anon),
    'allow',
  );
  assert.equal(decision(allowRule({ from: [{ source: { trustDomains: ['*'] } }] }), anon), 'deny');
  // The STRICT mTLS idiom: DENY notPrincipals ["*"] refuses connections without an identity.
  const strict = compile({ action: 'DENY', rules: [{ from: [{ source: { notPrincipals: ['*'] } }] }] });
  assert.equal(decision(strict, anon), 'deny');
  assert.equal(decision(strict, req()), 'allow');
  // A malformed SPIFFE URI counts as no identity.
  assert.equal(
    decision(
      allowRule({ from: [{ source: { principals: ['*'] } }] }),
      req({ principal: 'spiffe://td/not/a/workload' }),
    ),
    'deny',
  );
  assert.equal(
    decision(allowRule({ from: [{ source: { principals: ['*'] } }] }), req({ principal: 'https://x/ns/a/sa/b' })),
    'deny',
  );
});

test('serviceAccounts: ns/sa, or a bare sa in the policy namespace', () => {
  const bare = compile(
    { action: 'ALLOW', rules: [{ from: [{ source: { serviceAccounts: ['productpage'] } }] }] },
    'l4',
    'p',
    'bookinfo',
  );
  assert.equal(decision(bare, req()), 'allow');
  const bareOther = compile(
    { action: 'ALLOW', rules: [{ from: [{ source: { serviceAccounts: ['productpage'] } }] }] },
    'l4',
    'p',
    'istio-system',
  );
  assert.equal(decision(bareOther, req()), 'deny');
  const when = allowRule({ when: [{ key: 'source.serviceAccount', values: ['bookinfo/productpage'] }] });
  assert.equal(decision(when, req()), 'allow');
  assert.equal(decision(when, req({ principal: 'spiffe://cluster.local/ns/bookinfo/sa/reviews' })), 'deny');
});

test('trustDomains / notTrustDomains and source.trustDomain are enforced (at L4 too)', () => {
  assert.equal(decision(allowRule({ from: [{ source: { trustDomains: ['cluster.local'] } }] }), req()), 'allow');
  assert.equal(decision(allowRule({ from: [{ source: { trustDomains: ['other.td'] } }] }), req()), 'deny');
  assert.equal(decision(allowRule({ from: [{ source: { notTrustDomains: ['cluster.*'] } }] }), req()), 'deny');
  assert.equal(decision(allowRule({ when: [{ key: 'source.trustDomain', values: ['*.local'] }] }), req()), 'allow');
  const mixed = allowRule({ from: [{ source: { namespaces: ['bookinfo'], trustDomains: ['cluster.local'] } }] });
  assert.equal(
    mixed.conditions.length,
    0,
    'no ztunnel warning: trust domains are connection attributes for Portcullis',
  );
  assert.equal(decision(mixed, req()), 'allow');
});

test('principals written with cluster.local or the mesh trust domain follow the mesh trust domain', () => {
  const opts = { trustDomain: 'example.org' };
  const p = compile(
    { action: 'ALLOW', rules: [{ from: [{ source: { principals: ['cluster.local/ns/bookinfo/sa/productpage'] } }] }] },
    'l4',
    'p',
    'istio-system',
    opts,
  );
  assert.equal(decision(p, req({ principal: 'spiffe://example.org/ns/bookinfo/sa/productpage' })), 'allow');
  assert.equal(decision(p, req({ principal: 'spiffe://other.org/ns/bookinfo/sa/productpage' })), 'deny');
  const foreign = compile(
    { action: 'ALLOW', rules: [{ from: [{ source: { principals: ['other.org/ns/bookinfo/sa/productpage'] } }] }] },
    'l4',
    'p',
    'istio-system',
    opts,
  );
  assert.equal(decision(foreign, req({ principal: 'spiffe://other.org/ns/bookinfo/sa/productpage' })), 'allow');
  const cond = compile(
    {
      action: 'ALLOW',
      rules: [{ when: [{ key: 'source.principal', values: ['cluster.local/ns/bookinfo/sa/productpage'] }] }],
    },
    'l4',
    'p',
    'istio-system',
    opts,
  );
  assert.equal(decision(cond, req({ principal: 'spiffe://example.org/ns/bookinfo/sa/productpage' })), 'allow');
});

test('ipBlocks on the peer address: v4, v6 and IPv4-mapped peers', () => {
  const p = allowRule({ from: [{ source: { ipBlocks: ['10.1.0.0/16', '2001:db8::/32'] } }] });
  assert.equal(decision(p, req()), 'allow');
  assert.equal(decision(p, req({ sourceIp: '::ffff:10.1.9.9' })), 'allow');
  assert.equal(decision(p, req({ sourceIp: '2001:db8::5' })), 'allow');
  assert.equal(decision(p, req({ sourceIp: '10.2.0.1' })), 'deny');
  const dst = allowRule({ when: [{ key: 'destination.ip', values: ['240.240.0.0/16'] }] });
  assert.equal(decision(dst, req()), 'allow');
  assert.equal(
    decision(dst, req({ destinationIp: '' })),
    'deny',
    'unknown destination address never matches a positive block',
  );
});

test('connection.sni at L4', () => {
  const p = allowRule({ when: [{ key: 'connection.sni', values: ['*.httpbin.org', 'httpbin.org'] }] });
  assert.equal(p.conditions.length, 0);
  assert.equal(decision(p, req({ sni: 'httpbin.org' })), 'allow');
  assert.equal(decision(p, req({ sni: 'api.httpbin.org' })), 'allow');
  assert.equal(decision(p, req({ sni: 'evil.example' })), 'deny');
  assert.equal(decision(p, req()), 'deny', 'no SNI never matches values');
  const not = allowRule({ when: [{ key: 'connection.sni', notValues: ['evil.example'] }] });
  assert.equal(decision(not, req()), 'allow', 'no SNI passes notValues');
});

test('L7: hosts are case-insensitive and compared without the port', () => {
  const p = allowRule({ to: [{ operation: { hosts: ['HttpBin.org', '*.example.com'] } }] }, 'l7');
  assert.equal(decision(p, req(http('GET', 'httpbin.ORG', '/'))), 'allow');
  assert.equal(decision(p, req(http('GET', 'httpbin.org:443', '/'))), 'allow');
  assert.equal(decision(p, req(http('GET', 'API.Example.com:8443', '/'))), 'allow');
  assert.equal(decision(p, req(http('GET', 'evil.org', '/'))), 'deny');
  const withPort = allowRule({ to: [{ operation: { hosts: ['httpbin.org:8080'] } }] }, 'l7');
  assert.equal(decision(withPort, req(http('GET', 'httpbin.org:8080', '/'))), 'allow');
  assert.equal(decision(withPort, req(http('GET', 'httpbin.org:9090', '/'))), 'deny');
  const not = allowRule({ to: [{ operation: { notHosts: ['evil.org'] } }] }, 'l7');
  assert.equal(decision(not, req(http('GET', 'EVIL.org:80', '/'))), 'deny');
  assert.equal(decision(not, req(http('GET', 'good.org', '/'))), 'allow');
});

test('L7: methods are case-sensitive; notMethods', () => {
  const p = allowRule({ to: [{ operation: { methods: ['GET', 'HEAD'] } }] }, 'l7');
  assert.equal(decision(p, req(http('GET', 'h', '/'))), 'allow');
  assert.equal(decision(p, req(http('get', 'h', '/'))), 'deny');
  assert.equal(decision(p, req(http('POST', 'h', '/'))), 'deny');
  const not = allowRule({ to: [{ operation: { notMethods: ['DELETE'] } }] }, 'l7');
  assert.equal(decision(not, req(http('DELETE', 'h', '/'))), 'deny');
  assert.equal(decision(not, req(http('PUT', 'h', '/'))), 'allow');
});

test('L7: paths ignore the query string; templates; notPaths', () => {
  const p = allowRule({ to: [{ operation: { paths: ['/get', '/status/*', '/anything/{*}/x'] } }] }, 'l7');
  assert.equal(decision(p, req(http('GET', 'h', '/get?a=1'))), 'allow');
  assert.equal(decision(p, req(http('GET', 'h', '/status/418'))), 'allow');
  assert.equal(decision(p, req(http('GET', 'h', '/anything/one/x'))), 'allow');
  assert.equal(decision(p, req(http('GET', 'h', '/anything/one/two/x'))), 'deny');
  assert.equal(decision(p, req(http('GET', 'h', '/post'))), 'deny');
  const not = allowRule({ to: [{ operation: { notPaths: ['/admin/{**}'] } }] }, 'l7');
  assert.equal(decision(not, req(http('GET', 'h', '/admin/a/b'))), 'deny');
  assert.equal(decision(not, req(http('GET', 'h', '/public'))), 'allow');
});

test('L7: request.headers[] with case-insensitive names; absent header fails values, passes notValues', () => {
  const p = allowRule({ when: [{ key: 'request.headers[X-Team]', values: ['payments', 'risk-*'] }] }, 'l7');
  assert.equal(decision(p, req(http('GET', 'h', '/', { 'x-team': 'payments' }))), 'allow');
  assert.equal(decision(p, req(http('GET', 'h', '/', { 'x-team': 'risk-eu' }))), 'allow');
  assert.equal(decision(p, req(http('GET', 'h', '/', { 'x-team': 'Payments' }))), 'deny', 'values are case-sensitive');
  assert.equal(decision(p, req(http('GET', 'h', '/'))), 'deny');
  const not = allowRule({ when: [{ key: 'request.headers[x-debug]', notValues: ['*'] }] }, 'l7');
  assert.equal(decision(not, req(http('GET', 'h', '/'))), 'allow');
  assert.equal(decision(not, req(http('GET', 'h', '/', { 'x-debug': '1' }))), 'deny');
});

test('L7: no JWT support, so request principals and request.auth.* never match values and always pass negatives', () => {
  const rp = allowRule({ from: [{ source: { requestPrincipals: ['*'] } }] }, 'l7');
  assert.equal(decision(rp, req(http('GET', 'h', '/', { authorization: 'Bearer x' }))), 'deny');
  const nrp = allowRule({ from: [{ source: { notRequestPrincipals: ['*'] } }] }, 'l7');
  assert.equal(decision(nrp, req(http('GET', 'h', '/'))), 'allow');
  const claim = allowRule({ when: [{ key: 'request.auth.claims[groups]', values: ['admins'] }] }, 'l7');
  assert.equal(decision(claim, req(http('GET', 'h', '/'))), 'deny');
  const notClaim = allowRule({ when: [{ key: 'request.auth.principal', notValues: ['x/y'] }] }, 'l7');
  assert.equal(decision(notClaim, req(http('GET', 'h', '/'))), 'allow');
});

test('L7: remoteIpBlocks / remote.ip use the peer address (no trusted proxy hops)', () => {
  const p = allowRule({ from: [{ source: { remoteIpBlocks: ['10.1.0.0/16'] } }] }, 'l7');
  assert.equal(decision(p, req(http('GET', 'h', '/', { 'x-forwarded-for': '10.9.9.9' }))), 'allow');
  assert.equal(
    decision(p, req({ sourceIp: '10.9.9.9', ...http('GET', 'h', '/', { 'x-forwarded-for': '10.1.1.1' }) })),
    'deny',
  );
  const w = allowRule({ when: [{ key: 'remote.ip', notValues: ['10.1.2.3'] }] }, 'l7');
  assert.equal(decision(w, req(http('GET', 'h', '/'))), 'deny');
});

test('L7 policy decided without an HTTP request uses Envoy TCP-chain semantics', () => {
  const allowGet = allowRule({ to: [{ operation: { methods: ['GET'] } }] }, 'l7');
  assert.equal(decision(allowGet, req()), 'deny', 'an ALLOW rule with HTTP fields is dropped on TCP');
  const denyGet = compile({ action: 'DENY', rules: [{ to: [{ operation: { methods: ['GET'] } }] }] }, 'l7');
  assert.equal(decision(denyGet, req()), 'deny', 'a DENY loses its HTTP fields and denies all TCP traffic');
  assert.equal(decision(denyGet, req(http('POST', 'h', '/'))), 'allow', 'with a request every attribute is enforced');
  assert.equal(denyGet.conditions.length, 0, 'L7 policies carry no ztunnel warning');
});

test('decideEgress: every layer is evaluated and recorded; both must allow', () => {
  const gwAllow = compile(
    { action: 'ALLOW', rules: [{ from: [{ source: { namespaces: ['bookinfo'] } }] }] },
    'l4',
    'gw-allow',
  );
  const seDeny = compile(
    { action: 'ALLOW', rules: [{ from: [{ source: { namespaces: ['other'] } }] }] },
    'l4',
    'se-allow',
    'bookinfo',
  );
  const layers: LayerInput[] = [
    { layer: 'gateway', target: 'Gateway istio-system/ztunnel-egress', policies: [gwAllow] },
    { layer: 'serviceentry', target: 'ServiceEntry bookinfo/httpbin-org', policies: [seDeny] },
  ];
  const r = decideEgress(layers, req());
  assert.equal(r.decision, 'deny');
  assert.equal(r.layers.length, 2);
  assert.equal(r.layers[0].decision, 'allow');
  assert.equal(r.layers[1].decision, 'deny');
  assert.equal(r.code, 'PCL_AUTHZ_DENIED_NOT_ALLOWED');
  assert.equal(r.reason, r.layers[1].reason);

  // A denying first layer still lets the second be evaluated and recorded; the record takes the first denial.
  const gwDeny = compile({ action: 'DENY', rules: [{}] }, 'l4', 'gw-deny');
  const r2 = decideEgress(
    [
      { ...layers[0], policies: [gwDeny] },
      { ...layers[1], policies: [] },
    ],
    req(),
  );
  assert.equal(r2.decision, 'deny');
  assert.equal(r2.code, 'PCL_AUTHZ_DENIED_EXPLICIT');
  assert.equal(r2.layers[1].decision, 'allow');
  assert.equal(r2.layers[1].target, 'ServiceEntry bookinfo/httpbin-org');

  // All allow: code and reason of the last layer.
  const r3 = decideEgress([layers[0], { ...layers[1], policies: [] }], req());
  assert.equal(r3.decision, 'allow');
  assert.equal(r3.code, 'PCL_AUTHZ_ALLOWED_NO_POLICIES');
  assert.equal(r3.reason, 'no allow policies, allow');

  const none = decideEgress([], req());
  assert.equal(none.decision, 'deny');
  assert.equal(none.code, 'PCL_AUTHZ_DENIED_NO_LAYERS');
});

test('invalid values never match and are reported on the policy', () => {
  const p = allowRule({ from: [{ source: { ipBlocks: ['not-an-ip'] } }], to: [{ operation: { ports: ['http'] } }] });
  assert.equal(decision(p, req()), 'deny');
  assert.equal(p.conditions.length, 1);
  assert.equal(p.conditions[0].reason, 'Invalid');
  assert.match(p.conditions[0].message, /ipBlocks: "not-an-ip"/);
  assert.match(p.conditions[0].message, /ports: "http"/);
});
