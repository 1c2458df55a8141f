/** Credential Secrets read as Istio reads them: key styles, the -cacert Secret, Istio's error texts, key/cert pairing. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Resource } from '../config/types.ts';
import { initCa, issueClientCert, type IssuedCertificate } from '../identity/ca.ts';
import { extractKeyAndCert, extractRoot, readCredential, secretData, truncatedKeysMessage } from './secret-keys.ts';

const dir = mkdtempSync(join(tmpdir(), 'pcl-secret-keys-'));
let app1: IssuedCertificate;
let app2: IssuedCertificate;
before(async () => {
  const ca = await initCa(join(dir, 'ca'), { trustDomain: 'cluster.local' });
  app1 = await issueClientCert(ca, { subject: 'CN=team-namespace.app1', ttl: 3_600_000 });
  app2 = await issueClientCert(ca, { subject: 'CN=team-namespace.app2', ttl: 3_600_000 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

const b64 = (s: string) => Buffer.from(s).toString('base64');
function secret(name: string, data: Record<string, string>, stringData?: Record<string, string>): Resource {
  return {
    kind: 'Secret',
    metadata: { namespace: 'team-namespace', name },
    raw: {
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
      ...(stringData ? { stringData } : {}),
    },
  } as unknown as Resource;
}
const lookupOf =
  (...secrets: Resource[]) =>
  (ns: string, name: string) =>
    secrets.find((s) => s.metadata.namespace === ns && s.metadata.name === name) ?? null;

test('generic keys cert/key/cacert are read first, then tls.crt/tls.key/ca.crt', () => {
  const both = secretData(
    secret('s', { cert: 'G', key: 'GK', 'tls.crt': 'T', 'tls.key': 'TK', cacert: 'GC', 'ca.crt': 'TC' }),
  );
  const kc = extractKeyAndCert(both);
  assert.ok(kc.ok);
  assert.equal(kc.value.cert.toString(), 'G');
  assert.equal(kc.value.key.toString(), 'GK');
  const root = extractRoot(both);
  assert.ok(root.ok);
  assert.equal(root.value.toString(), 'GC');
  const tlsOnly = extractKeyAndCert(secretData(secret('s', { 'tls.crt': 'T', 'tls.key': 'TK', cert: '', key: '' })));
  assert.ok(tlsOnly.ok, 'empty generic keys fall through to the TLS keys');
  assert.equal(tlsOnly.value.cert.toString(), 'T');
});

test("Istio's error texts for empty and missing keys", () => {
  assert.deepEqual(extractKeyAndCert(secretData(secret('s', { 'tls.crt': '', 'tls.key': '' }))), {
    ok: false,
    reason: 'found keys "tls.crt" and "tls.key", but they were empty',
  });
  assert.deepEqual(extractKeyAndCert(secretData(secret('s', { cert: '', key: '' }))), {
    ok: false,
    reason: 'found keys "cert" and "key", but they were empty',
  });
  assert.deepEqual(extractKeyAndCert(secretData(secret('s', { 'tls.cert': 'x', 'tls.pem': 'y' }))), {
    ok: false,
    reason:
      "found secret, but didn't have expected keys (cert and key) or (tls.crt and tls.key); found: tls.cert, tls.pem",
  });
  assert.equal(
    truncatedKeysMessage(secretData(secret('s', { d: '', a: '', c: '', b: '', e: '' }))),
    'a, b, c, and 2 more...',
  );
  assert.deepEqual(extractRoot(secretData(secret('s', { 'ca.crt': '' }))), {
    ok: false,
    reason: 'found key "ca.crt", but it was empty',
  });
  assert.deepEqual(extractRoot(secretData(secret('s', { x: '1' }))), {
    ok: false,
    reason: "found secret, but didn't have expected keys cacert or ca.crt; found: x",
  });
});

test('stringData is read as plain text and wins over data', () => {
  const d = secretData(secret('s', { cert: 'old' }, { cert: 'new', key: 'k' }));
  assert.equal(d.get('cert')?.toString(), 'new');
  assert.equal(d.get('key')?.toString(), 'k');
});

test('readCredential: TLS-style Secret with its CA, subject as nginx prints it', () => {
  const s = secret('app1-client-mtls-secret', {
    'tls.crt': app1.certChainPem,
    'tls.key': app1.keyPem,
    'ca.crt': app1.rootCertPem,
  });
  const r = readCredential(lookupOf(s), 'team-namespace', 'app1-client-mtls-secret', true);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  assert.equal(r.material.subject, 'CN=team-namespace.app1');
  assert.equal(r.material.caPem, app1.rootCertPem);
  assert.equal(r.material.ref, 'team-namespace/app1-client-mtls-secret');
  const again = readCredential(lookupOf(s), 'team-namespace', 'app1-client-mtls-secret', true);
  assert.ok(again.ok);
  assert.equal(again.material.hash, r.material.hash, 'same content, same hash');
  const changed = secret('app1-client-mtls-secret', { cert: app2.certChainPem, key: app2.keyPem });
  const r2 = readCredential(lookupOf(changed), 'team-namespace', 'app1-client-mtls-secret', true);
  assert.ok(r2.ok);
  assert.notEqual(r2.material.hash, r.material.hash, 'changed content, new hash');
  assert.equal(r2.material.caPem, null, 'no CA anywhere: system roots');
});

test('readCredential: a separate <name>-cacert Secret supplies the CA and is checked', () => {
  const s = secret('c', { cert: app1.certChainPem, key: app1.keyPem, cacert: 'ignored' });
  const ca = secret('c-cacert', { cacert: app1.rootCertPem });
  const r = readCredential(lookupOf(s, ca), 'team-namespace', 'c', true);
  assert.ok(r.ok);
  assert.equal(r.material.caPem, app1.rootCertPem, 'the -cacert Secret wins (Istio GetCaCert)');
  const bad = readCredential(lookupOf(s, secret('c-cacert', { other: 'x' })), 'team-namespace', 'c', true);
  assert.deepEqual(bad, {
    ok: false,
    code: 'PCL_WAYPOINT_SECRET_KEYS',
    reason:
      "secret team-namespace/c-cacert: found secret, but didn't have expected keys cacert or ca.crt; found: other",
  });
  const simple = readCredential(lookupOf(ca), 'team-namespace', 'c', false);
  assert.ok(simple.ok, 'SIMPLE needs only the CA');
  assert.equal(simple.material.certPem, null);
});

test('readCredential: missing Secret, missing keys, key not matching the certificate', () => {
  assert.deepEqual(readCredential(lookupOf(), 'team-namespace', 'nope', true), {
    ok: false,
    code: 'PCL_WAYPOINT_SECRET_NOT_FOUND',
    reason: 'secret team-namespace/nope not found',
  });
  const empty = readCredential(lookupOf(secret('e', { 'tls.crt': '', 'tls.key': '' })), 'team-namespace', 'e', true);
  assert.equal(empty.ok, false);
  assert.equal(!empty.ok && empty.code, 'PCL_WAYPOINT_SECRET_KEYS');
  assert.match(!empty.ok ? empty.reason : '', /found keys "tls.crt" and "tls.key", but they were empty/);
  const mixed = readCredential(
    lookupOf(secret('m', { 'tls.crt': app1.certChainPem, 'tls.key': app2.keyPem })),
    'team-namespace',
    'm',
    true,
  );
  assert.equal(mixed.ok, false);
  assert.equal(!mixed.ok && mixed.code, 'PCL_WAYPOINT_SECRET_KEY_MISMATCH');
  assert.match(!mixed.ok ? mixed.reason : '', /private key does not match the certificate \(CN=team-namespace\.app1\)/);
  const garbage = readCredential(
    lookupOf(secret('g', { cert: 'not a cert', key: 'not a key' })),
    'team-namespace',
    'g',
    true,
  );
  assert.equal(!garbage.ok && garbage.code, 'PCL_WAYPOINT_SECRET_KEY_MISMATCH');
});
