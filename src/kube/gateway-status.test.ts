import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadApiObjects, type ApiObject } from '../config/load-objects.ts';
import { compileSnapshot } from '../mesh/compile.ts';
import { DEFAULT_CONTROLLER_NAME } from './access.ts';
import { desiredStatuses, statusHolds } from './gateway-status.ts';

const NOW = '2026-11-30T10:00:00Z';
const gateway = (listeners: unknown[], status?: unknown, generation = 3): ApiObject => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'Gateway',
  metadata: { name: 'egress', namespace: 'istio-system', generation },
  spec: { gatewayClassName: 'solo-ztunnel-egress', listeners },
  ...(status !== undefined ? { status } : {}),
});
const HBONE = { name: 'mesh', port: 15008, protocol: 'HBONE' };
const classOf = (name: string, controllerName: string): ApiObject => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'GatewayClass',
  metadata: { name, generation: 2 },
  spec: { controllerName },
});
const snap = (objects: ApiObject[]) => compileSnapshot(loadApiObjects(objects));
const inputs = { address: '10.96.0.15', controllerName: DEFAULT_CONTROLLER_NAME, now: NOW };

test('a served Gateway: the address, Accepted and Programmed with observedGeneration, each listener; nothing else', () => {
  const [g] = desiredStatuses(snap([gateway([HBONE])]), inputs);
  assert.equal(g.kind, 'Gateway');
  assert.deepEqual(g.status.addresses, [{ type: 'IPAddress', value: '10.96.0.15' }]);
  const conditions = g.status.conditions as {
    type: string;
    status: string;
    observedGeneration: number;
    lastTransitionTime: string;
  }[];
  assert.deepEqual(conditions.map((c) => [c.type, c.status, c.observedGeneration]).sort(), [
    ['Accepted', 'True', 3],
    ['Programmed', 'True', 3],
  ]);
  assert.ok(conditions.every((c) => c.lastTransitionTime === NOW));
  const [listener] = g.status.listeners as {
    name: string;
    attachedRoutes: number;
    conditions: { type: string; status: string }[];
  }[];
  assert.equal(listener.name, 'mesh');
  assert.deepEqual(
    listener.conditions.map((c) => [c.type, c.status]),
    [
      ['Accepted', 'True'],
      ['Programmed', 'True'],
      ['ResolvedRefs', 'True'],
    ],
  );
});

test('without an address: Programmed is False (AddressNotAssigned) and no addresses field is written', () => {
  const [g] = desiredStatuses(snap([gateway([HBONE])]), { ...inputs, address: null });
  assert.equal(g.status.addresses, undefined);
  const programmed = (g.status.conditions as { type: string; status: string; reason: string }[]).find(
    (c) => c.type === 'Programmed',
  )!;
  assert.deepEqual([programmed.status, programmed.reason], ['False', 'AddressNotAssigned']);
});

test('a listener that is not HBONE on 15008 is not accepted; Accepted says why', () => {
  const [g] = desiredStatuses(snap([gateway([HBONE, { name: 'http', port: 80, protocol: 'HTTP' }])]), inputs);
  const listeners = g.status.listeners as { name: string; conditions: { type: string; status: string }[] }[];
  assert.equal(listeners[1].conditions.find((c) => c.type === 'Accepted')!.status, 'False');
  assert.equal(
    (g.status.conditions as { type: string; reason: string }[]).find((c) => c.type === 'Accepted')!.reason,
    'ListenersNotValid',
  );
});

test("GatewayClasses: Accepted only on those naming Portcullis's controller; unconfigured ones are refused by name", () => {
  const out = desiredStatuses(
    snap([
      classOf('solo-ztunnel-egress', DEFAULT_CONTROLLER_NAME),
      classOf('istio-waypoint', 'istio.io/waypoint-controller'),
      classOf('mine-unknown', DEFAULT_CONTROLLER_NAME),
    ]),
    inputs,
  );
  const classes = out.filter((t) => t.kind === 'GatewayClass');
  assert.deepEqual(classes.map((c) => c.name).sort(), ['mine-unknown', 'solo-ztunnel-egress']);
  const cond = (name: string) =>
    (
      classes.find((c) => c.name === name)!.status.conditions as {
        status: string;
        observedGeneration: number;
        message: string;
      }[]
    )[0];
  assert.equal(cond('solo-ztunnel-egress').status, 'True');
  assert.equal(cond('solo-ztunnel-egress').observedGeneration, 2);
  assert.equal(cond('mine-unknown').status, 'False');
  assert.match(cond('mine-unknown').message, /not in portcullis.yaml gatewayClasses/);
  // Settable controller name: another name, other classes.
  assert.deepEqual(
    desiredStatuses(snap([classOf('istio-waypoint', 'example.com/other')]), {
      ...inputs,
      controllerName: 'example.com/other',
    }).map((t) => t.name),
    ['istio-waypoint'],
  );
});

test('statusHolds: an applied status holds (whatever other conditions sit beside it); a change, or a kept transition time', () => {
  const [first] = desiredStatuses(snap([gateway([HBONE])]), inputs);
  const foreign = { type: 'istio.io/Foreign', status: 'True', reason: 'X', message: 'x', lastTransitionTime: NOW };
  const applied = { ...first.status, conditions: [...(first.status.conditions as unknown[]), foreign] };
  // The object as the API returns it after the write: the status holds, so nothing is written again.
  const [again] = desiredStatuses(snap([gateway([HBONE], applied)]), { ...inputs, now: '2026-12-01T00:00:00Z' });
  assert.ok(statusHolds(applied, again.status));
  // The transition time of an unchanged condition is kept.
  assert.ok((again.status.conditions as { lastTransitionTime: string }[]).every((c) => c.lastTransitionTime === NOW));
  // Another address, or a new generation, does not hold.
  const [moved] = desiredStatuses(snap([gateway([HBONE], applied)]), { ...inputs, address: '10.96.0.16' });
  assert.ok(!statusHolds(applied, moved.status));
  const [bumped] = desiredStatuses(snap([gateway([HBONE], applied, 4)]), inputs);
  assert.ok(!statusHolds(applied, bumped.status));
  assert.ok(!statusHolds(undefined, first.status));
});

test('controllerName is settable in portcullis.yaml; a malformed one is a settings error', () => {
  const settings = (text: string) => loadApiObjects([], { settings: { path: 'portcullis.yaml', text } });
  assert.equal(settings('controllerName: example.com/egress\n').settings.controllerName, 'example.com/egress');
  const bad = settings('controllerName: no-slash\n');
  assert.equal(bad.settings.controllerName, DEFAULT_CONTROLLER_NAME, 'a malformed name keeps the default');
  assert.ok(bad.diagnostics.some((d) => d.code === 'PCL_SETTINGS_INVALID' && d.path === 'controllerName'));
});
