/**
 * Route backends: a `backendRef` resolved to the ServiceEntry that declares its host (Istio's `kind: Hostname`,
 * `group: networking.istio.io` extension, or a Service's cluster host), and the weighted choice between them.
 */
import type { HTTPBackendRef, HTTPRouteFilter, ServicePort } from '../../config/api-types.ts';
import type { ServiceEntryModel } from '../../mesh/snapshot.ts';

const CLUSTER_DOMAIN = 'svc.cluster.local';

/** Where a backend points: a host some ServiceEntry declares, on one of its ports. */
export interface BackendTarget {
  readonly host: string;
  readonly serviceEntry: ServiceEntryModel;
  readonly port: ServicePort;
}

/** One backendRef of a rule, resolved once per snapshot. */
export interface BackendChoice {
  /** `kind/name:port` as written, for logs. */
  readonly name: string;
  readonly weight: number;
  readonly target: BackendTarget | null;
  /** Why the backend cannot be used (Istio's message where it has one); null when `target` is set. */
  readonly invalid: string | null;
  readonly filters: readonly HTTPRouteFilter[];
}

/** Look up the ServiceEntry declaring an exact host (any binding: the per-app synthetic SEs are unbound). */
export type HostLookup = (host: string) => ServiceEntryModel | null;

/**
 * Resolve one backendRef (Istio `buildDestination`): `Hostname` needs a port and forbids a namespace; the port must
 * be one the ServiceEntry declares (its `targetPort` is honoured later, when dialling).
 */
export function resolveBackendRef(ref: HTTPBackendRef, routeNamespace: string, lookup: HostLookup): BackendChoice {
  const kind = ref.kind ?? 'Service';
  const group = ref.group ?? '';
  const weight = ref.weight ?? 1;
  const name = `${kind}/${ref.name}${ref.port !== undefined ? `:${ref.port}` : ''}`;
  const filters = ref.filters ?? [];
  const fail = (invalid: string): BackendChoice => ({ name, weight, target: null, invalid, filters });
  let host: string;
  if (kind === 'Hostname' && group === 'networking.istio.io') {
    if (ref.namespace !== undefined) return fail('namespace may not be set with Hostname type');
    host = ref.name.toLowerCase();
  } else if (kind === 'Service' && (group === '' || group === 'core')) {
    host = `${ref.name}.${ref.namespace ?? routeNamespace}.${CLUSTER_DOMAIN}`.toLowerCase();
  } else {
    return fail(`referencing unsupported backendRef: group "${group}" kind "${kind}"`);
  }
  if (ref.port === undefined) return fail('port is required in backendRef');
  const se = lookup(host);
  if (!se) return fail(`backend(${host}) not found: no ServiceEntry declares this host`);
  const port = se.ports.find((p) => p.number === ref.port);
  if (!port) return fail(`backend(${host}) port ${ref.port} is not declared by ServiceEntry ${se.ref}`);
  return { name, weight, target: { host, serviceEntry: se, port }, invalid: null, filters };
}

/**
 * Choose a backend by weight (Gateway API: proportional, weight 0 gets no traffic). `random` is in [0, 1).
 * Invalid backends keep their share, so that share of requests gets 500 as the spec requires. Null when every
 * weight is 0 or there is no backend at all.
 */
export function pickBackend(backends: readonly BackendChoice[], random: number): BackendChoice | null {
  let total = 0;
  for (const b of backends) total += Math.max(0, b.weight);
  if (total === 0) return null;
  let point = random * total;
  for (const b of backends) {
    const w = Math.max(0, b.weight);
    if (w === 0) continue;
    if (point < w) return b;
    point -= w;
  }
  // Floating-point edge: the last backend with weight.
  for (let i = backends.length - 1; i >= 0; i--) if (backends[i].weight > 0) return backends[i];
  return null;
}
