/** The identity of a TLS peer, taken only from the URI SANs of its verified certificate (ztunnel `tls::identity`). */
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { X509Certificate as NodeX509Certificate } from 'node:crypto';
import { parseSpiffeId, type SpiffeId } from './spiffe-id.ts';
import { x509 } from './x509.ts';

/** Why a peer was refused, with the catalogue code to log. */
export type PeerIdentityResult =
  | { readonly ok: true; readonly identity: SpiffeId; readonly identities: readonly SpiffeId[] }
  | {
      readonly ok: false;
      readonly code: 'PCL_IDENTITY_NO_SPIFFE_SAN' | 'PCL_IDENTITY_TRUST_DOMAIN_MISMATCH';
      readonly reason: string;
      readonly uriSans: readonly string[];
    };

/** All URI SANs of a DER certificate, in certificate order. */
export function uriSans(der: Uint8Array): string[] {
  // Parsed from DER rather than node's `subjectAltName` text, whose escaping of commas and quotes is lossy.
  const cert = new x509.X509Certificate(der as Uint8Array<ArrayBuffer>);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (!san) return [];
  return san.names.items.filter((n) => n.type === 'url').map((n) => n.value);
}

/** The URI SANs that parse as SPIFFE IDs, in order (ztunnel `identities(cert)`). */
export function spiffeIdentities(der: Uint8Array): SpiffeId[] {
  const out: SpiffeId[] = [];
  for (const uri of uriSans(der)) {
    const parsed = parseSpiffeId(uri);
    if (parsed.ok) out.push(parsed.id);
  }
  return out;
}

/**
 * Check a verified client certificate the way ztunnel's `TrustDomainVerifier` does after WebPKI validation: at least
 * one SPIFFE URI SAN must be in `trustDomain`. The identity used for authorization is the first SPIFFE URI SAN in
 * that trust domain. ztunnel (src/tls/lib.rs `identity()`, the first of `identities(cert)`) takes the first parseable SPIFFE SAN whatever its trust domain; for a certificate whose first
 * SAN is foreign this is stricter, never looser: a foreign identity can never be the one policies see.
 */
export function checkPeerCertificate(der: Uint8Array, trustDomain: string): PeerIdentityResult {
  const sans = uriSans(der);
  const identities: SpiffeId[] = [];
  for (const uri of sans) {
    const parsed = parseSpiffeId(uri);
    if (parsed.ok) identities.push(parsed.id);
  }
  if (identities.length === 0) {
    return {
      ok: false,
      code: 'PCL_IDENTITY_NO_SPIFFE_SAN',
      reason:
        sans.length === 0
          ? 'client certificate has no URI SAN'
          : `client certificate has no SPIFFE URI SAN (got ${sans.join(', ')})`,
      uriSans: sans,
    };
  }
  if (!identities.some((id) => id.trustDomain === trustDomain)) {
    return {
      ok: false,
      code: 'PCL_IDENTITY_TRUST_DOMAIN_MISMATCH',
      reason: `client certificate has no SPIFFE identity in trust domain "${trustDomain}" (got ${identities.map((i) => i.uri).join(', ')})`,
      uriSans: sans,
    };
  }
  return { ok: true, identity: identities.find((id) => id.trustDomain === trustDomain)!, identities };
}

/** The DER of a connected socket's peer certificate, or null when the peer sent none. */
function peerCertificateDer(socket: TLSSocket): Buffer | null {
  const cert: NodeX509Certificate | undefined = socket.getPeerX509Certificate();
  return cert ? cert.raw : null;
}

/** `checkPeerCertificate` for a socket whose chain TLS already verified (`socket.authorized`). */
export function verifyPeerIdentity(socket: TLSSocket, trustDomain: string): PeerIdentityResult {
  const der = peerCertificateDer(socket);
  if (der === null || !socket.authorized) {
    return { ok: false, code: 'PCL_IDENTITY_NO_SPIFFE_SAN', reason: 'no verified client certificate', uriSans: [] };
  }
  return checkPeerCertificate(der, trustDomain);
}

/**
 * ztunnel's `verify_full_san` for the client side: some URI SAN of the server certificate must equal one of the
 * expected identities exactly. Returns null when it does, else the error to fail the handshake with (ztunnel's text).
 */
export function verifyServerSan(cert: PeerCertificate, expected: readonly string[]): Error | null {
  const sans = cert.raw ? uriSans(cert.raw) : [];
  if (sans.some((san) => expected.includes(san))) return null;
  const err = new Error(
    `identity verification error: peer did not present the expected SAN (${expected.join(', ')}), got ${sans.length === 0 ? 'no URI SAN' : sans.join(', ')}`,
  );
  (err as Error & { code: string }).code = 'PCL_IDENTITY_SAN_MISMATCH';
  return err;
}
