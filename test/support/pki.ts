/** A throwaway mesh CA in Istio's cacerts layout, workload certificates for callers, and server certificates. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCa, issueServerCert, issueWorkloadCert, type CertificateAuthority, type IssuedCertificate } from '../../src/identity/ca.ts';

const HOUR = 3_600_000;

export interface TestPki {
  /** The cacerts folder, for `serve --ca-dir`. */
  readonly caDir: string;
  readonly ca: CertificateAuthority;
  /** A workload certificate for `ns/sa` in cluster.local. */
  workload(namespace: string, serviceAccount: string): Promise<IssuedCertificate>;
  /** A TLS server certificate for DNS names (a local stand-in for an external host). */
  server(...dnsNames: string[]): Promise<IssuedCertificate>;
  cleanup(): void;
}

export async function makeTestPki(trustDomain = 'cluster.local'): Promise<TestPki> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-pki-'));
  const caDir = join(dir, 'ca');
  const ca = await initCa(caDir, { trustDomain });
  return {
    caDir,
    ca,
    workload: (namespace, serviceAccount) =>
      issueWorkloadCert(ca, { spiffe: `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`, ttl: HOUR }),
    server: (...dnsNames) => issueServerCert(ca, { dnsNames, ttl: HOUR }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
