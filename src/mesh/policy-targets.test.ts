/**
 * WaypointAccepted and WaypointBound as istiod writes them, through the loader and the compiler:
 * istio/istio pilot/pkg/serviceregistry/ambient/authorization_test.go (TestWaypointPolicyStatusCollection),
 * pilot/pkg/serviceregistry/ambient/services_test.go (TestServiceConditions) and pilot/pkg/model/service.go
 * (flattenConditions) for policies with several targets.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfigTexts } from '../config/load.ts';
import { compileSnapshot } from './compile.ts';
import type { Condition } from './conditions.ts';
import type { Snapshot } from './snapshot.ts';

const NS = 'ns1';

const WAYPOINT = `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: ${NS}}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: All}}}]
`;

const gatewayClass = (name: string, controllerName: string): string => `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: ${name}}
spec: {controllerName: ${controllerName}}
`;

const policy = (name: string, namespace: string, targetRefs: string): string => `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  targetRefs: ${targetRefs}
  action: ALLOW
  rules: [{from: [{source: {namespaces: [apps]}}]}]
`;

const gwRef = (name: string): string => `{kind: Gateway, group: gateway.networking.k8s.io, name: ${name}}`;
const classRef = (name: string): string => `[{kind: GatewayClass, group: gateway.networking.k8s.io, name: ${name}}]`;

function compile(docs: string[], settings?: string): Snapshot {
  const load = loadConfigTexts([{ path: 'test.yaml', text: docs.join('\n---\n') }], {
    settings: settings ? { path: 'portcullis.yaml', text: settings } : null,
    env: {},
  });
  assert.deepEqual(
    load.diagnostics.filter((d) => d.severity === 'error'),
    [],
  );
  return compileSnapshot(load);
}

function accepted(snap: Snapshot, ns: string, name: string): Condition {
  const list = snap.conditions.get(`AuthorizationPolicy/${ns}/${name}`) ?? [];
  const c = list.find((x) => x.type === 'WaypointAccepted');
  assert.ok(c, JSON.stringify(list));
  return c;
}

/** A WaypointAccepted condition. */
const wa = (status: 'True' | 'False', reason: string, message: string): Condition => ({
  type: 'WaypointAccepted',
  status,
  reason,
  message,
});

const layerSize = (snap: Snapshot): number => snap.gatewayLayer(`Gateway/${NS}/waypoint`).policies.length;

describe('authorization_test.go TestWaypointPolicyStatusCollection', () => {
  it('single-bind-success-gateway-targetRef', () => {
    const snap = compile([WAYPOINT, policy('single-gateway-pol-tr', NS, `[${gwRef('waypoint')}]`)]);
    assert.deepEqual(accepted(snap, NS, 'single-gateway-pol-tr'), wa('True', 'Accepted', `bound to ${NS}/waypoint`));
    assert.equal(layerSize(snap), 1);
  });

  it('single-bind-no-gateway', () => {
    const snap = compile([WAYPOINT, policy('single-no-gateway-pol', NS, `[${gwRef('not-a-waypoint')}]`)]);
    assert.deepEqual(accepted(snap, NS, 'single-no-gateway-pol'), wa('False', 'TargetNotFound', 'not bound'));
    assert.equal(layerSize(snap), 0);
  });

  it("single-bind-gateway-class: a class with istiod's waypoint controller binds, and attaches to its Gateways", () => {
    const snap = compile([
      WAYPOINT,
      gatewayClass('istio-waypoint', 'istio.io/mesh-controller'),
      policy('single-gateway-class-pol', 'istio-system', classRef('istio-waypoint')),
    ]);
    assert.deepEqual(
      accepted(snap, 'istio-system', 'single-gateway-class-pol'),
      wa('True', 'Accepted', 'bound to istio-waypoint'),
    );
    assert.equal(layerSize(snap), 1);
  });

  it('nonexistent-gateway-class', () => {
    const snap = compile([
      WAYPOINT,
      policy('single-no-gateway-class-pol', 'istio-system', classRef('nonexistent-gateway-class')),
    ]);
    assert.deepEqual(
      accepted(snap, 'istio-system', 'single-no-gateway-class-pol'),
      wa('False', 'TargetNotFound', 'not bound'),
    );
  });

  // Upstream uses "random-controller", which the GatewayClass CRD's pattern refuses; a domain-prefixed name here.
  it('non-waypoint-gateway-class: decided by controllerName, not by the class name', () => {
    const snap = compile([
      WAYPOINT,
      gatewayClass('istio-waypoint', 'example.com/random-controller'),
      policy('non-waypoint-gateway-class-pol', 'istio-system', classRef('istio-waypoint')),
    ]);
    assert.deepEqual(
      accepted(snap, 'istio-system', 'non-waypoint-gateway-class-pol'),
      wa('False', 'Invalid', 'GatewayClass must use controller name `istio.io/mesh-controller` for waypoints'),
    );
    assert.equal(layerSize(snap), 0, 'an unbound policy attaches nowhere');
  });

  it('gateway-class-ap-not-in-root-ns', () => {
    const snap = compile([
      WAYPOINT,
      gatewayClass('istio-waypoint', 'istio.io/mesh-controller'),
      policy('gateway-class-ap-not-in-root-ns-pol', 'other-ns', classRef('istio-waypoint')),
    ]);
    assert.deepEqual(
      accepted(snap, 'other-ns', 'gateway-class-ap-not-in-root-ns-pol'),
      wa(
        'False',
        'Invalid',
        'AuthorizationPolicy must be in the root namespace `istio-system` when referencing a GatewayClass',
      ),
    );
  });

  it("Portcullis's own class carries its controller name, settable as controllerName in portcullis.yaml", () => {
    const gw = WAYPOINT.replace('gatewayClassName: istio-waypoint', 'gatewayClassName: portcullis-waypoint');
    const docs = [
      gw,
      gatewayClass('portcullis-waypoint', 'portcullis.dev/gateway-controller'),
      policy('own-class', 'istio-system', classRef('portcullis-waypoint')),
    ];
    const classes = 'gatewayClasses: {portcullis-waypoint: waypoint}\n';
    const own = compile(docs, classes);
    assert.equal(accepted(own, 'istio-system', 'own-class').message, 'bound to portcullis-waypoint');
    assert.equal(layerSize(own), 1);
    const renamed = compile(docs, `${classes}controllerName: example.com/egress\n`);
    assert.equal(accepted(renamed, 'istio-system', 'own-class').reason, 'Invalid');
    assert.equal(layerSize(renamed), 0);
  });
});

