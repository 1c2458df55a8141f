/** Peer identity comes only from URI SANs: the first SPIFFE SAN in the trust domain is the identity. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { initCa, issueClientCert, issueWorkloadCert, type CertificateAuthority } from './ca.ts';
import { checkPeerCertificate, uriSans, verifyServerSan } from './peer-identity.ts';
import { x509 } from './x509.ts';

async function ca(t: { after(fn: () => Promise<void>): void }): Promise<CertificateAuthority> {
  const dir = await mkdtemp(join(tmpdir(), 'pcl-peer-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return initCa(dir, { trustDomain: 'cluster.local' });
}

/** A leaf with arbitrary URI SANs, signed by the CA (what a misconfigured or hostile issuer might produce). */
async function leafWithUris(authority: CertificateAuthority, uris: string[]): Promise<Buffer> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256' };
  const keys = (await crypto.subtle.generateKey(alg, true, [
    'sign',
    'verify',
  ])) as import('node:crypto').webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    subject: 'CN=test',
    issuer: authority.signer.cert.subjectName,
    publicKey: keys.publicKey,
    signingKey: authority.signer.key,
    signingAlgorithm: authority.signer.algorithm,
    extensions: [new x509.SubjectAlternativeNameExtension(uris.map((value) => ({ type: 'url' as const, value })))],
  });
  return Buffer.from(cert.rawData);
}

test('the identity is the first SPIFFE URI SAN (non-SPIFFE URIs are skipped)', async (t) => {
  const authority = await ca(t);
  const der = await leafWithUris(authority, [
    'https://example.com/not-spiffe',
    'spiffe://cluster.local/ns/a/sa/first',
    'spiffe://cluster.local/ns/b/sa/second',
  ]);
  assert.equal(uriSans(der).length, 3);
  const r = checkPeerCertificate(der, 'cluster.local');
  assert.ok(r.ok);
  assert.equal(r.identity.uri, 'spiffe://cluster.local/ns/a/sa/first');
  assert.equal(r.identities.length, 2);
});

test('at least one SPIFFE SAN must be in the trust domain (ztunnel TrustDomainVerifier)', async (t) => {
  const authority = await ca(t);
  const other = await issueWorkloadCert(authority, { spiffe: 'spiffe://other.domain/ns/a/sa/b', ttl: 60_000 });
  const r = checkPeerCertificate(new X509Certificate(other.certPem).raw, 'cluster.local');
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(r.code, 'PCL_IDENTITY_TRUST_DOMAIN_MISMATCH');
    assert.match(r.reason, /other\.domain/);
  }
  // The trust-domain check is "any" as in ztunnel's `TrustDomainVerifier` (src/tls/workload.rs), but the identity is
  // the first SAN in the gateway's trust domain, so a foreign SAN listed first can never become the identity policies see.
  const mixed = await leafWithUris(authority, ['spiffe://other.domain/ns/a/sa/b', 'spiffe://cluster.local/ns/c/sa/d']);
  const m = checkPeerCertificate(mixed, 'cluster.local');
  assert.ok(m.ok);
  assert.equal(m.identity.uri, 'spiffe://cluster.local/ns/c/sa/d');
});

test('a certificate without a SPIFFE SAN has no identity', async (t) => {
  const authority = await ca(t);
  const client = await issueClientCert(authority, { subject: 'CN=team-namespace.app1', ttl: 60_000 });
  const r = checkPeerCertificate(new X509Certificate(client.certPem).raw, 'cluster.local');
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.code, 'PCL_IDENTITY_NO_SPIFFE_SAN');
  const bogus = await leafWithUris(authority, ['spiffe://cluster.local/ns/a/sa/b/c', 'spiffe://cluster.local/ns/a']);
  const b = checkPeerCertificate(bogus, 'cluster.local');
  assert.equal(b.ok, false);
  if (!b.ok) assert.match(b.reason, /no SPIFFE URI SAN/);
});

test('verifyServerSan wants an exact match with one expected identity, with ztunnel error text', async (t) => {
  const authority = await ca(t);
  const issued = await issueWorkloadCert(authority, {
    spiffe: 'spiffe://cluster.local/ns/egress/sa/waypoint',
    ttl: 60_000,
  });
  const raw = new X509Certificate(issued.certPem).raw;
  const peer = { raw } as unknown as import('node:tls').PeerCertificate;
  assert.equal(
    verifyServerSan(peer, ['spiffe://cluster.local/ns/x/sa/y', 'spiffe://cluster.local/ns/egress/sa/waypoint']),
    null,
  );
  const err = verifyServerSan(peer, ['spiffe://cluster.local/ns/egress/sa/waypoint2']);
  assert.ok(err);
  assert.equal(
    err.message,
    'identity verification error: peer did not present the expected SAN (spiffe://cluster.local/ns/egress/sa/waypoint2), got spiffe://cluster.local/ns/egress/sa/waypoint',
  );
});
