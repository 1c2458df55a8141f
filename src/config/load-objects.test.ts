import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadApiObjects, objectName } from './load-objects.ts';

const policy = (name: string, action: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: {
    name,
    namespace: 'bookinfo',
    resourceVersion: '17',
    uid: 'u-1',
    managedFields: [{ manager: 'kubectl' }],
    ...extra,
  },
  spec: { action, rules: [{}] },
});

test('API objects load with the folder rules; a malformed one is named Kind ns/name with its field path, the rest load', () => {
  const result = loadApiObjects([policy('good', 'ALLOW'), policy('bad', 'PERMIT')]);
  assert.deepEqual(
    result.resources.map((r) => r.key),
    ['AuthorizationPolicy/bookinfo/good'],
  );
  const err = result.diagnostics.find((d) => d.severity === 'error');
  assert.ok(err, JSON.stringify(result.diagnostics));
  assert.equal(err.file, 'AuthorizationPolicy bookinfo/bad');
  assert.equal(err.line, 0);
  assert.equal(err.path, 'spec.action');
  assert.equal(err.code, 'PCL_CONFIG_ENUM');
  assert.equal(result.resources[0].source.file, 'AuthorizationPolicy bookinfo/good');
  assert.equal(result.resources[0].source.line, 0);
});

test('an object that turns invalid keeps its last good version; one deleted is gone; server-only fields do not matter', () => {
  const first = loadApiObjects([policy('p', 'ALLOW'), policy('q', 'DENY')]);
  const second = loadApiObjects(
    [policy('p', 'PERMIT'), policy('q', 'DENY', { resourceVersion: '99', managedFields: [] })],
    { previous: first },
  );
  assert.deepEqual(second.resources.map((r) => r.key).sort(), [
    'AuthorizationPolicy/bookinfo/p',
    'AuthorizationPolicy/bookinfo/q',
  ]);
  const kept = second.diagnostics.find((d) => d.code === 'PCL_CONFIG_KEPT_LAST_GOOD');
  assert.ok(kept);
  assert.equal(kept.file, 'AuthorizationPolicy bookinfo/p');
  assert.equal((second.resources.find((r) => r.metadata.name === 'p')!.spec as { action: string }).action, 'ALLOW');
  // q changed only in resourceVersion/managedFields: the same resource value, not re-validated.
  assert.equal(
    second.resources.find((r) => r.metadata.name === 'q'),
    first.resources.find((r) => r.metadata.name === 'q'),
  );
  const third = loadApiObjects([policy('q', 'DENY')], { previous: second });
  assert.deepEqual(
    third.resources.map((r) => r.key),
    ['AuthorizationPolicy/bookinfo/q'],
  );
});

test('objectName names cluster-scoped and broken objects', () => {
  assert.equal(objectName({ kind: 'Namespace', metadata: { name: 'bookinfo' } }), 'Namespace bookinfo');
  assert.equal(
    objectName({ kind: 'Gateway', metadata: { name: 'g', namespace: 'istio-system' } }),
    'Gateway istio-system/g',
  );
  assert.equal(objectName({}), '? ?');
});
