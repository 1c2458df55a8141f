/**
 * The gateway's own serving certificate when it runs from a CA folder: one SPIFFE URI SAN per served Gateway
 * (`spiffe://<td>/ns/<gateway ns>/sa/<gateway name>`; Istio names a waypoint's service account after its Gateway),
 * so ztunnel, which requires one SAN to equal the waypoint identity it expects, accepts it for any of them.
 */
import { issueWorkloadCert, type CertificateAuthority, type IssuedCertificate } from '../identity/ca.ts';
import { parseSpiffeId } from '../identity/spiffe-id.ts';
import { PortcullisError } from '../errors/catalogue.ts';

/** Lifetime of the gateway's certificate (istio-agent's default workload certificate TTL). */
export const GATEWAY_CERT_TTL_MS = 24 * 3_600_000;

/** Issue the serving certificate for `identities` (full SPIFFE IDs, in order): one URI SAN each, istiod's profile. */
export async function issueGatewayCert(ca: CertificateAuthority, identities: readonly string[], ttl: number = GATEWAY_CERT_TTL_MS): Promise<IssuedCertificate> {
  if (identities.length === 0) throw new PortcullisError('PCL_DATAPLANE_NO_GATEWAY', 'no served Gateway, so no identity to put in the certificate');
  for (const id of identities) {
    const parsed = parseSpiffeId(id);
    if (!parsed.ok) throw new PortcullisError('PCL_DATAPLANE_CERT_ISSUE_FAILED', parsed.reason);
  }
  return issueWorkloadCert(ca, { spiffe: identities, ttl });
}
