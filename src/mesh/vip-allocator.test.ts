/**
 * VIP allocation against istiod's own test: istio/istio pilot/pkg/controllers/ipallocate/ipallocate_test.go
 * (TestIPAllocate, TestIPAllocateStaleAddressCleanup), step by step, through the loader and the compiler, so the
 * manifests' `status.addresses` travel the same path as in `serve`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfigTexts } from '../config/load.ts';
import { compileSnapshot } from './compile.ts';
import type { Snapshot } from './snapshot.ts';

interface SeOpts {
  hosts: string[];
  resolution?: string;
  addresses?: string[];
  labels?: Record<string, string>;
  created?: string;
  status?: { host: string; value: string }[];
  /** istiod's webhook refuses a wildcard host with DNS resolution unless endpoints are given. */
  endpoints?: string[];
}

function seYaml(ns: string, name: string, o: SeOpts): string {
  const lines = [
    'apiVersion: networking.istio.io/v1',
    'kind: ServiceEntry',
    'metadata:',
    `  name: ${JSON.stringify(name)}`,
    `  namespace: ${ns}`,
  ];
  if (o.created) lines.push(`  creationTimestamp: "${o.created}"`);
  if (o.labels) lines.push(`  labels: ${JSON.stringify(o.labels)}`);
  lines.push('spec:', `  hosts: ${JSON.stringify(o.hosts)}`, `  resolution: ${o.resolution ?? 'DNS'}`);
  lines.push('  ports: [{number: 443, name: tls, protocol: TLS}]');
  if (o.endpoints) lines.push(`  endpoints: ${JSON.stringify(o.endpoints.map((address) => ({ address })))}`);
  if (o.addresses) lines.push(`  addresses: ${JSON.stringify(o.addresses)}`);
  if (o.status) {
    lines.push('status:', '  conditions: [{type: test, status: asserting, reason: controllerTest, message: keep me}]');
    lines.push(`  addresses: ${JSON.stringify(o.status)}`);
  }
  return lines.join('\n');
}

