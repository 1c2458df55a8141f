/**
 * A workload certificate issued in memory from the development CA (`--ca-dir`), renewed at half its lifetime by the
 * one renewing source. New HBONE sessions pick up the renewed certificate; open ones keep theirs.
 */
import { issueWorkloadCert, type CertificateAuthority } from '../identity/ca.ts';
import { RenewingCertificateSource } from '../identity/renewing-source.ts';

/** Istio's default workload certificate lifetime (`DEFAULT_WORKLOAD_CERT_TTL`, 24h). */
export const WORKLOAD_CERT_TTL_MS = 24 * 3_600_000;

export interface IssuedIdentity {
  readonly source: RenewingCertificateSource;
  /** Stop renewing. */
  stop(): void;
}

export async function issueIdentity(
  ca: CertificateAuthority,
  spiffe: string,
  opts: { ttlMs?: number; onError?: (err: Error) => void } = {},
): Promise<IssuedIdentity> {
  const ttl = opts.ttlMs ?? WORKLOAD_CERT_TTL_MS;
  const source = await RenewingCertificateSource.start({ issue: () => issueWorkloadCert(ca, { spiffe, ttl }) });
  source.on('error', (err: Error) => opts.onError?.(err));
  return { source, stop: () => source.close() };
}
