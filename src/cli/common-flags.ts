/** Flag-table rows several commands share, written once so their help reads the same everywhere. */
import type { FlagSpec } from './args.ts';

export const CONFIG_FLAG = {
  type: 'string',
  value: 'PATH',
  defaultText: 'none (required)',
  description:
    'the manifests: a folder (read recursively: *.yaml, *.yml, *.json) or one manifest file, as kubectl -f takes',
  example: '--config examples/quickstart',
} as const satisfies FlagSpec;

export const SETTINGS_FLAG = {
  type: 'string',
  value: 'FILE',
  defaultText: 'portcullis.yaml in the --config folder, if present',
  description: 'the Portcullis settings file (trust domain, gateway classes, limits)',
  example: '--settings examples/quickstart/portcullis.yaml',
} as const satisfies FlagSpec;

export const CA_DIR_FLAG = {
  type: 'string',
  value: 'DIR',
  defaultText: 'none',
  description:
    "a CA in Istio's cacerts layout (root-cert.pem, ca-cert.pem, ca-key.pem); certificates are issued from it in memory",
  example: '--ca-dir .portcullis/ca',
} as const satisfies FlagSpec;

export const CERT_FLAG = {
  type: 'string',
  value: 'FILE',
  defaultText: 'none',
  description: 'an existing certificate chain (PEM), reloaded when it changes; goes with --key and --trust-bundle',
  example: '--cert /var/run/secrets/workload-spiffe-credentials/cert-chain.pem',
} as const satisfies FlagSpec;

export const KEY_FLAG = {
  type: 'string',
  value: 'FILE',
  defaultText: 'none',
  description: "the private key (PEM) of --cert's leaf certificate",
  example: '--key /var/run/secrets/workload-spiffe-credentials/key.pem',
} as const satisfies FlagSpec;

export const TRUST_BUNDLE_FLAG = {
  type: 'string',
  value: 'FILE',
  defaultText: 'none',
  description: 'the mesh root certificate(s) (PEM) that peers must chain to',
  example: '--trust-bundle /var/run/secrets/workload-spiffe-credentials/root-cert.pem',
} as const satisfies FlagSpec;

/** The `-o/--output` row: the report formats a command offers, the first being the default. */
export function outputFlag(choices: readonly [string, ...string[]], description: string, example: string) {
  return { type: 'string', short: 'o', default: choices[0], choices, description, example } as const satisfies FlagSpec;
}
