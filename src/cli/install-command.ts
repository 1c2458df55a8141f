/**
 * `portcullis install --gateway NS/NAME`: print the manifests that run a gateway for that Gateway in a cluster, ready
 * for `kubectl apply -f -`. Prints only; applying, diffing and removing stay with kubectl.
 */
import { stringify } from 'yaml';
import { PortcullisError } from '../errors/portcullis-error.ts';
import { DEFAULT_CA_ADDRESS } from '../identity/istiod-client.ts';
import { installManifests, type InstallOptions } from '../install/manifests.ts';
import { type FlagTable, HELP_FLAG, type Io, parseFlags, required } from './args.ts';
import { renderHelp } from './help.ts';
import { VERSION } from './version.ts';

const USAGE = `portcullis install --gateway NS/NAME [--class portcullis] [--image IMAGE] [--replicas 2] [--max-replicas N]
         [--secret-namespace NS]... [--config-map NAME] [--ca-address HOST:PORT] [--expose-admin] [--audit-role]
         [--waypoint-for service]`;
const SUMMARY = 'print the manifests that run a gateway in a cluster, for kubectl apply -f -';

const FLAGS = {
  gateway: {
    type: 'string',
    value: 'NS/NAME',
    defaultText: 'none (required)',
    description:
      "the Gateway this Deployment serves; its ServiceAccount is named after it, so the pods' identity is spiffe://<td>/ns/NS/sa/NAME",
    example: '--gateway istio-egress/egress-gateway',
  },
  class: {
    type: 'string',
    value: 'NAME',
    default: 'portcullis',
    description: 'the GatewayClass (controllerName portcullis.dev/gateway-controller) to create',
    example: '--class portcullis',
  },
  image: {
    type: 'string',
    value: 'IMAGE',
    defaultText: `localhost/portcullis:${VERSION}`,
    description: 'the container image (npm run image builds one)',
    example: '--image registry.example/portcullis:0.1.0',
  },
  replicas: {
    type: 'string',
    value: 'N',
    default: '2',
    description: 'pods at least (the HorizontalPodAutoscaler minimum)',
    example: '--replicas 3',
  },
  'max-replicas': {
    type: 'string',
    value: 'N',
    defaultText: '4 × --replicas',
    description: 'pods at most (the HorizontalPodAutoscaler maximum)',
    example: '--max-replicas 8',
  },
  'secret-namespace': {
    type: 'string',
    multiple: true,
    value: 'NS',
    defaultText: "the Gateway's namespace",
    description:
      'a namespace whose Secrets DestinationRules name: a Role there lets the gateway read them (repeatable)',
    example: '--secret-namespace team-namespace',
  },
  'config-map': {
    type: 'string',
    value: 'NAME',
    defaultText: 'none: the configuration is read from the Kubernetes API',
    description: 'take the configuration from this ConfigMap (mounted as --config) instead of the Kubernetes API',
    example: '--config-map portcullis-config',
  },
  'ca-address': {
    type: 'string',
    value: 'HOST:PORT',
    default: DEFAULT_CA_ADDRESS,
    description: "istiod's certificate service, where the pods get their certificates",
    example: '--ca-address istiod.istio-system.svc:15012',
  },
  'expose-admin': {
    type: 'boolean',
    defaultText: 'off',
    description: 'put the admin port (15000: metrics, config dump) on the pod IP and in the Service',
    example: '--expose-admin',
  },
  'audit-role': {
    type: 'boolean',
    defaultText: 'off',
    description: "also print the ClusterRole 'portcullis-audit' for 'portcullis audit --kube' (not bound)",
    example: '--audit-role',
  },
  'waypoint-for': {
    type: 'string',
    default: 'service',
    choices: ['service', 'workload', 'all', 'none'],
    description: "the GatewayClass's istio.io/waypoint-for label",
    example: '--waypoint-for service',
  },
  help: HELP_FLAG,
} as const satisfies FlagTable;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function bad(message: string): PortcullisError {
  return new PortcullisError('PCL_CLI_BAD_VALUE', `portcullis install: ${message}`);
}

