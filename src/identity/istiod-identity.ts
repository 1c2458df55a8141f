/** A process's one workload identity from istiod: the identity chosen, the client, and the renewing source. */
import { readFile } from 'node:fs/promises';
import { PortcullisError } from '../errors/portcullis-error.ts';
import { DEFAULT_CERT_TTL_MS, IstiodClient } from './istiod-client.ts';
import { chooseIdentity } from './pod-identity.ts';
import { RenewingCertificateSource } from './renewing-source.ts';

/** The `--ca-address`, `--ca-root-cert`, `--ca-token-file`, `--cert-ttl` and `--identity` flags. */
export interface IstiodSettings {
  readonly address: string;
  readonly rootCertFile: string;
  readonly tokenFile: string;
  readonly ttlMs?: number;
  /** `--identity` (`ns/sa` or a SPIFFE ID); default the pod's namespace and service account. */
  readonly identity?: string;
  /** TLS name of istiod's certificate when `address` is an IP (tests); default the host of `address`. */
  readonly serverName?: string;
  /** Retry backoff bounds (tests shorten them). */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

export interface IstiodIdentity {
  /** The SPIFFE ID in the certificate. */
  readonly id: string;
  readonly source: RenewingCertificateSource;
  close(): void;
}

/** Choose the identity, get the first certificate (throws with the reason when istiod does not give one), renew. */
export async function startIstiodIdentity(
  settings: IstiodSettings,
  trustDomain: string,
  env: Record<string, string | undefined>,
): Promise<IstiodIdentity> {
  let token: string | null = null;
  if (settings.identity === undefined) token = await readFile(settings.tokenFile, 'utf8').catch(() => null);
  const choice = chooseIdentity(settings.identity, trustDomain, env, token);
  if (!choice.ok) throw new PortcullisError('PCL_IDENTITY_SPIFFE_INVALID', choice.reason);
  const client = new IstiodClient({
    address: settings.address,
    rootCertFile: settings.rootCertFile,
    tokenFile: settings.tokenFile,
    serverName: settings.serverName,
  });
  const ttl = settings.ttlMs ?? DEFAULT_CERT_TTL_MS;
  try {
    const source = await RenewingCertificateSource.start({
      issue: () => client.requestCertificate(choice.id, ttl),
      minBackoffMs: settings.minBackoffMs,
      maxBackoffMs: settings.maxBackoffMs,
    });
    return {
      id: choice.id,
      source,
      close: () => {
        source.close();
        client.close();
      },
    };
  } catch (err) {
    client.close();
    throw err;
  }
}
