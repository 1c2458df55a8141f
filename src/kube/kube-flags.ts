/**
 * The `--kube` flags every command shares, their checks, and what they build: the KubeClient, the settings file,
 * and for `serve` the KubeGatewaySource. The commands only add these flags and call in here.
 */
import { readFileSync } from 'node:fs';
import { ipFamily } from '../net/ip-syntax.ts';
import { PortcullisError } from '../errors/portcullis-error.ts';
import type { ConfigFile } from '../config/yaml-documents.ts';
import { durationFlag } from '../identity/ttl.ts';
import { KubeClient, loadKubeConfig } from './kube-client.ts';
import { KubeGatewaySource } from './kube-gateway-source.ts';
import { loadKubeSnapshot, type KubeSnapshot } from './kube-snapshot.ts';

/** parseArgs options of every command that reads the API. */
export const KUBE_FLAGS = {
  kube: { type: 'boolean' },
  kubeconfig: { type: 'string' },
} as const;

/** The client for `--kube` (in-cluster, `--kubeconfig` or `$KUBECONFIG`). */
function kubeClient(
  flags: { kubeconfig?: string },
  env: Record<string, string | undefined>,
): { client: KubeClient; from: string } {
  const { config, from } = loadKubeConfig({ kubeconfig: flags.kubeconfig, env });
  return { client: new KubeClient(config), from };
}

/** `--settings FILE` read as the folder source reads portcullis.yaml; null without it. */
function readSettingsFile(file: string | undefined): ConfigFile | null {
  if (file === undefined) return null;
  try {
    return { path: file, text: readFileSync(file, 'utf8') };
  } catch {
    throw new PortcullisError('PCL_CLI_CONFIG_MISSING', `--settings ${file}: no such file`);
  }
}

export interface KubeServeFlags {
  readonly kubeconfig?: string;
  readonly settings?: string;
  readonly 'lease-namespace'?: string;
  readonly 'lease-duration'?: string;
  readonly 'publish-address'?: string;
  readonly 'publish-service'?: string;
  readonly 'controller-name'?: string;
}

/** Build `serve --kube`'s source from its flags; bad values are PCL_CLI_BAD_VALUE naming the flag. */
export function kubeServeSource(
  flags: KubeServeFlags,
  env: Record<string, string | undefined>,
  log: (line: string) => void,
): KubeGatewaySource {
  const address = flags['publish-address'];
  if (address !== undefined && ipFamily(address) === 0)
    throw new PortcullisError('PCL_CLI_BAD_VALUE', `--publish-address "${address}": expected an IP address`);
  let publishService: { namespace: string; name: string } | undefined;
  if (flags['publish-service'] !== undefined) {
    const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)$/.exec(flags['publish-service']);
    if (!m)
      throw new PortcullisError(
        'PCL_CLI_BAD_VALUE',
        `--publish-service "${flags['publish-service']}": expected NAMESPACE/NAME`,
      );
    publishService = { namespace: m[1], name: m[3] };
  }
  if (address !== undefined && publishService !== undefined)
    throw new PortcullisError('PCL_CLI_USAGE', 'give at most one of --publish-address and --publish-service');
  const leaseDurationMs = durationFlag(
    'lease-duration',
    flags['lease-duration'],
    'a duration of at least 1s, e.g. 15s',
    {
      minMs: 1000,
    },
  );
  const controllerName = flags['controller-name'];
  if (
    controllerName !== undefined &&
    !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/.test(
      controllerName,
    )
  ) {
    throw new PortcullisError(
      'PCL_CLI_BAD_VALUE',
      `--controller-name "${controllerName}": expected DOMAIN/PATH, e.g. portcullis.dev/gateway-controller`,
    );
  }
  const leaseNamespace = flags['lease-namespace'] ?? (env.POD_NAMESPACE || undefined);
  const { client, from } = kubeClient(flags, env);
  log(`reading the Kubernetes API at ${client.server} with the ${from}`);
  return new KubeGatewaySource({
    client,
    settings: readSettingsFile(flags.settings),
    env,
    leaseNamespace,
    leaseDurationMs,
    publishAddress: address,
    publishService,
    controllerName,
    log,
  });
}

/** The read-only commands' `--kube` load: credentials from the flags, `--settings`, one read of the API. */
export async function kubeSnapshotFromFlags(
  flags: { kubeconfig?: string; settings?: string },
  env: Record<string, string | undefined>,
  opts: { audit?: boolean } = {},
): Promise<KubeSnapshot> {
  const settings = readSettingsFile(flags.settings);
  const { client } = kubeClient(flags, env);
  return loadKubeSnapshot(client, { settings, env, audit: opts.audit });
}
