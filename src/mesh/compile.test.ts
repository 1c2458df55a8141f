/** Mesh model: waypoint binding precedence, VIP allocation and stability, policy attachment conditions, indexes. */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfigTexts, type ConfigFile } from '../config/load.ts';
import { compileSnapshot } from './compile.ts';
import type { Condition } from './conditions.ts';
import type { Snapshot } from './snapshot.ts';

const examples = join(import.meta.dirname, '..', '..', 'examples');

function compile(yamlText: string, settings?: string, previous?: Snapshot): Snapshot {
  const files: ConfigFile[] = [{ path: 'test.yaml', text: yamlText }];
  const load = loadConfigTexts(files, {
    settings: settings ? { path: 'portcullis.yaml', text: settings } : null,
    env: {},
  });
  return compileSnapshot(load, { previous });
}

function seedFiles(dir: string): { files: ConfigFile[]; settings: ConfigFile | null } {
  const files: ConfigFile[] = [];
  let settings: ConfigFile | null = null;
  for (const f of readdirSync(join(examples, dir)).sort()) {
    const text = readFileSync(join(examples, dir, f), 'utf8');
    if (f === 'portcullis.yaml') settings = { path: f, text };
    else files.push({ path: f, text });
  }
  return { files, settings };
}

function conds(snap: Snapshot, key: string): Condition[] {
  return [...(snap.conditions.get(key) ?? [])];
}

const GATEWAY = `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: egress, namespace: istio-system}
spec:
  gatewayClassName: solo-ztunnel-egress
  listeners: [{name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: All}}}]
`;

function se(name: string, ns: string, labels: Record<string, string>, hosts = ['a.example.com'], extra = ''): string {
  const l = Object.entries(labels)
    .map(([k, v]) => `    ${k}: "${v}"`)
    .join('\n');
  return `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${name}
  namespace: ${ns}
${l ? `  labels:\n${l}` : ''}
spec:
  hosts: [${hosts.join(', ')}]
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: DNS
${extra}`;
}

test('seed 000 loads with no errors and binds httpbin.org with WaypointAccepted', () => {
  const { files, settings } = seedFiles('seed-000');
  const snap = compileSnapshot(loadConfigTexts(files, { settings, env: {} }));
  assert.deepEqual(
    snap.diagnostics.filter((d) => d.severity === 'error'),
    [],
  );
  const c = conds(snap, 'ServiceEntry/bookinfo/httpbin-org');
  assert.deepEqual(c, [
    {
      type: 'istio.io/WaypointBound',
      status: 'True',
      reason: 'WaypointAccepted',
      message: 'Successfully attached to waypoint istio-system/ztunnel-egress',
    },
  ]);
  const se = snap.serviceEntries.get('ServiceEntry/bookinfo/httpbin-org')!;
  assert.deepEqual(se.vips, [
    { value: '240.240.0.1', host: 'httpbin.org' },
    { value: '2001:2::1', host: 'httpbin.org' },
  ]);
  const gw = conds(snap, 'Gateway/istio-system/ztunnel-egress');
  assert.deepEqual(
    gw.map((x) => `${x.type}=${x.status}/${x.reason}`),
    ['Accepted=True/Accepted', 'Programmed=True/Programmed', 'ResolvedRefs=True/ResolvedRefs'],
  );
  assert.match(gw[1].message, /ztunnel-egress\.istio-system\.svc\.cluster\.local:15008/);
  // Every gateway-layer policy is bound; the SE-layer ones too.
  for (const name of [
    'default-deny-ztunnel-egress',
    'allow-bookinfo-egress',
    'allow-bookinfo-https-only',
    'deny-default-egress',
  ]) {
    assert.deepEqual(conds(snap, `AuthorizationPolicy/istio-system/${name}`)[0], {
      type: 'WaypointAccepted',
      status: 'True',
      reason: 'Accepted',
      message: 'bound to istio-system/ztunnel-egress',
    });
  }
  assert.equal(conds(snap, 'AuthorizationPolicy/bookinfo/allow-productpage-to-httpbin')[0].reason, 'Accepted');
  // Layers: 4 seed policies + the settings' defaultDeny on the gateway; 2 on the ServiceEntry.
  assert.equal(snap.gatewayLayer('Gateway/istio-system/ztunnel-egress').policies.length, 5);
  assert.equal(snap.serviceEntryLayer('ServiceEntry/bookinfo/httpbin-org').policies.length, 2);
  // Lookups.
  assert.equal(snap.findByHost('Gateway/istio-system/ztunnel-egress', 'HTTPBIN.org')?.name, 'httpbin-org');
  assert.equal(snap.findByAddress('Gateway/istio-system/ztunnel-egress', '240.240.0.1')?.name, 'httpbin-org');
  assert.equal(snap.findByAddress('Gateway/istio-system/ztunnel-egress', '2001:2::1')?.name, 'httpbin-org');
  assert.equal(snap.findByAddress('Gateway/istio-system/ztunnel-egress', '240.240.0.2'), null);
});

