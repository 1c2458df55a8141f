/** Which identity a pod asks istiod for: --identity, the downward-API variables, or the token's subject. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseIdentity, inPod, serviceAccountFromToken } from './pod-identity.ts';

const jwt = (claims: unknown): string =>
  `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;

test('the identity: --identity first, then POD_NAMESPACE/SERVICE_ACCOUNT, then the token subject', () => {
  const token = jwt({ sub: 'system:serviceaccount:egress:from-token' });
  assert.deepEqual(chooseIdentity('egress/gw', 'cluster.local', { POD_NAMESPACE: 'x', SERVICE_ACCOUNT: 'y' }, token), {
    ok: true,
    id: 'spiffe://cluster.local/ns/egress/sa/gw',
    from: '--identity',
  });
  assert.deepEqual(chooseIdentity(undefined, 'mesh.example', { POD_NAMESPACE: 'x', SERVICE_ACCOUNT: 'y' }, token), {
    ok: true,
    id: 'spiffe://mesh.example/ns/x/sa/y',
    from: 'POD_NAMESPACE and SERVICE_ACCOUNT',
  });
  assert.deepEqual(chooseIdentity(undefined, 'cluster.local', {}, token), {
    ok: true,
    id: 'spiffe://cluster.local/ns/egress/sa/from-token',
    from: "the token's sub claim",
  });
});

test('no identity, or a bad one, is a clear reason', () => {
  const none = chooseIdentity(undefined, 'cluster.local', {}, null);
  assert.equal(none.ok, false);
  assert.match(!none.ok ? none.reason : '', /give --identity <ns>\/<sa>, or run in a pod/);
  const bad = chooseIdentity('one/two/three', 'cluster.local', {}, null);
  assert.match(!bad.ok ? bad.reason : '', /^--identity "one\/two\/three": /);
  for (const t of [
    '',
    'a.b',
    'a.!!!.c',
    jwt({ sub: 'user:alice' }),
    jwt({ sub: 42 }),
    jwt(null),
    'x.' + Buffer.from('not json').toString('base64url') + '.y',
  ]) {
    assert.equal(serviceAccountFromToken(t), null, t);
  }
});

test('in a pod when the kubelet set KUBERNETES_SERVICE_HOST', () => {
  assert.equal(inPod({ KUBERNETES_SERVICE_HOST: '10.96.0.1' }), true);
  assert.equal(inPod({}), false);
  assert.equal(inPod({ KUBERNETES_SERVICE_HOST: '' }), false);
});
