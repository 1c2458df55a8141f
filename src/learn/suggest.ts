/**
 * `portcullis suggest`, the pure part: observed flows (flow-map edges) → the Istio YAML that allows exactly them
 * (a ServiceEntry per external host:port bound to the Gateway that decided it, an AuthorizationPolicy per
 * destination naming the exact principals and port, one Gateway-layer policy naming every observed principal),
 * the `check --cases` that prove it, and the flows it will not allow, each with its reason. Sorted and free of
 * timestamps, so the same observations always give the same bytes.
 */
import { stringify } from 'yaml';
import type { FlowEdge } from './flow-map.ts';

export interface SuggestOptions {
  /** `ns/name` of the Gateway for destinations no Gateway decided (unknown hosts). */
  readonly defaultGateway: string;
  /** Returns why an address is not a public internet destination (the gateway's private-address guard), or null. */
  readonly privateAddress: (ip: string, port: number) => string | null;
  /** Also allow flows the gateway denied while enforcing (normally only allowed and would-deny flows count). */
  readonly includeDenied?: boolean;
}

export interface NotAllowed {
  readonly source: string;
  readonly destination: string;
  readonly reason: string;
}

export interface CheckCase {
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly expect: 'allow' | 'deny';
}

export interface Suggestion {
  /** Kubernetes manifests, `---`-separated, with the not-allowed list as a comment block at the top. */
  readonly yaml: string;
  readonly cases: readonly CheckCase[];
  readonly casesYaml: string;
  readonly notAllowed: readonly NotAllowed[];
  readonly serviceEntries: number;
  readonly policies: number;
}

type Protocol = 'HTTP' | 'TLS' | 'TCP';

interface Destination {
  readonly host: string;
  readonly port: number;
  readonly gateway: string;
  protocol: Protocol;
  readonly principals: Set<string>;
}

function splitRef(ref: string): { namespace: string; name: string } {
  const i = ref.indexOf('/');
  return { namespace: ref.slice(0, i), name: ref.slice(i + 1) };
}