test('seed 002 loads with no errors; the EnvoyFilter is accepted and reported as not applied', () => {
  const { files, settings } = seedFiles('seed-002');
  const snap = compileSnapshot(loadConfigTexts(files, { settings, env: {} }));
  assert.deepEqual(
    snap.diagnostics.filter((d) => d.severity === 'error'),
    [],
  );
  assert.equal(
    conds(snap, 'ServiceEntry/istio-egress/nginx-mesh-external-se')[0].message,
    'Successfully attached to waypoint istio-egress/egress-waypoint',
  );
  const ef = conds(snap, 'EnvoyFilter/istio-egress/principal-routing-header-envoyfilter')[0];
  assert.equal(ef.status, 'False');
  assert.equal(ef.reason, 'NotApplied');
  assert.match(ef.message, /%%source\.principal%%/);
  // The cross-namespace route is accepted because the settings permit the waypoint's identity.
  const route = snap.routes.get('HTTPRoute/team-namespace/app1-api-partner-com-httproute')!;
  assert.equal(route.parents[0].accepted, true);
  assert.equal(snap.routesFor('ServiceEntry/istio-egress/nginx-mesh-external-se').length, 1);
  // Without the permission the same route is refused with a reason that says what to set.
  const denied = compileSnapshot(loadConfigTexts(files, { settings: null, env: {} }));
  const p = denied.routes.get('HTTPRoute/team-namespace/app1-api-partner-com-httproute')!.parents[0];
  assert.equal(p.accepted, false);
  assert.equal(p.conditions[0].reason, 'CrossNamespaceNotPermitted');
  assert.match(p.conditions[0].message, /permitCrossNamespaceResourceAccess/);
  const dr = denied.destinationRules.get('DestinationRule/team-namespace/app1-nginx-mesh-external-dr')!;
  assert.match(dr.credentialError ?? '', /cross-namespace secret reference requires permission/);
  // And PERMIT_CROSS_NAMESPACE_RESOURCE_ACCESS in the environment is honoured like the setting.
  const viaEnv = compileSnapshot(
    loadConfigTexts(files, {
      settings: null,
      env: { PERMIT_CROSS_NAMESPACE_RESOURCE_ACCESS: 'istio-egress/egress-waypoint' },
    }),
  );
  assert.equal(viaEnv.routes.get('HTTPRoute/team-namespace/app1-api-partner-com-httproute')!.parents[0].accepted, true);
});

test('binding precedence: object label over namespace label; none opts out; use-waypoint-namespace', () => {
  const ns = (name: string, labels: string) => `
apiVersion: v1
kind: Namespace
metadata:
  name: ${name}
  labels: {${labels}}
`;
  const text = [
    GATEWAY,
    `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: other, namespace: istio-system}
spec:
  gatewayClassName: solo-ztunnel-egress
  listeners: [{name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: All}}}]
`,
    ns('apps', '"istio.io/use-waypoint": egress, "istio.io/use-waypoint-namespace": istio-system'),
    se('from-namespace', 'apps', {}),
    se('own-label', 'apps', { 'istio.io/use-waypoint': 'other', 'istio.io/use-waypoint-namespace': 'istio-system' }, [
      'b.example.com',
    ]),
    se('opt-out', 'apps', { 'istio.io/use-waypoint': 'none' }, ['c.example.com']),
    se('no-ns-for-label', 'apps', { 'istio.io/use-waypoint': 'egress' }, ['d.example.com']),
  ].join('\n---\n');
  const snap = compile(text);
  assert.equal(snap.serviceEntries.get('ServiceEntry/apps/from-namespace')!.waypoint, 'Gateway/istio-system/egress');
  assert.equal(snap.serviceEntries.get('ServiceEntry/apps/own-label')!.waypoint, 'Gateway/istio-system/other');
  assert.equal(snap.serviceEntries.get('ServiceEntry/apps/opt-out')!.waypoint, null);
  assert.deepEqual(conds(snap, 'ServiceEntry/apps/opt-out'), []);
  // The object's label names a gateway in its own namespace (no use-waypoint-namespace on the object):
  // istiod does not fall back to the namespace label, it reports the waypoint as not ready.
  assert.equal(snap.serviceEntries.get('ServiceEntry/apps/no-ns-for-label')!.waypoint, null);
  assert.deepEqual(conds(snap, 'ServiceEntry/apps/no-ns-for-label')[0], {
    type: 'istio.io/WaypointBound',
    status: 'False',
    reason: 'WaypointIsNotReady',
    message: 'waypoint "apps/egress" is not ready',
  });
});

