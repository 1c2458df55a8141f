/**
 * The certificate flags `serve` and `agent` share: istiod (`--ca-address`, `--ca-root-cert`, `--ca-token-file`,
 * `--cert-ttl`, `--identity`; the default inside a pod, as for ztunnel and istio-proxy), files (`--cert --key
 * --trust-bundle`) or the development CA (`--ca-dir`). Exactly one source; anything ambiguous is a usage error.
 */
import { PortcullisError } from '../errors/portcullis-error.ts';
import {
  DEFAULT_CA_ADDRESS,
  DEFAULT_CA_ROOT_CERT,
  DEFAULT_CA_TOKEN_FILE,
  DEFAULT_CERT_TTL_MS,
} from '../identity/istiod-client.ts';
import type { IstiodSettings } from '../identity/istiod-identity.ts';
import { inPod } from '../identity/pod-identity.ts';
import { durationFlag } from '../identity/ttl.ts';
import type { FlagTable } from './args.ts';

/** The istiod rows of `serve`'s and `agent`'s flag tables. */
export const ISTIOD_FLAG_OPTIONS = {
  'ca-address': {
    type: 'string',
    value: 'HOST:PORT',
    defaultText: `${DEFAULT_CA_ADDRESS} in a pod; otherwise none`,
    description:
      "istiod's certificate service (Istio's CA_ADDRESS): the certificate is requested with a CSR, never signed here",
    example: '--ca-address istiod.istio-system.svc:15012',
  },
  'ca-root-cert': {
    type: 'string',
    value: 'FILE',
    defaultText: DEFAULT_CA_ROOT_CERT,
    description: "the mesh root that istiod's TLS certificate must chain to",
    example: '--ca-root-cert /var/run/secrets/istio/root-cert.pem',
  },
  'ca-token-file': {
    type: 'string',
    value: 'FILE',
    defaultText: DEFAULT_CA_TOKEN_FILE,
    description:
      'the projected service-account token (audience istio-ca) sent as the bearer token; re-read for every request',
    example: '--ca-token-file /var/run/secrets/tokens/istio-token',
  },
  'cert-ttl': {
    type: 'string',
    value: 'DURATION',
    defaultText: `${DEFAULT_CERT_TTL_MS / 3_600_000}h`,
    description: 'the certificate lifetime asked of istiod; renewed at half of it',
    example: '--cert-ttl 12h',
  },
  identity: {
    type: 'string',
    value: 'NS/SA',
    defaultText: "the pod's namespace and service account",
    description: 'the SPIFFE identity to ask istiod for (spiffe://<td>/ns/NS/sa/SA)',
    example: '--identity istio-egress/egress-gateway',
  },
} as const satisfies FlagTable;

export const ISTIOD_USAGE =
  '--ca-address HOST:PORT (default in a pod: istiod.istio-system.svc:15012) [--ca-root-cert F] [--ca-token-file F]\n' +
  '       [--cert-ttl 24h] [--identity NS/SA]';

export interface IstiodFlagValues {
  readonly 'ca-address'?: string;
  readonly 'ca-root-cert'?: string;
  readonly 'ca-token-file'?: string;
  readonly 'cert-ttl'?: string;
  readonly identity?: string;
}

/**
 * The istiod settings when istiod is the certificate source: `--ca-address` given, or no other source given and the
 * process runs in a pod. `otherSource` names the other source flag given (`--ca-dir`, `--cert`), if any.
 */
export function istiodFromFlags(
  command: string,
  flags: IstiodFlagValues,
  otherSource: string | null,
  env: Record<string, string | undefined>,
): IstiodSettings | undefined {
  const address = flags['ca-address'];
  if (address !== undefined && otherSource !== null) {
    throw new PortcullisError(
      'PCL_CLI_USAGE',
      `portcullis ${command}: give one certificate source: --ca-address or ${otherSource}, not both`,
    );
  }
  const useIstiod = address !== undefined || (otherSource === null && inPod(env));
  if (!useIstiod) {
    const stray = (['ca-root-cert', 'ca-token-file', 'cert-ttl'] as const).filter((f) => flags[f] !== undefined);
    if (stray.length > 0) {
      throw new PortcullisError(
        'PCL_CLI_USAGE',
        `portcullis ${command}: --${stray.join(', --')} go with --ca-address (certificates from istiod)`,
      );
    }
    return undefined;
  }
  const target = address ?? DEFAULT_CA_ADDRESS;
  if (
    !/^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(target) ||
    Number(target.slice(target.lastIndexOf(':') + 1)) > 65535
  ) {
    throw new PortcullisError(
      'PCL_CLI_BAD_VALUE',
      `--ca-address "${target}": expected HOST:PORT, e.g. istiod.istio-system.svc:15012`,
    );
  }
  const ttlMs = durationFlag('cert-ttl', flags['cert-ttl'], 'a duration such as 24h or 30m') ?? DEFAULT_CERT_TTL_MS;
  return {
    address: target,
    rootCertFile: flags['ca-root-cert'] ?? DEFAULT_CA_ROOT_CERT,
    tokenFile: flags['ca-token-file'] ?? DEFAULT_CA_TOKEN_FILE,
    ttlMs,
    identity: flags.identity,
  };
}