describe('service.go flattenConditions: several targets', () => {
  it('all bound: Accepted with no message; some unbound: PartiallyInvalid naming them; none: Invalid', () => {
    const snap = compile([
      WAYPOINT,
      policy('all', NS, `[${gwRef('waypoint')}, ${gwRef('waypoint')}]`),
      policy('some', NS, `[${gwRef('waypoint')}, ${gwRef('nope')}]`),
      policy('none', NS, `[${gwRef('nope')}, {kind: ServiceEntry, group: networking.istio.io, name: missing}]`),
    ]);
    assert.deepEqual(accepted(snap, NS, 'all'), wa('True', 'Accepted', ''));
    assert.deepEqual(
      accepted(snap, NS, 'some'),
      wa('True', 'PartiallyInvalid', `Invalid targetRefs: Gateway.gateway.networking.k8s.io:${NS}/nope`),
    );
    assert.deepEqual(
      accepted(snap, NS, 'none'),
      wa(
        'False',
        'Invalid',
        `Invalid targetRefs: Gateway.gateway.networking.k8s.io:${NS}/nope, ServiceEntry.networking.istio.io:${NS}/missing`,
      ),
    );
  });
});

describe('services_test.go TestServiceConditions: WaypointBound and istio.io/ingress-use-waypoint', () => {
  const serviceEntry = (labels: Record<string, string>, nsLabels?: Record<string, string>): string[] => [
    ...(nsLabels
      ? [`apiVersion: v1\nkind: Namespace\nmetadata: {name: ns, labels: ${JSON.stringify(nsLabels)}}\n`]
      : []),
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: name
  namespace: ns
  labels: ${JSON.stringify({ 'istio.io/use-waypoint': 'waypoint', 'istio.io/use-waypoint-namespace': NS, ...labels })}
spec:
  hosts: [name.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
`,
  ];
  const bound = (snap: Snapshot): Condition =>
    snap.conditions.get('ServiceEntry/ns/name')!.find((c) => c.type === 'istio.io/WaypointBound')!;
  const cases: [string, Record<string, string>, string, Record<string, string>?][] = [
    ['service bound to waypoint', {}, `Successfully attached to waypoint ${NS}/waypoint`],
    [
      'service bound to waypoint and using waypoint for ingress',
      { 'istio.io/ingress-use-waypoint': 'true' },
      `Successfully attached to waypoint ${NS}/waypoint. Ingress traffic will traverse the waypoint`,
    ],
    [
      'service bound to waypoint and ingress label is malformed',
      { 'istio.io/ingress-use-waypoint': 'eurt' },
      `Successfully attached to waypoint ${NS}/waypoint. ` +
        'Ingress traffic is not using the waypoint, set the istio.io/ingress-use-waypoint label to true if desired.',
    ],
    [
      'the namespace label counts when the object has none (ingressUseWaypointFromLabels)',
      {},
      `Successfully attached to waypoint ${NS}/waypoint. Ingress traffic will traverse the waypoint`,
      { 'istio.io/ingress-use-waypoint': 'True' },
    ],
  ];
  for (const [name, labels, message, nsLabels] of cases) {
    it(name, () => {
      assert.deepEqual(bound(compile([WAYPOINT, ...serviceEntry(labels, nsLabels)])), {
        type: 'istio.io/WaypointBound',
        status: 'True',
        reason: 'WaypointAccepted',
        message,
      });
    });
  }
});