function count(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 1000)
    throw bad(`--${flag} "${text}": expected a whole number from 1 to 1000`);
  return Number(text);
}

/** The options from the command line; every value checked before anything is printed. */
function installOptions(argv: string[]): InstallOptions | 'help' {
  const flags = parseFlags('install', USAGE, argv, FLAGS);
  if (flags.help) return 'help';
  const ref = required('install', USAGE, 'gateway', flags.gateway);
  const [namespace, name, ...rest] = ref.split('/');
  if (
    rest.length > 0 ||
    namespace === undefined ||
    name === undefined ||
    !DNS_LABEL.test(namespace) ||
    !DNS_LABEL.test(name) ||
    name.length > 53
  ) {
    throw bad(
      `--gateway "${ref}": expected NAMESPACE/NAME (lower-case DNS labels; the name at most 53 characters), e.g. istio-egress/egress-gateway`,
    );
  }
  const className = flags.class ?? 'portcullis';
  if (!DNS_SUBDOMAIN.test(className) || className.length > 253)
    throw bad(`--class "${className}": expected a lower-case DNS name`);
  const image = flags.image ?? `localhost/portcullis:${VERSION}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/.test(image)) throw bad(`--image "${image}": not an image reference`);
  const replicas = count('replicas', flags.replicas, 2);
  const maxReplicas = count('max-replicas', flags['max-replicas'], Math.max(replicas * 4, 2));
  if (maxReplicas < replicas) throw bad(`--max-replicas ${maxReplicas} is below --replicas ${replicas}`);
  const secretNamespaces = [...new Set(flags['secret-namespace'] ?? [namespace])];
  for (const s of secretNamespaces)
    if (!DNS_LABEL.test(s)) throw bad(`--secret-namespace "${s}": expected a namespace name`);
  const configMap = flags['config-map'];
  if (configMap !== undefined && !DNS_SUBDOMAIN.test(configMap))
    throw bad(`--config-map "${configMap}": expected a ConfigMap name`);
  if (configMap !== undefined && flags['secret-namespace'] !== undefined) {
    throw bad(
      '--secret-namespace gives the gateway access to Secrets through the Kubernetes API; with --config-map it reads none',
    );
  }
  const caAddress = flags['ca-address'] ?? DEFAULT_CA_ADDRESS;
  if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(caAddress)) throw bad(`--ca-address "${caAddress}": expected HOST:PORT`);
  const waypointFor = flags['waypoint-for'] ?? 'service';
  if (waypointFor !== 'service' && waypointFor !== 'workload' && waypointFor !== 'all' && waypointFor !== 'none') {
    throw bad(`--waypoint-for "${waypointFor}": expected service, workload, all or none`);
  }
  return {
    namespace,
    name,
    className,
    image,
    replicas,
    maxReplicas,
    secretNamespaces,
    caAddress,
    config: configMap === undefined ? { kind: 'kube' } : { kind: 'configmap', name: configMap },
    exposeAdmin: flags['expose-admin'] === true,
    auditRole: flags['audit-role'] === true,
    waypointFor,
  };
}

export async function run(argv: string[], io: Io): Promise<number> {
  const options = installOptions(argv);
  if (options === 'help') {
    io.stdout.write(
      renderHelp(
        'install',
        SUMMARY,
        USAGE,
        FLAGS,
        'Prints only; apply, diff and remove with kubectl. Exit codes: 0 printed, 2 bad input.',
      ),
    );
    return 0;
  }
  const docs = installManifests(options).map((o) => stringify(o, { lineWidth: 0 }));
  io.stdout.write(
    `# portcullis install --gateway ${options.namespace}/${options.name}: kubectl apply -f -\n---\n${docs.join('---\n')}`,
  );
  return 0;
}
