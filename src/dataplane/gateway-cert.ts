/**
 * The gateway's own serving certificate when it runs from a CA folder: one SPIFFE URI SAN per served Gateway
 * (`spiffe://<td>/ns/<gateway ns>/sa/<gateway name>`; Istio names a waypoint's service account after its Gateway),
 * so ztunnel, which requires one SAN to equal the waypoint identity it expects, accepts it for any of them.
 */
import { randomBytes, webcrypto } from 'node:crypto';
import { issueWorkloadCert, type CertificateAuthority, type IssuedCertificate } from '../identity/ca.ts';
import { joinPem } from '../identity/pem.ts';
import { parseSpiffeId } from '../identity/spiffe-id.ts';
import { x509 } from '../identity/x509.ts';
import { PortcullisError } from '../errors/catalogue.ts';

/** Lifetime of the gateway's certificate (istio-agent's default workload certificate TTL). */
export const GATEWAY_CERT_TTL_MS = 24 * 3_600_000;
const BACKDATE_MS = 60_000;

function pemKey(der: ArrayBuffer): string {
  const body = Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN PRIVATE KEY-----\n${body}-----END PRIVATE KEY-----\n`;
}

/**
 * Issue the serving certificate for `identities` (full SPIFFE IDs, in order). One identity goes through the
 * identity module's `issueWorkloadCert`; several need a multi-SAN certificate, built here with the same profile
 * (empty subject, critical URI SANs, digitalSignature + keyEncipherment, serverAuth + clientAuth, not a CA).
 */
export async function issueGatewayCert(ca: CertificateAuthority, identities: readonly string[], ttl: number = GATEWAY_CERT_TTL_MS): Promise<IssuedCertificate> {
  if (identities.length === 0) throw new PortcullisError('PCL_DATAPLANE_NO_GATEWAY', 'no served Gateway, so no identity to put in the certificate');
  for (const id of identities) {
    const parsed = parseSpiffeId(id);
    if (!parsed.ok) throw new PortcullisError('PCL_DATAPLANE_CERT_ISSUE_FAILED', parsed.reason);
  }
  if (identities.length === 1) return issueWorkloadCert(ca, { spiffe: identities[0], ttl });
  const alg: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const serial = randomBytes(16);
  serial[0] = (serial[0] & 0x7f) | 0x40; // positive, minimally encoded (RFC 5280 §4.1.2.2)
  const notBefore = new Date(Date.now() - BACKDATE_MS);
  const notAfter = new Date(notBefore.getTime() + ttl);
  const ski = ca.signer.cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial.toString('hex'),
    subject: [],
    issuer: ca.signer.cert.subjectName,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.signer.key,
    signingAlgorithm: ca.signer.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(
        identities.map((value) => ({ type: 'url' as const, value })),
        true,
      ),
      ...(ski ? [new x509.AuthorityKeyIdentifierExtension(ski.keyId)] : []),
    ],
  });
  const certPem = `${cert.toString('pem').trim()}\n`;
  return {
    certPem,
    certChainPem: joinPem([certPem, ...ca.chainPems]),
    keyPem: pemKey(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)),
    rootCertPem: ca.rootCertPem,
    notBefore,
    notAfter,
  };
}
