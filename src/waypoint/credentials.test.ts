/** CredentialStore: one context per credential content, pools never shared between credentials, SAN checks; metrics labels. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { after, before, test } from 'node:test';
import { initCa, issueClientCert, issueServerCert, type IssuedCertificate } from '../identity/ca.ts';
import { X509Certificate } from 'node:crypto';
import { CredentialStore, sanChecker } from './credentials.ts';
import type { TlsPlan } from './origination.ts';
import { snapshotFrom } from '../../test/support/waypoint-harness.ts';

const APP1_ID = 'spiffe://cluster.local/ns/team-namespace/sa/app1';
const APP2_ID = 'spiffe://cluster.local/ns/team-namespace/sa/app2';
const dir = mkdtempSync(join(tmpdir(), 'pcl-credentials-'));
let app1: IssuedCertificate;
let app2: IssuedCertificate;
let srv: IssuedCertificate;
before(async () => {
  const ca = await initCa(join(dir, 'ca'), { trustDomain: 'cluster.local' });
  app1 = await issueClientCert(ca, { subject: 'CN=team-namespace.app1', ttl: 3_600_000 });
  app2 = await issueClientCert(ca, { subject: 'CN=team-namespace.app2', ttl: 3_600_000 });
  srv = await issueServerCert(ca, { dnsNames: ['my-nginx.foo.bar', '*.wild.example'], ttl: 3_600_000 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

const secret = (name: string, c: IssuedCertificate) => `
apiVersion: v1
kind: Secret
metadata: {name: ${name}, namespace: team}
stringData:
  tls.crt: ${JSON.stringify(c.certChainPem)}
  tls.key: ${JSON.stringify(c.keyPem)}
`;
const plan = (name: string): TlsPlan => ({
  mode: 'MUTUAL',
  credential: { namespace: 'team', name },
  sni: 'my-nginx.foo.bar',
  subjectAltNames: [],
  insecureSkipVerify: false,
  caCertificates: null,
  clientCertificate: null,
  privateKey: null,
});

test('one TLS context per credential content; a changed Secret gets a new context and retires its pools', () => {
  const store = new CredentialStore();
  const s1 = snapshotFrom([{ path: 's.yaml', text: secret('c1', app1) + '---' + secret('c2', app2) }], null, 1);
  const a = store.resolve(s1, plan('c1'));
  const b = store.resolve(s1, plan('c2'));
  const a2 = store.resolve(s1, plan('c1'));
  assert.ok(a.ok && b.ok && a2.ok);
  assert.equal(a.tls.secureContext, a2.tls.secureContext, 'built once');
  assert.notEqual(a.tls.secureContext, b.tls.secureContext);
  assert.equal(a.tls.subject, 'CN=team-namespace.app1');
  assert.equal(b.tls.subject, 'CN=team-namespace.app2');
  const at = (ip: string) => [{ ip, port: 443, from: null }];
  const poolA = store.agent(APP1_ID, a.tls, at('127.0.0.1'));
  const poolB = store.agent(APP1_ID, b.tls, at('127.0.0.1'));
  assert.notEqual(poolA, poolB, 'same address and SNI, different credential: different pools');
  assert.equal(store.agent(APP1_ID, a2.tls, at('127.0.0.1')), poolA);
  assert.notEqual(store.agent(APP1_ID, a.tls, at('127.0.0.2')), poolA, 'another address, another pool');
  assert.notEqual(store.agent(APP2_ID, a.tls, at('127.0.0.1')), poolA, 'another identity, another pool');
  const plain1 = store.agent(APP1_ID, null, at('127.0.0.1'));
  assert.notEqual(store.agent(APP2_ID, null, at('127.0.0.1')), plain1, 'plain HTTP: another identity, another pool');
  assert.equal(store.agent(APP1_ID, null, at('127.0.0.1')), plain1);
  assert.equal(store.poolCount, 6);

  // c1 now holds app2's certificate: new content hash, new context, the old pools are gone.
  const s2 = snapshotFrom([{ path: 's.yaml', text: secret('c1', app2) }], null, 2);
  const changed = store.resolve(s2, plan('c1'));
  assert.ok(changed.ok);
  assert.notEqual(changed.tls.id, a.tls.id);
  assert.notEqual(changed.tls.secureContext, a.tls.secureContext);
  assert.equal(changed.tls.subject, 'CN=team-namespace.app2');
  assert.equal(store.poolCount, 3, 'the c2 pool and the two plain pools remain');
  assert.notEqual(store.agent(APP1_ID, changed.tls, at('127.0.0.1')), poolA);
  store.close();
});

test('insecureSkipVerify is honoured and reported as a warning', () => {
  const store = new CredentialStore();
  const s = snapshotFrom([{ path: 's.yaml', text: secret('c1', app1) }]);
  const r = store.resolve(s, { ...plan('c1'), insecureSkipVerify: true });
  assert.ok(r.ok);
  assert.equal(r.tls.rejectUnauthorized, false);
  assert.match(r.tls.warning ?? '', /insecureSkipVerify is set/);
  store.close();
});

test('SAN check: any DNS or URI SAN of the server certificate against any expected name, wildcards by one label', () => {
  const cert = { raw: new X509Certificate(srv.certPem).raw } as PeerCertificate;
  assert.equal(sanChecker(['app1.team-namespace.my-nginx.foo.bar.invalid', 'my-nginx.foo.bar'])('x', cert), undefined);
  assert.equal(sanChecker(['api.wild.example'])('x', cert), undefined);
  assert.ok(sanChecker(['a.b.wild.example'])('x', cert) instanceof Error);
  const err = sanChecker(['other.example'])('x', cert);
  assert.match(
    err?.message ?? '',
    /expected one of \[other\.example\], certificate has DNS:my-nginx\.foo\.bar, DNS:\*\.wild\.example/,
  );
});