test('binding: allowedRoutes Same denies another namespace; waypoint-for workload refuses a ServiceEntry', () => {
  const text = [
    `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: same-only, namespace: istio-system}
spec:
  gatewayClassName: solo-ztunnel-egress
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
`,
    `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: workload-only, namespace: istio-system, labels: {istio.io/waypoint-for: workload}}
spec:
  gatewayClassName: solo-ztunnel-egress
  listeners: [{name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: All}}}]
`,
    se('a', 'apps', { 'istio.io/use-waypoint': 'same-only', 'istio.io/use-waypoint-namespace': 'istio-system' }),
    se('b', 'apps', { 'istio.io/use-waypoint': 'workload-only', 'istio.io/use-waypoint-namespace': 'istio-system' }, [
      'b.example.com',
    ]),
    se('c', 'istio-system', { 'istio.io/use-waypoint': 'same-only' }, ['c.example.com']),
  ].join('\n---\n');
  const snap = compile(text);
  assert.equal(conds(snap, 'ServiceEntry/apps/a')[0].reason, 'AttachmentDenied');
  assert.equal(
    conds(snap, 'ServiceEntry/apps/a')[0].message,
    'we are not permitted to attach to waypoint "istio-system/same-only" (missing allowedRoutes?)',
  );
  assert.deepEqual(conds(snap, 'ServiceEntry/apps/b')[0], {
    type: 'istio.io/WaypointBound',
    status: 'False',
    reason: 'UnsupportedTrafficType',
    message:
      'attempting to bind to traffic type "service" which the waypoint "istio-system/workload-only" does not support',
  });
  assert.equal(conds(snap, 'ServiceEntry/istio-system/c')[0].reason, 'WaypointAccepted');
});

test('a gateway with a listener other than HBONE/15008 reports UnsupportedProtocol and cannot be bound', () => {
  const text = [
    `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: bad, namespace: istio-system}
spec:
  gatewayClassName: solo-ztunnel-egress
  listeners: [{name: web, port: 8080, protocol: HTTP}]
`,
    se('a', 'istio-system', { 'istio.io/use-waypoint': 'bad' }),
  ].join('\n---\n');
  const snap = compile(text);
  const listener = conds(snap, 'Gateway/istio-system/bad#listener/web')[0];
  assert.deepEqual(listener, {
    type: 'Accepted',
    status: 'False',
    reason: 'UnsupportedProtocol',
    message: 'Expected a single listener on port 15008 with protocol "HBONE"',
  });
  assert.equal(conds(snap, 'Gateway/istio-system/bad')[0].status, 'False');
  assert.equal(conds(snap, 'ServiceEntry/istio-system/a')[0].reason, 'WaypointIsNotReady');
});

test('VIPs: sequential, one v4 and one v6 per host, skipped for NONE, spec.addresses and the opt-out label', () => {
  const text = [
    GATEWAY,
    se('two-hosts', 'apps', {}, ['x.example.com', 'y.example.com']),
    se('none', 'apps', {}, ['n.example.com'], '').replace('resolution: DNS', 'resolution: NONE'),
    se('static-addr', 'apps', {}, ['s.example.com'], '  addresses: [10.1.2.3]').replace(
      'resolution: DNS',
      'resolution: STATIC',
    ),
    se('opt-out', 'apps', { 'networking.istio.io/enable-autoallocate-ip': 'false' }, ['o.example.com']),
  ].join('\n---\n');
  const snap = compile(text);
  assert.deepEqual(snap.serviceEntries.get('ServiceEntry/apps/two-hosts')!.vips, [
    { value: '240.240.0.1', host: 'x.example.com' },
    { value: '2001:2::1', host: 'x.example.com' },
    { value: '240.240.0.2', host: 'y.example.com' },
    { value: '2001:2::2', host: 'y.example.com' },
  ]);
  assert.deepEqual(snap.serviceEntries.get('ServiceEntry/apps/none')!.vips, []);
  assert.deepEqual(snap.serviceEntries.get('ServiceEntry/apps/static-addr')!.vips, []);
  assert.deepEqual(snap.serviceEntries.get('ServiceEntry/apps/opt-out')!.vips, []);
});