/** Istio's principal form: the SPIFFE ID without `spiffe://` (`cluster.local/ns/NS/sa/SA`). */
function istioPrincipal(spiffe: string): string {
  return spiffe.replace(/^spiffe:\/\//, '');
}

function namespaceOf(spiffe: string): string {
  return /\/ns\/([^/]+)\/sa\//.exec(spiffe)?.[1] ?? '';
}

/** A DNS-1123 label from free text, at most 63 characters, stable for the same text. */
function label(text: string): string {
  const s = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .replace(/-+/g, '-');
  return (s.length > 63 ? s.slice(0, 63).replace(/-+$/, '') : s) || 'x';
}

function protocolOf(e: FlowEdge): Protocol {
  if (e.kind === 'request') return 'HTTP';
  if (e.sni !== null || e.port === 443) return 'TLS';
  if (e.port === 80) return 'HTTP';
  return 'TCP';
}

function upstreamIp(address: string | null): { ip: string; port: number } | null {
  if (address === null) return null;
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  return m ? { ip: m[1], port: Number(m[2]) } : null;
}

/** Why an observed edge will not become policy, or null when it will. */
function refusal(e: FlowEdge, opts: SuggestOptions): string | null {
  if (e.ipOnly)
    return `the destination was named only by its IP address (${e.destination}): a ServiceEntry needs a host name`;
  const up = upstreamIp(e.upstream);
  if (up !== null) {
    const why = opts.privateAddress(up.ip, up.port);
    if (why !== null) return `it resolved to ${up.ip}, ${why}: private and in-cluster destinations are not egress`;
  }
  if (e.allowed + e.wouldDeny === 0 && opts.includeDenied !== true) {
    return `the gateway denied it while enforcing (${e.last.code}); observe it with learn: true, or pass --include-denied`;
  }
  return null;
}

/** Turn observed edges into the suggestion. */
export function suggestPolicy(edges: readonly FlowEdge[], opts: SuggestOptions): Suggestion {
  const notAllowed: NotAllowed[] = [];
  const byDest = new Map<string, Destination>();
  for (const e of edges) {
    const why = refusal(e, opts);
    if (why !== null) {
      notAllowed.push({ source: e.source, destination: e.destination, reason: why });
      continue;
    }
    const host = e.host!.toLowerCase();
    const key = `${host}:${e.port}`;
    const gateway = e.gateway ?? opts.defaultGateway;
    let d = byDest.get(key);
    if (d === undefined) {
      d = { host, port: e.port, gateway, protocol: protocolOf(e), principals: new Set() };
      byDest.set(key, d);
    } else if (protocolOf(e) === 'HTTP' && d.protocol !== 'HTTP') {
      d.protocol = 'HTTP';
    }
    d.principals.add(e.source);
  }
  notAllowed.sort((a, b) => a.destination.localeCompare(b.destination) || a.source.localeCompare(b.source));

  const docs: unknown[] = [];
  const cases: CheckCase[] = [];
  const gatewayPrincipals = new Map<string, Set<string>>();
  const dests = [...byDest.values()].sort((a, b) => a.host.localeCompare(b.host) || a.port - b.port);
  const serviceEntries: unknown[] = [];
  const policies: unknown[] = [];
  for (const d of dests) {
    const gw = splitRef(d.gateway);
    const principals = [...d.principals].sort();
    const callerNamespaces = new Set(principals.map(namespaceOf));
    // One calling namespace: the ServiceEntry lives beside its callers, as seed 000 writes it; several: with the Gateway.
    const namespace = callerNamespaces.size === 1 ? [...callerNamespaces][0] : gw.namespace;
    const name = label(`${d.host}-${d.port}`);
    serviceEntries.push({
      apiVersion: 'networking.istio.io/v1',
      kind: 'ServiceEntry',
      metadata: {
        name,
        namespace,
        labels: { 'istio.io/use-waypoint': gw.name, 'istio.io/use-waypoint-namespace': gw.namespace },
      },
      spec: {
        hosts: [d.host],
        ports: [{ number: d.port, name: label(`${d.protocol}-${d.port}`), protocol: d.protocol }],
        resolution: 'DNS',
        location: 'MESH_EXTERNAL',
      },
    });
    policies.push({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: label(`allow-observed-${name}`), namespace },
      spec: {
        targetRefs: [{ kind: 'ServiceEntry', group: 'networking.istio.io', name }],
        action: 'ALLOW',
        rules: [
          {
            from: [{ source: { principals: principals.map(istioPrincipal) } }],
            to: [{ operation: { ports: [String(d.port)] } }],
          },
        ],
      },
    });
    const g = gatewayPrincipals.get(d.gateway) ?? new Set<string>();
    for (const p of principals) {
      g.add(p);
      cases.push({
        name: `observed: ${p} -> ${d.host}:${d.port}`,
        from: p,
        to: `${d.host}:${d.port}`,
        expect: 'allow',
      });
    }
    gatewayPrincipals.set(d.gateway, g);
    // Nothing more than observed: an identity never seen calling this host is refused.
    const td = /^spiffe:\/\/([^/]+)\//.exec(principals[0])?.[1] ?? 'cluster.local';
    cases.push({
      name: `not observed: ${namespace}/portcullis-unobserved -> ${d.host}:${d.port}`,
      from: `spiffe://${td}/ns/${namespace}/sa/portcullis-unobserved`,
      to: `${d.host}:${d.port}`,
      expect: 'deny',
    });
  }
  const gatewayPolicies = [...gatewayPrincipals.entries()]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([ref, set]) => {
      const gw = splitRef(ref);
      return {
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: { name: label(`allow-observed-egress-${gw.name}`), namespace: gw.namespace },
        spec: {
          targetRefs: [{ kind: 'Gateway', group: 'gateway.networking.k8s.io', name: gw.name }],
          action: 'ALLOW',
          rules: [{ from: [{ source: { principals: [...set].sort().map(istioPrincipal) } }] }],
        },
      };
    });
  docs.push(...gatewayPolicies, ...serviceEntries, ...policies);

  const header = [
    '# Suggested by `portcullis suggest` from observed egress: it allows exactly the flows observed, nothing more.',
    '# Review it, apply it, run `portcullis check --cases` on the cases written beside it, then turn learn mode off.',
  ];
  if (notAllowed.length > 0) {
    header.push('#', '# Observed flows this does NOT allow:');
    for (const n of notAllowed) header.push(`#   ${n.source} -> ${n.destination}: ${n.reason}`);
  }
  const body = docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
  const yaml = `${header.join('\n')}\n${body === '' ? '# (no flow to allow)\n' : body}`;
  const casesYaml = cases.length === 0 ? '[]\n' : stringify(cases, { lineWidth: 0 });
  const policyCount = policies.length + gatewayPolicies.length;
  return { yaml, cases, casesYaml, notAllowed, serviceEntries: serviceEntries.length, policies: policyCount };
}
