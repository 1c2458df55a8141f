/**
 * Certificate signing requests for a SPIFFE ID, as istio-agent and ztunnel send them to istiod: a fresh P-256 key,
 * an empty subject and the SPIFFE ID as a URI SAN (ztunnel `src/identity/caclient.rs`, istio `pkg/security`).
 */
import { webcrypto } from 'node:crypto';
import { PortcullisError } from '../errors/portcullis-error.ts';
import { x509 } from './x509.ts';

const EC_P256: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SAN_OID = '2.5.29.17';
const ECDSA_SHA256: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

/** A CSR and the private key that stays with the requester. */
export interface CsrAndKey {
  readonly csrPem: string;
  /** PKCS#8 PEM. */
  readonly keyPem: string;
}

/** A parsed, signature-checked CSR. */
export interface ParsedCsr {
  readonly publicKey: x509.PublicKey;
  /** The URI SANs, in order. */
  readonly uris: readonly string[];
}

function pemOf(der: ArrayBuffer, label: string): string {
  const body = Buffer.from(der)
    .toString('base64')
    .replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

/** Make a key pair and a CSR asking for `spiffeId` (one URI SAN). */
export async function createCsr(spiffeId: string): Promise<CsrAndKey> {
  const keys = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }], true)],
  });
  return {
    csrPem: `${csr.toString('pem').trim()}\n`,
    keyPem: pemOf(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY'),
  };
}

/** Parse a PEM CSR and check its self-signature; throws PCL_IDENTITY_CA_USAGE naming what is wrong. */
export async function parseCsr(csrPem: string): Promise<ParsedCsr> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new PortcullisError('PCL_IDENTITY_CA_USAGE', 'the CSR is not a PEM CERTIFICATE REQUEST', { cause: err });
  }
  if (!(await csr.verify())) throw new PortcullisError('PCL_IDENTITY_CA_USAGE', 'the CSR signature does not verify');
  const ext = csr.getExtension(SAN_OID);
  const san = ext === null ? null : new x509.SubjectAlternativeNameExtension(ext.rawData);
  const uris = san === null ? [] : san.names.items.filter((n) => n.type === 'url').map((n) => n.value);
  return { publicKey: csr.publicKey, uris };
}