test('VIPs are stable across reloads: removing one ServiceEntry does not renumber the others', () => {
  const a = se('a', 'apps', {}, ['a.example.com']);
  const b = se('b', 'apps', {}, ['b.example.com']);
  const c = se('c', 'apps', {}, ['c.example.com']);
  const first = compile([GATEWAY, a, b, c].join('\n---\n'));
  const vipOf = (s: Snapshot, name: string) => s.serviceEntries.get(`ServiceEntry/apps/${name}`)!.vips[0].value;
  assert.equal(vipOf(first, 'c'), '240.240.0.3');
  const second = compile([GATEWAY, a, c].join('\n---\n'), undefined, first);
  assert.equal(vipOf(second, 'a'), '240.240.0.1');
  assert.equal(vipOf(second, 'c'), '240.240.0.3');
  // A new ServiceEntry takes the next address, never one another entry holds nor b's released one (istiod's
  // cursor only moves forward: pilot/pkg/controllers/ipallocate/ipallocate.go prefixUse.allocateNext).
  const d = se('d', 'apps', {}, ['d.example.com']);
  const third = compile([GATEWAY, a, c, d].join('\n---\n'), undefined, second);
  assert.equal(vipOf(third, 'd'), '240.240.0.4');
  assert.equal(vipOf(third, 'c'), '240.240.0.3');
  assert.equal(third.generation, 3);
});

test('policy attachment conditions: not found, not bound, GatewayClass of the egress class, partial', () => {
  const ap = (name: string, ns: string, refs: string) => `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: ${ns}}
spec:
  targetRefs: ${refs}
  action: ALLOW
  rules: [{}]
`;
  const text = [
    GATEWAY,
    se('unbound', 'apps', {}),
    ap('missing-gw', 'istio-system', '[{kind: Gateway, group: gateway.networking.k8s.io, name: nope}]'),
    ap('missing-se', 'apps', '[{kind: ServiceEntry, group: networking.istio.io, name: nope}]'),
    ap('unbound-se', 'apps', '[{kind: ServiceEntry, group: networking.istio.io, name: unbound}]'),
    ap('class', 'istio-system', '[{kind: GatewayClass, group: gateway.networking.k8s.io, name: solo-ztunnel-egress}]'),
    ap('class-wrong-ns', 'apps', '[{kind: GatewayClass, group: gateway.networking.k8s.io, name: istio-waypoint}]'),
    ap(
      'partial',
      'istio-system',
      '[{kind: Gateway, group: gateway.networking.k8s.io, name: egress}, {kind: Gateway, group: gateway.networking.k8s.io, name: nope}]',
    ),
  ].join('\n---\n');
  const snap = compile(text);
  const first = (name: string, ns: string) => conds(snap, `AuthorizationPolicy/${ns}/${name}`)[0];
  assert.deepEqual(first('missing-gw', 'istio-system'), {
    type: 'WaypointAccepted',
    status: 'False',
    reason: 'TargetNotFound',
    message: 'not bound', // istiod's words for a Gateway that is no waypoint (ambient/policies.go)
  });
  assert.equal(first('missing-se', 'apps').message, 'ServiceEntry apps/nope was not found');
  assert.deepEqual(first('unbound-se', 'apps'), {
    type: 'WaypointAccepted',
    status: 'False',
    reason: 'AncestorNotBound',
    message: 'ServiceEntry apps/unbound is not bound to a waypoint',
  });
  assert.equal(first('class', 'istio-system').reason, 'Invalid');
  assert.match(first('class', 'istio-system').message, /cannot be targeted directly.*Gateway by name/);
  assert.equal(
    first('class-wrong-ns', 'apps').message,
    'AuthorizationPolicy must be in the root namespace `istio-system` when referencing a GatewayClass',
  );
  assert.equal(first('partial', 'istio-system').reason, 'PartiallyInvalid');
  assert.equal(snap.gatewayLayer('Gateway/istio-system/egress').policies.length, 1);
  assert.equal(snap.policies.get('AuthorizationPolicy/istio-system/class')!.compiled, null);
});

test('defaultDeny in the settings puts a deny-all ALLOW policy on every egress gateway', () => {
  const without = compile(GATEWAY);
  assert.equal(without.gatewayLayer('Gateway/istio-system/egress').policies.length, 0);
  const withIt = compile(GATEWAY, 'egressGateway: {defaultDeny: true}');
  const layer = withIt.gatewayLayer('Gateway/istio-system/egress');
  assert.equal(layer.policies.length, 1);
  assert.equal(layer.policies[0].action, 'ALLOW');
});