const GATEWAY = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: egress, namespace: istio-system}
spec:
  gatewayClassName: solo-ztunnel-egress
  listeners: [{name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: All}}}]`;
const BOUND = { 'istio.io/use-waypoint': 'egress', 'istio.io/use-waypoint-namespace': 'istio-system' };

class Rig {
  entries = new Map<string, { ns: string; name: string; o: SeOpts }>();
  snap: Snapshot | null = null;
  /** Write each entry's addresses back to its status after a compile, as istiod does in a cluster. */
  readonly writesStatus: boolean;
  constructor(writesStatus: boolean) {
    this.writesStatus = writesStatus;
  }
  set(ns: string, name: string, o: SeOpts): void {
    this.entries.set(`${ns}/${name}`, { ns, name, o });
  }
  /** `rig.se.Get` + change + `rig.se.Update`: the spec changes, the status stays as written. */
  update(ns: string, name: string, change: Partial<SeOpts>): void {
    const e = this.entries.get(`${ns}/${name}`)!;
    e.o = { ...e.o, ...change };
  }
  compile(): Snapshot {
    const docs = [GATEWAY, ...[...this.entries.values()].map((e) => seYaml(e.ns, e.name, e.o))];
    const load = loadConfigTexts([{ path: 'se.yaml', text: docs.join('\n---\n') }], { settings: null, env: {} });
    const errors = load.diagnostics.filter((d) => d.severity === 'error');
    assert.deepEqual(errors, []);
    this.snap = compileSnapshot(load, { previous: this.snap });
    if (this.writesStatus) {
      for (const e of this.entries.values()) {
        const vips = this.snap.serviceEntries.get(`ServiceEntry/${e.ns}/${e.name}`)!.vips;
        e.o.status = vips.map((v) => ({ host: v.host, value: v.value }));
      }
    }
    return this.snap;
  }
  /** `GetHostAddressesFromServiceEntry` of our snapshot: host → addresses. */
  hostAddresses(ns: string, name: string): Record<string, string[]> {
    const se = this.snap!.serviceEntries.get(`ServiceEntry/${ns}/${name}`)!;
    const out: Record<string, string[]> = {};
    for (const v of se.vips) (out[v.host] ??= []).push(v.value);
    return out;
  }
  addresses(ns: string, name: string): string[] {
    return Object.values(this.hostAddresses(ns, name)).flat();
  }
}

const v4 = (i: number): string => `240.240.0.${i}`;
const v6 = (i: number): string => `2001:2::${i.toString(16)}`;
const T = (s: number): string => `2024-01-01T00:00:${String(s).padStart(2, '0')}Z`;

/** setupIPAllocateTest: "pre-existing" carries istiod's first pair in its status. */
function setup(): Rig {
  const rig = new Rig(true);
  rig.set('default', 'pre-existing', {
    hosts: ['test.testing.io'],
    created: T(0),
    status: [
      { host: 'test.testing.io', value: v4(1) },
      { host: 'test.testing.io', value: v6(1) },
    ],
  });
  return rig;
}

test('ipallocate_test.go TestIPAllocate: status kept, user addresses and opt-out skipped, conflicts, moving cursor', () => {
  const rig = setup();
  rig.set('boop', 'with-v4-address', { hosts: ['wa-v4.boop.testing.io'], addresses: ['1.2.3.4'], created: T(1) });
  rig.set('boop', 'with-v6-address', { hosts: ['wa-v6.boop.testing.io'], addresses: ['1:2::3:4'], created: T(2) });
  rig.set('boop', 'opt-out', {
    hosts: ['nope.boop.testing.io'],
    labels: { 'networking.istio.io/enable-autoallocate-ip': 'false' },
    created: T(3),
  });
  rig.set('boop', 'with-existing-status', { hosts: ['with-existing-status.boop.testing.io'], created: T(4) });
  rig.compile();
  // The pre-existing entry keeps istiod's addresses; the next entry gets the next pair.
  assert.deepEqual(rig.hostAddresses('default', 'pre-existing'), { 'test.testing.io': [v4(1), v6(1)] });
  assert.deepEqual(rig.addresses('boop', 'with-existing-status'), [v4(2), v6(2)]);
  assert.deepEqual(rig.addresses('boop', 'opt-out'), [], 'no addresses when the user opted out');
  assert.deepEqual(rig.addresses('boop', 'with-v4-address'), [], 'no addresses when the user supplied their own');
  assert.deepEqual(rig.addresses('boop', 'with-v6-address'), [], 'no addresses when the user supplied their own');

  // Conflict with a user's spec address: the auto-assigned entry moves, both families; the user's spec is untouched.
  rig.set('boop', 'user-assigned-conflict', {
    hosts: ['in-conflict.boop.testing.io'],
    addresses: [v4(2)],
    created: T(5),
  });
  rig.compile();
  assert.deepEqual(rig.addresses('boop', 'with-existing-status'), [v4(3), v6(3)]);
  assert.deepEqual(rig.snap!.serviceEntries.get('ServiceEntry/boop/user-assigned-conflict')!.specAddresses, [v4(2)]);
  assert.deepEqual(rig.addresses('boop', 'user-assigned-conflict'), []);

  // An auto-assigned conflict (a newer entry's status claims the elder's pair): the newer one moves, the elder keeps.
  rig.set('boop', 'status-conflict', {
    hosts: ['status-conflict.boop.testing.io'],
    created: T(6),
    status: [
      { host: 'status-conflict.boop.testing.io', value: v4(3) },
      { host: 'status-conflict.boop.testing.io', value: v6(3) },
    ],
  });
  const conflicted = rig.compile();
  assert.deepEqual(rig.addresses('boop', 'status-conflict'), [v4(4), v6(4)]);
  assert.deepEqual(rig.addresses('boop', 'with-existing-status'), [v4(3), v6(3)]);
  // istiod logs "reassigned %s/%s due to IP Address conflict"; Portcullis reports it as a warning.
  assert.deepEqual(
    conflicted.diagnostics.filter((d) => d.code === 'PCL_MESH_VIP_REASSIGNED').map((d) => d.message),
    ['reassigned boop/status-conflict due to IP Address conflict'],
  );
  for (let i = 0; i < 3; i++) {
    rig.compile(); // the elder does not change on later reloads
    assert.deepEqual(rig.addresses('boop', 'with-existing-status'), [v4(3), v6(3)]);
    assert.deepEqual(rig.addresses('boop', 'status-conflict'), [v4(4), v6(4)]);
  }

  const pre = (hosts: string[], resolution = 'DNS', endpoints?: string[]): void =>
    rig.update('default', 'pre-existing', { hosts, resolution, endpoints });

  // Adding a host gives it the next pair.
  pre(['test.testing.io', 'added.testing.io']);
  rig.compile();
  assert.deepEqual(rig.hostAddresses('default', 'pre-existing'), {
    'test.testing.io': [v4(1), v6(1)],
    'added.testing.io': [v4(5), v6(5)],
  });

  // A wildcard host with DNS resolution gets none.
  pre(['test.testing.io', 'added.testing.io', '*.bad-wildcard.testing.io'], 'DNS', ['lb.testing.io']);
  rig.compile();
  assert.equal(rig.addresses('default', 'pre-existing').length, 4);

  // Back to one host; then the same host listed four times gets one pair, and not the released .5.
  pre(['test.testing.io']);
  rig.compile();
  assert.equal(rig.addresses('default', 'pre-existing').length, 2);
  pre(['test.testing.io', 'added.testing.io', 'added.testing.io', 'added.testing.io', 'added.testing.io']);
  rig.compile();
  assert.deepEqual(rig.hostAddresses('default', 'pre-existing'), {
    'test.testing.io': [v4(1), v6(1)],
    'added.testing.io': [v4(6), v6(6)],
  });

  // Removing a host leaves the others as they were.
  pre(['added.testing.io']);
  rig.compile();
  assert.deepEqual(rig.hostAddresses('default', 'pre-existing'), { 'added.testing.io': [v4(6), v6(6)] });

  // A big add and remove.
  pre(['seven.testing.io', 'eight.testing.io', 'nine.testing.io', 'A.testing.io']);
  rig.compile();
  assert.deepEqual(rig.hostAddresses('default', 'pre-existing'), {
    'seven.testing.io': [v4(7), v6(7)],
    'eight.testing.io': [v4(8), v6(8)],
    'nine.testing.io': [v4(9), v6(9)],
    'A.testing.io': [v4(10), v6(10)],
  });

  // A wildcard host with DYNAMIC_DNS gets a pair.
  pre(['*.wildcard.testing.io'], 'DYNAMIC_DNS');
  rig.compile();
  assert.deepEqual(rig.hostAddresses('default', 'pre-existing'), { '*.wildcard.testing.io': [v4(11), v6(11)] });
});

test('ipallocate_test.go TestIPAllocateStaleAddressCleanup: addresses follow eligibility', () => {
  const rig = setup();
  rig.set('common-infrastructure', 'httpbingo-static', { hosts: ['httpbingo.org'], created: T(1) });
  rig.compile();
  assert.equal(rig.addresses('common-infrastructure', 'httpbingo-static').length, 2);
  rig.update('common-infrastructure', 'httpbingo-static', { hosts: ['*.github.com'], endpoints: ['lb.github.com'] });
  rig.compile();
  assert.equal(rig.addresses('common-infrastructure', 'httpbingo-static').length, 0);
  rig.update('common-infrastructure', 'httpbingo-static', { resolution: 'DYNAMIC_DNS', endpoints: undefined });
  rig.compile();
  assert.equal(rig.addresses('common-infrastructure', 'httpbingo-static').length, 2);
  rig.update('common-infrastructure', 'httpbingo-static', { hosts: ['httpbingo.org'], resolution: 'DNS' });
  rig.compile();
  assert.equal(rig.addresses('common-infrastructure', 'httpbingo-static').length, 2);
  rig.update('common-infrastructure', 'httpbingo-static', {
    labels: { 'networking.istio.io/enable-autoallocate-ip': 'false' },
  });
  rig.compile();
  assert.equal(rig.addresses('common-infrastructure', 'httpbingo-static').length, 0);
  rig.update('common-infrastructure', 'httpbingo-static', { labels: undefined, addresses: ['1.2.3.4'] });
  rig.compile();
  assert.equal(rig.addresses('common-infrastructure', 'httpbingo-static').length, 0);
});

test('ip_autoallocation.go shouldV2AutoAllocateIPFromPieces: the opt-out label is compared case-insensitively', () => {
  const rig = new Rig(false);
  for (const [i, value] of ['false', 'FALSE', 'False', 'true', 'no'].entries()) {
    rig.set('ns', `e${i}`, {
      hosts: [`h${i}.example.com`],
      labels: { 'networking.istio.io/enable-autoallocate-ip': value },
      created: T(i),
    });
  }
  rig.compile();
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((i) => rig.addresses('ns', `e${i}`).length),
    [0, 0, 0, 2, 2],
  );
});

test('istiod addresses win: an exported status is served, and a host Portcullis numbered yields to it', () => {
  // A folder: statuses are what the manifests carry, never written back.
  const rig = new Rig(false);
  // First load: no status anywhere, Portcullis numbers "mine" 240.240.0.1.
  rig.set('ns', 'mine', { hosts: ['mine.example.com'], created: T(0), labels: BOUND });
  rig.compile();
  assert.deepEqual(rig.addresses('ns', 'mine'), [v4(1), v6(1)]);
  // A manifest exported from a cluster arrives with istiod's VIPs; one of them is the address Portcullis chose.
  rig.set('ns', 'exported', {
    hosts: ['exported.example.com'],
    created: T(5),
    labels: BOUND,
    status: [
      { host: 'exported.example.com', value: v4(1) },
      { host: 'exported.example.com', value: '2001:2:0:0::1' },
    ],
  });
  rig.compile();
  assert.deepEqual(rig.addresses('ns', 'exported'), [v4(1), v6(1)], "istiod's VIPs, canonical text");
  assert.deepEqual(rig.addresses('ns', 'mine'), [v4(2), v6(2)], 'the older entry still moves: istiod wrote the other');
  // The VIP istiod wrote is what ztunnel sends as the CONNECT authority: it must find the exported entry.
  assert.equal(rig.snap!.findByAddress('Gateway/istio-system/egress', v4(1))?.name, 'exported');
  assert.equal(rig.snap!.findByAddress('Gateway/istio-system/egress', v4(2))?.name, 'mine');
});

test('a conflict between two exported manifests: the newer moves once, and keeps its new pair on every reload', () => {
  const rig = new Rig(false);
  const status = (host: string) => [
    { host, value: v4(7) },
    { host, value: v6(7) },
  ];
  rig.set('ns', 'older', { hosts: ['older.example.com'], created: T(1), status: status('older.example.com') });
  rig.set('ns', 'newer', { hosts: ['newer.example.com'], created: T(2), status: status('newer.example.com') });
  rig.compile();
  assert.deepEqual(rig.addresses('ns', 'older'), [v4(7), v6(7)]);
  const moved = rig.addresses('ns', 'newer');
  assert.deepEqual(moved, [v4(1), v6(1)]);
  for (let i = 0; i < 3; i++) {
    rig.compile();
    assert.deepEqual(rig.addresses('ns', 'newer'), moved);
    assert.deepEqual(rig.addresses('ns', 'older'), [v4(7), v6(7)]);
  }
});

test('status.addresses is read from a ServiceEntry manifest and checked: a non-address names file, line and field', () => {
  const text = seYaml('ns', 'bad', {
    hosts: ['bad.example.com'],
    status: [{ host: 'bad.example.com', value: '240.240.0.300' }],
  });
  const load = loadConfigTexts([{ path: 'exported.yaml', text }], { settings: null, env: {} });
  const errors = load.diagnostics.filter((d) => d.severity === 'error');
  assert.equal(errors.length, 1);
  assert.equal(errors[0].file, 'exported.yaml');
  assert.equal(errors[0].path, 'status.addresses[0].value');
  assert.equal(errors[0].line, 12);
  assert.match(errors[0].message, /240\.240\.0\.300.*must be an IP address/);
});
