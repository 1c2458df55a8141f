/**
 * A workload certificate issued in memory from the development CA (`--ca-dir`), renewed at half its lifetime as
 * istio-agent renews before expiry. New HBONE sessions pick up the renewed certificate; open ones keep theirs.
 */
import { issueWorkloadCert, type CertificateAuthority } from '../identity/ca.ts';
import { StaticCertificateSource, type TlsMaterial } from '../identity/cert-store.ts';

/** Istio's default workload certificate lifetime (`DEFAULT_WORKLOAD_CERT_TTL`, 24h). */
export const WORKLOAD_CERT_TTL_MS = 24 * 3_600_000;

export interface IssuedIdentity {
  readonly source: StaticCertificateSource;
  /** Stop renewing. */
  stop(): void;
}

async function issue(ca: CertificateAuthority, spiffe: string, ttl: number): Promise<TlsMaterial> {
  const issued = await issueWorkloadCert(ca, { spiffe, ttl });
  return { certChainPem: issued.certChainPem, keyPem: issued.keyPem, rootCertPem: issued.rootCertPem };
}

export async function issueIdentity(
  ca: CertificateAuthority,
  spiffe: string,
  opts: { ttlMs?: number; onError?: (err: Error) => void } = {},
): Promise<IssuedIdentity> {
  const ttl = opts.ttlMs ?? WORKLOAD_CERT_TTL_MS;
  const source = new StaticCertificateSource(await issue(ca, spiffe, ttl));
  const timer = setInterval(() => {
    issue(ca, spiffe, ttl).then(
      (m) => source.update(m),
      (err: Error) => opts.onError?.(err),
    );
  }, Math.max(1000, Math.floor(ttl / 2)));
  timer.unref();
  return { source, stop: () => clearInterval(timer) };
}
