/**
 * The gateway's own serving certificate. From a CA folder (development): one SPIFFE URI SAN per served Gateway
 * (`spiffe://<td>/ns/<gateway ns>/sa/<gateway name>`; Istio names a waypoint's service account after its Gateway),
 * so ztunnel, which requires one SAN to equal the waypoint identity it expects, accepts it for any of them. From
 * istiod or files: one identity per process, checked against the Gateways named with `--gateway`.
 */
import { X509Certificate } from 'node:crypto';
import { issueWorkloadCert, type CertificateAuthority, type IssuedCertificate } from '../identity/ca.ts';
import { Gauge, type Registry } from 'prom-client';
import type { CertificateSource, TlsMaterial } from '../identity/cert-store.ts';
import { spiffeIdentities } from '../identity/peer-identity.ts';
import { RenewingCertificateSource } from '../identity/renewing-source.ts';
import type { GatewayModel } from '../mesh/snapshot.ts';
import { parseSpiffeId } from '../identity/spiffe-id.ts';
import { PortcullisError } from '../errors/portcullis-error.ts';

/** Said once in the log and on /ready when the gateway runs from `--ca-dir`. */
export const DEV_CA_WARNING =
  'this gateway holds a CA signing key (--ca-dir): for development only; in a mesh take the certificate from istiod or from files';

/** Lifetime of the gateway's certificate (istio-agent's default workload certificate TTL). */
const GATEWAY_CERT_TTL_MS = 24 * 3_600_000;

/** Issue the serving certificate for `identities` (full SPIFFE IDs, in order): one URI SAN each, istiod's profile. */
export async function issueGatewayCert(
  ca: CertificateAuthority,
  identities: readonly string[],
  ttl: number = GATEWAY_CERT_TTL_MS,
): Promise<IssuedCertificate> {
  if (identities.length === 0)
    throw new PortcullisError(
      'PCL_DATAPLANE_NO_GATEWAY',
      'no served Gateway, so no identity to put in the certificate',
    );
  for (const id of identities) {
    const parsed = parseSpiffeId(id);
    if (!parsed.ok) throw new PortcullisError('PCL_DATAPLANE_CERT_ISSUE_FAILED', parsed.reason);
  }
  return issueWorkloadCert(ca, { spiffe: identities, ttl });
}

/** The dev-CA serving identity: issued for the served Gateways, renewed at half its lifetime and when that set changes. */
export interface DevCaIdentity {
  readonly source: RenewingCertificateSource;
  /** The served Gateways' identities changed: reissue (a no-op when they did not). */
  update(identities: readonly string[]): Promise<void>;
  close(): void;
}

export async function startDevCaIdentity(
  ca: CertificateAuthority,
  identities: readonly string[],
  onError: (err: unknown) => void,
  ttl: number = GATEWAY_CERT_TTL_MS,
): Promise<DevCaIdentity> {
  let current = [...identities];
  const source = await RenewingCertificateSource.start({ issue: () => issueGatewayCert(ca, current, ttl) });
  source.on('error', onError);
  return {
    source,
    async update(next) {
      if (next.length === 0 || (next.length === current.length && next.every((x, i) => x === current[i]))) return;
      current = [...next];
      await source.renewNow();
    },
    close: () => source.close(),
  };
}

/** The SPIFFE IDs a serving certificate names (URI SANs of the first certificate of the chain). */
export function certificateIdentities(material: TlsMaterial): string[] {
  return spiffeIdentities(new X509Certificate(material.certChainPem).raw).map((i) => i.uri);
}

/**
 * With `--gateway NS/NAME` (a gateway that serves the Gateways whose pods it is), each named Gateway must be one the
 * configuration serves, and the certificate must carry its waypoint identity, or ztunnel would refuse every tunnel.
 * Returns one sentence per Gateway that cannot be served; empty when all can.
 */
export function unservableGateways(
  named: readonly string[],
  served: readonly GatewayModel[],
  certIds: readonly string[],
): string[] {
  const out: string[] = [];
  for (const ref of named) {
    const g = served.find((x) => x.ref === ref);
    if (g === undefined) {
      out.push(`Gateway ${ref} is not in the configuration, or its class is not one Portcullis serves`);
    } else if (!certIds.includes(g.identity)) {
      out.push(
        `Gateway ${ref} needs the identity ${g.identity}, but the serving certificate names ${certIds.length === 0 ? 'no SPIFFE ID' : certIds.join(', ')}`,
      );
    }
  }
  return out;
}

/** When the serving certificate in use expires, cached per material (the health check runs on every probe). */
export function certificateExpiry(): (material: TlsMaterial) => Date {
  let last: TlsMaterial | null = null;
  let notAfter = new Date(0);
  return (material) => {
    if (material !== last) {
      last = material;
      notAfter = new Date(new X509Certificate(material.certChainPem).validTo);
    }
    return notAfter;
  };
}

/**
 * `portcullis_serving_certificate_expiry_timestamp_seconds`: when the serving certificate in use expires (alert on it
 * coming close; the gateway is not ready once it has passed). Workers' values are combined by minimum.
 */
export function registerCertificateMetric(registry: Registry, certificates: CertificateSource): void {
  const expiry = certificateExpiry();
  new Gauge({
    name: 'portcullis_serving_certificate_expiry_timestamp_seconds',
    help: 'Expiry time (Unix seconds) of the serving certificate in use',
    registers: [registry],
    aggregator: 'min',
    collect() {
      this.set(Math.floor(expiry(certificates.current()).getTime() / 1000));
    },
  });
}
