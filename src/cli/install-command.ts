/**
 * `portcullis install --gateway NS/NAME`: print the manifests that run a gateway for that Gateway in a cluster, ready
 * for `kubectl apply -f -`. Prints only; applying, diffing and removing stay with kubectl.
 */
import { stringify } from 'yaml';
import { PortcullisError } from '../errors/catalogue.ts';
import { DEFAULT_CA_ADDRESS } from '../identity/istiod-client.ts';
import { installManifests, type InstallOptions } from '../install/manifests.ts';
import { type Io, parseFlags, required } from './args.ts';

const USAGE = `portcullis install --gateway NS/NAME [--class portcullis] [--image IMAGE] [--replicas 2] [--max-replicas N]
         [--secret-namespace NS]... [--config-map NAME] [--ca-address HOST:PORT] [--expose-admin] [--audit-role]
         [--waypoint-for service]

  --gateway           the Gateway this Deployment serves; its ServiceAccount is named after it, so the pods'
                      identity is spiffe://<td>/ns/NS/sa/NAME, the waypoint identity ztunnel expects
  --class             the GatewayClass (controllerName portcullis.dev/gateway-controller) to create
  --image             the container image (npm run image builds one)
  --replicas          pods at least (HorizontalPodAutoscaler minimum); --max-replicas at most (default 4x)
  --secret-namespace  a namespace whose Secrets DestinationRules name (repeatable; default the Gateway's)
  --config-map        take the configuration from this ConfigMap (mounted as --config) instead of the Kubernetes API
  --ca-address        istiod's certificate service (default ${DEFAULT_CA_ADDRESS})
  --expose-admin      put the admin port (15000: metrics, config dump) on the pod IP and in the Service
  --audit-role        also print the ClusterRole 'portcullis-audit' for 'portcullis audit --kube' (not bound)
  --waypoint-for      the GatewayClass's istio.io/waypoint-for label: service (default), workload, all, none`;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function bad(message: string): PortcullisError {
  return new PortcullisError('PCL_CLI_BAD_VALUE', `portcullis install: ${message}`);
}

function count(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 1000) throw bad(`--${flag} "${text}": expected a whole number from 1 to 1000`);
  return Number(text);
}

/** The options from the command line; every value checked before anything is printed. */
export function installOptions(argv: string[]): InstallOptions | 'help' {
  const flags = parseFlags('install', USAGE, argv, {
    gateway: { type: 'string' },
    class: { type: 'string' },
    image: { type: 'string' },
    replicas: { type: 'string' },
    'max-replicas': { type: 'string' },
    'secret-namespace': { type: 'string', multiple: true },
    'config-map': { type: 'string' },
    'ca-address': { type: 'string' },
    'expose-admin': { type: 'boolean' },
    'audit-role': { type: 'boolean' },
    'waypoint-for': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (flags.help) return 'help';
  const ref = required('install', USAGE, 'gateway', flags.gateway);
  const [namespace, name, ...rest] = ref.split('/');
  if (rest.length > 0 || namespace === undefined || name === undefined || !DNS_LABEL.test(namespace) || !DNS_LABEL.test(name) || name.length > 53) {
    throw bad(`--gateway "${ref}": expected NAMESPACE/NAME (lower-case DNS labels; the name at most 53 characters), e.g. istio-egress/egress-gateway`);
  }
  const className = flags.class ?? 'portcullis';
  if (!DNS_SUBDOMAIN.test(className) || className.length > 253) throw bad(`--class "${className}": expected a lower-case DNS name`);
  const image = flags.image ?? 'localhost/portcullis:0.1.0';
  if (!/^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/.test(image)) throw bad(`--image "${image}": not an image reference`);
  const replicas = count('replicas', flags.replicas, 2);
  const maxReplicas = count('max-replicas', flags['max-replicas'], Math.max(replicas * 4, 2));
  if (maxReplicas < replicas) throw bad(`--max-replicas ${maxReplicas} is below --replicas ${replicas}`);
  const secretNamespaces = [...new Set(flags['secret-namespace'] ?? [namespace])];
  for (const s of secretNamespaces) if (!DNS_LABEL.test(s)) throw bad(`--secret-namespace "${s}": expected a namespace name`);
  const configMap = flags['config-map'];
  if (configMap !== undefined && !DNS_SUBDOMAIN.test(configMap)) throw bad(`--config-map "${configMap}": expected a ConfigMap name`);
  if (configMap !== undefined && flags['secret-namespace'] !== undefined) {
    throw bad('--secret-namespace gives the gateway access to Secrets through the Kubernetes API; with --config-map it reads none');
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
    io.stdout.write(`Usage: ${USAGE}\n`);
    return 0;
  }
  const docs = installManifests(options).map((o) => stringify(o, { lineWidth: 0 }));
  io.stdout.write(`# portcullis install --gateway ${options.namespace}/${options.name}: kubectl apply -f -\n---\n${docs.join('---\n')}`);
  return 0;
}
