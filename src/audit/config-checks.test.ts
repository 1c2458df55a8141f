/** The `config` layer: default-deny, binding, mixed clusters, policies that do less than they say, permissions, malformed input. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { auditOf, codes } from '../../test/support/audit-fixtures.ts';

const SEED = join(import.meta.dirname, '..', '..', 'examples', 'seed-000');
const GATEWAY = readFileSync(join(SEED, 'gateway.yaml'), 'utf8') + '\n---\n';
const DEFAULT_DENY = readFileSync(join(SEED, 'default-deny.yaml'), 'utf8') + '\n---\n';
const SE = readFileSync(join(SEED, 'serviceentry.yaml'), 'utf8') + '\n---\n';
const SETTINGS_NO_DEFAULT_DENY = 'egressPolicies: [{matchCidrs: [0.0.0.0/0, "::/0"], policy: Deny}]\n';

const config = (manifests: string, settings?: string) =>
  auditOf(manifests, settings).findings.filter((f) => f.layer === 'config');

const policy = (name: string, ns: string, spec: string) =>
  `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n${spec}\n---\n`;
const ON_GATEWAY = '  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: ztunnel-egress}]';

test('egress gateway without default-deny: error on the Gateway, fix names it; the policy or the setting clears it', () => {
  const f = config(GATEWAY, SETTINGS_NO_DEFAULT_DENY);
  assert.deepEqual(codes(f), ['PCL_AUDIT_NO_DEFAULT_DENY Gateway/istio-system/ztunnel-egress']);
  assert.match(
    f[0].fix,
    /kind: AuthorizationPolicy[\s\S]*namespace: istio-system[\s\S]*name: ztunnel-egress[\s\S]*action: ALLOW\n\s+rules: \[\]/,
  );
  assert.deepEqual(config(GATEWAY + DEFAULT_DENY, SETTINGS_NO_DEFAULT_DENY), []);
  assert.deepEqual(config(GATEWAY), [], 'egressGateway.defaultDeny: true in the settings');
  // An ALLOW policy with rules is not a default-deny: deleting it would open the gateway.
  const allow = policy(
    'allow-ns',
    'istio-system',
    `${ON_GATEWAY}\n  rules: [{from: [{source: {namespaces: [bookinfo]}}]}]`,
  );
  assert.deepEqual(codes(config(GATEWAY + allow, SETTINGS_NO_DEFAULT_DENY)), [
    'PCL_AUDIT_NO_DEFAULT_DENY Gateway/istio-system/ztunnel-egress',
  ]);
});

test('a ServiceEntry asking for a waypoint that does not bind', () => {
  const f = config(
    GATEWAY + SE.replace('istio.io/use-waypoint: ztunnel-egress', 'istio.io/use-waypoint: no-such-gateway'),
  );
  assert.deepEqual(codes(f), ['PCL_AUDIT_SE_NOT_BOUND ServiceEntry/bookinfo/httpbin-org']);
  assert.match(f[0].message, /WaypointIsNotReady/);
  assert.match(f[0].fix, /istio\.io\/use-waypoint: ztunnel-egress\n\s+istio\.io\/use-waypoint-namespace: istio-system/);
  assert.deepEqual(
    config(
      GATEWAY +
        SE.replace(
          /\s+istio\.io\/use-waypoint: ztunnel-egress\n\s+istio\.io\/use-waypoint-namespace: istio-system/,
          '\n    app: x',
        ),
    ),
    [],
    'no label: not meant for the gateway',
  );
});

test('mixed cluster: a bound ServiceEntry needs solo.io/sidecar-skip-waypoint', () => {
  const noAnnotation = SE.replace(/\s+annotations:\n\s+solo\.io\/sidecar-skip-waypoint: "true"/, '');
  const sidecarNs =
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: legacy, labels: {istio-injection: enabled}}\n---\n';
  const revNs = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: legacy, labels: {istio.io/rev: canary}}\n---\n';
  const sidecarTemplate = `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: old, namespace: legacy}\nspec:\n  selector: {matchLabels: {app: old}}\n  template:\n    metadata:\n      labels: {app: old}\n      annotations: {sidecar.istio.io/inject: "true"}\n    spec: {containers: [{name: c, image: busybox}]}\n---\n`;
  for (const mixed of [sidecarNs, revNs, sidecarTemplate]) {
    const f = config(GATEWAY + noAnnotation + mixed);
    assert.deepEqual(codes(f), ['PCL_AUDIT_SIDECAR_SKIP_MISSING ServiceEntry/bookinfo/httpbin-org'], mixed);
    assert.match(f[0].fix, /solo\.io\/sidecar-skip-waypoint: "true"/);
  }
  assert.deepEqual(config(GATEWAY + SE + sidecarNs), [], 'annotated');
  assert.deepEqual(config(GATEWAY + noAnnotation), [], 'not a mixed cluster');
});

test('a policy targeting the egress GatewayClass', () => {
  const p = policy(
    'on-class',
    'istio-system',
    '  targetRefs: [{kind: GatewayClass, group: gateway.networking.k8s.io, name: solo-ztunnel-egress}]\n  rules: [{}]',
  );
  const f = config(GATEWAY + p);
  assert.deepEqual(codes(f), ['PCL_AUDIT_POLICY_TARGETS_GATEWAY_CLASS AuthorizationPolicy/istio-system/on-class']);
  assert.match(
    f[0].fix,
    /targetRefs:\n\s+- kind: Gateway\n\s+group: gateway\.networking\.k8s\.io\n\s+name: ztunnel-egress/,
  );
});

test('HTTP attributes in an ALLOW on the L4 gateway; DENYs that never match; policies that attach to nothing', () => {
  const http = policy('allow-get', 'istio-system', `${ON_GATEWAY}\n  rules: [{to: [{operation: {methods: [GET]}}]}]`);
  const emptyDeny = policy('deny-nothing', 'istio-system', `${ON_GATEWAY}\n  action: DENY`);
  const httpDeny = policy(
    'deny-post',
    'istio-system',
    `${ON_GATEWAY}\n  action: DENY\n  rules: [{to: [{operation: {methods: [POST]}}]}]`,
  );
  const goodDeny = policy(
    'deny-default',
    'istio-system',
    `${ON_GATEWAY}\n  action: DENY\n  rules: [{from: [{source: {namespaces: [default]}}]}]`,
  );
  const lost = policy(
    'lost',
    'bookinfo',
    '  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: no-such-se}]\n  rules: [{}]',
  );
  const f = config(GATEWAY + http + emptyDeny + httpDeny + goodDeny + lost);
  assert.deepEqual(codes(f).sort(), [
    'PCL_AUDIT_ALLOW_HTTP_ON_L4 AuthorizationPolicy/istio-system/allow-get',
    'PCL_AUDIT_DENY_NEVER_MATCHES AuthorizationPolicy/istio-system/deny-post',
    'PCL_AUDIT_POLICY_NOT_ATTACHED AuthorizationPolicy/bookinfo/lost',
    // Istio's validation already refuses a DENY without rules; the refusal is itself a config finding.
    'PCL_VALIDATION_AUTHZ_ACTION AuthorizationPolicy/istio-system/deny-nothing',
  ]);
  assert.match(f.find((x) => x.code === 'PCL_AUDIT_ALLOW_HTTP_ON_L4')!.message, /found: methods/);
});

test('a route in another namespace than the waypoint, without permission', () => {
  const gw = `apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: egress-waypoint, namespace: istio-egress}\nspec:\n  gatewayClassName: istio-waypoint\n  listeners: [{name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: All}}}]\n---\n`;
  const se = `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: nginx, namespace: istio-egress, labels: {istio.io/use-waypoint: egress-waypoint}}\nspec:\n  hosts: [my-nginx.foo.bar]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: DNS\n---\n`;
  const route = `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: team}\nspec:\n  parentRefs: [{kind: ServiceEntry, group: networking.istio.io, name: nginx, namespace: istio-egress}]\n  rules: [{backendRefs: [{kind: Hostname, group: networking.istio.io, name: my-nginx.foo.bar, port: 80}]}]\n---\n`;
  const f = config(gw + se + route);
  assert.deepEqual(codes(f), ['PCL_AUDIT_CROSS_NAMESPACE_NOT_PERMITTED HTTPRoute/team/r']);
  assert.match(f[0].fix, /permitCrossNamespaceResourceAccess:\n\s+- istio-egress\/egress-waypoint/);
  const permitted =
    'egressPolicies: [{matchCidrs: [0.0.0.0/0, "::/0"], policy: Deny}]\npermitCrossNamespaceResourceAccess: [istio-egress/egress-waypoint]\n';
  assert.deepEqual(config(gw + se + route, permitted), []);
});

test('configuration errors become config findings with their own code and place', () => {
  const broken =
    'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad, namespace: app}\nspec:\n  policyTypes: [Sideways]\n';
  const f = config(broken);
  assert.equal(f.length >= 1, true);
  assert.equal(f[0].severity, 'error');
  assert.equal(f[0].resource.kind, 'NetworkPolicy');
  assert.equal(f[0].resource.name, 'bad');
  assert.match(f[0].code, /^PCL_/);
  assert.equal(f[0].location?.file, 'test.yaml');
});
