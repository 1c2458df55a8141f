/** A throwaway mesh CA in Istio's cacerts layout, workload certificates for callers, and server certificates. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  initCa,
  issueServerCert,
  issueWorkloadCert,
  writeIssued,
  type CertificateAuthority,
  type IssuedCertificate,
} from '../../src/identity/ca.ts';

const HOUR = 3_600_000;

export interface TestPki {
  /** The cacerts folder, for `serve --ca-dir` (tests about the development CA only). */
  readonly caDir: string;
  readonly ca: CertificateAuthority;
  /** A workload certificate for `ns/sa` in cluster.local. */
  workload(namespace: string, serviceAccount: string): Promise<IssuedCertificate>;
  /** A TLS server certificate for DNS names (a local stand-in for an external host). */
  server(...dnsNames: string[]): Promise<IssuedCertificate>;
  /**
   * A serving certificate naming `identities` written as files (no CA key on the gateway, as in a mesh), and the
   * `--cert --key --trust-bundle` flags for it.
   */
  servingFlags(...identities: string[]): Promise<string[]>;
  /** The same files for `startGateway`'s `certFiles`. */
  servingFiles(...identities: string[]): Promise<{ cert: string; key: string; trustBundle: string }>;
  cleanup(): void;
}

export async function makeTestPki(trustDomain = 'cluster.local'): Promise<TestPki> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-pki-'));
  const caDir = join(dir, 'ca');
  const ca = await initCa(caDir, { trustDomain });
  const servingFiles = async (...identities: string[]): Promise<{ cert: string; key: string; trustBundle: string }> => {
    const out = mkdtempSync(join(dir, 'serving-'));
    await writeIssued(out, await issueWorkloadCert(ca, { spiffe: identities, ttl: HOUR }));
    return { cert: join(out, 'cert-chain.pem'), key: join(out, 'key.pem'), trustBundle: join(out, 'root-cert.pem') };
  };
  return {
    caDir,
    ca,
    workload: (namespace, serviceAccount) =>
      issueWorkloadCert(ca, { spiffe: `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`, ttl: HOUR }),
    server: (...dnsNames) => issueServerCert(ca, { dnsNames, ttl: HOUR }),
    servingFiles,
    async servingFlags(...identities) {
      const f = await servingFiles(...identities);
      return ['--cert', f.cert, '--key', f.key, '--trust-bundle', f.trustBundle];
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
