/** Which layers an invalid AuthorizationPolicy takes down: its targets, its namespace, or (root namespace) every one. */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfigTexts, type ConfigFile } from '../config/load.ts';
import { compileSnapshot } from './compile.ts';
import type { Snapshot } from './snapshot.ts';

const seed = join(import.meta.dirname, '..', '..', 'examples', 'seed-000');
const FILES: ConfigFile[] = readdirSync(seed)
  .filter((f) => f !== 'portcullis.yaml')
  .map((f) => ({ path: f, text: readFileSync(join(seed, f), 'utf8') }));
const SETTINGS: ConfigFile = { path: 'portcullis.yaml', text: readFileSync(join(seed, 'portcullis.yaml'), 'utf8') };

function snapWith(text: string): Snapshot {
  return compileSnapshot(loadConfigTexts([...FILES, { path: 'bad.yaml', text }], { settings: SETTINGS, env: {} }));
}

const policy = (ns: string, spec: string): string =>
  `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: bad, namespace: ${ns}}\nspec:\n${spec}`;

/** The refs of the stand-ins on the Gateway layer and on the ServiceEntry layer. */
function standIns(snap: Snapshot): [string[], string[]] {
  const of = (list: readonly { key: string; invalid?: string }[]) =>
    list.filter((p) => p.invalid !== undefined).map((p) => p.key);
  return [
    of(snap.gatewayLayer('Gateway/istio-system/ztunnel-egress').policies),
    of(snap.serviceEntryLayer('ServiceEntry/bookinfo/httpbin-org').policies),
  ];
}

test('unreadable targetRefs in a workload namespace: every layer in that namespace denies, others do not', () => {
  const snap = snapWith(policy('bookinfo', '  targetRefs: not-a-list\n  action: DENY\n'));
  assert.deepEqual(standIns(snap), [[], ['bookinfo/bad']]);
  assert.match(snap.invalid[0].effect, /its targetRefs cannot be read: every layer in namespace bookinfo denies/);
  assert.equal(snap.invalid[0].active, true);
});

test('unreadable targetRefs in the root namespace: every layer denies', () => {
  const snap = snapWith(policy('istio-system', '  targetRefs: [{kind: Gateway}]\n  action: ALLOW\n'));
  assert.deepEqual(standIns(snap), [['istio-system/bad'], ['istio-system/bad']]);
  assert.match(snap.invalid[0].effect, /every layer denies \(root namespace\)/);
});

test('a misspelt targetRefs key counts as unreadable; a policy with no targetRefs at all attaches nowhere', () => {
  const misspelt = snapWith(policy('bookinfo', '  targetRef s: []\n  action: DENY\n'));
  assert.deepEqual(standIns(misspelt), [[], ['bookinfo/bad']]);
  const none = snapWith(
    policy(
      'bookinfo',
      '  selector: {matchLabels: {"": x}}\n  action: DENY\n  rules: [{from: [{source: {principles: [a]}}]}]\n',
    ),
  );
  assert.deepEqual(standIns(none), [[], []]);
  assert.equal(none.invalid[0].active, false);
});

test('an invalid policy whose target does not exist denies nothing and is a TargetNotFound warning', () => {
  const snap = snapWith(
    policy(
      'bookinfo',
      '  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: nope}]\n  action: DENY\n  rules: [{from: [{source: {principles: [a]}}]}]\n',
    ),
  );
  assert.deepEqual(standIns(snap), [[], []]);
  const warning = snap.diagnostics.find((d) => d.code === 'PCL_MESH_INVALID_TARGET_NOT_FOUND');
  assert.equal(warning?.severity, 'warning');
  assert.match(warning?.message ?? '', /bookinfo\/bad targets nothing that exists \(TargetNotFound\)/);
});

test('a GatewayClass target takes down every served gateway of the class; the stand-in comes first in the layer', () => {
  const snap = snapWith(
    policy(
      'istio-system',
      '  targetRefs: [{kind: GatewayClass, group: gateway.networking.k8s.io, name: solo-ztunnel-egress}]\n  action: ALLOW\n  rules: [{to: [{operation: {ports: [x]}}]}]\n',
    ),
  );
  const layer = snap.gatewayLayer('Gateway/istio-system/ztunnel-egress').policies;
  assert.equal(layer[0].key, 'istio-system/bad');
  assert.equal(layer[0].action, 'DENY');
  assert.deepEqual(standIns(snap)[1], []);
});
