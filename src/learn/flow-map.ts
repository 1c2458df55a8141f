/**
 * The flow map: observed decisions aggregated into edges (source identity → destination) with allow, deny and
 * would-deny counts, bytes and the last decision's layers; and a bounded view of them for a browser (identities
 * clustered by namespace, unknown destinations grouped by egressPolicies range, edges capped, denied first). Pure:
 * memory is bounded by the limits whatever arrives, and every view is built in one pass over the edges.
 */
import { isIpOnly, namespaceOf, type FlowDecision, type FlowLayer, type ObservedFlow } from './observed-flow.ts';

export interface FlowMapLimits {
  /** Edges kept; the least recently seen edge is dropped beyond this (and counted in `droppedEdges`). */
  readonly maxEdges: number;
  /** Latest decisions kept for the table. */
  readonly maxRows: number;
}

const DEFAULT_LIMITS: FlowMapLimits = { maxEdges: 20_000, maxRows: 1_000 };

/** One source identity to one exact destination (`host:port`, or `ip:port` when no name was asked for). */
export interface FlowEdge {
  readonly source: string;
  readonly namespace: string;
  readonly destination: string;
  readonly host: string | null;
  readonly port: number;
  readonly gateway: string | null;
  readonly serviceEntry: string | null;
  /** `egressPolicies` range that decided an unknown destination (`egressPolicies[0] 0.0.0.0/0`), else null. */
  readonly range: string | null;
  readonly ipOnly: boolean;
  readonly kind: 'tunnel' | 'request';
  allowed: number;
  denied: number;
  wouldDeny: number;
  bytesIn: number;
  bytesOut: number;
  firstMs: number;
  lastMs: number;
  /** A TLS server name seen on the edge (the ServiceEntry port is TLS). */
  sni: string | null;
  /** An address dialled for the edge (to tell private and public destinations apart). */
  upstream: string | null;
  last: { decision: FlowDecision; code: string; reason: string; layers: readonly FlowLayer[] };
}

/** The range an egressPolicies layer names in its reason (`… by egressPolicies[0] 0.0.0.0/0`). */
export function rangeOf(layers: readonly FlowLayer[]): string | null {
  const egress = layers.find((l) => l.layer === 'egressPolicies');
  if (!egress) return null;
  const range = /egressPolicies\[\d+\] \S+/.exec(egress.reason)?.[0];
  if (range !== undefined) return range;
  return /no IP address/.test(egress.reason)
    ? 'egressPolicies: no address to match'
    : 'egressPolicies: no range matched';
}

function destinationOf(f: ObservedFlow): string {
  return f.host !== null && !isIpOnly(f) ? `${f.host}:${f.port}` : f.authority;
}

export class FlowMap {
  readonly limits: FlowMapLimits;
  /** Insertion order is recency order: an updated edge is moved to the end, so the first is the stalest. */
  readonly #edges = new Map<string, FlowEdge>();
  #rows: ObservedFlow[] = [];
  #rowStart = 0;
  droppedEdges = 0;
  decisions = 0;

  constructor(limits: Partial<FlowMapLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  add(f: ObservedFlow): void {
    const destination = destinationOf(f);
    const key = `${f.source}\u0000${destination}`;
    let e = this.#edges.get(key);
    if (e === undefined) {
      e = {
        source: f.source,
        namespace: namespaceOf(f.source),
        destination,
        host: isIpOnly(f) ? null : f.host,
        port: f.port,
        gateway: f.gateway,
        serviceEntry: f.serviceEntry,
        range: f.serviceEntry === null ? rangeOf(f.layers) : null,
        ipOnly: isIpOnly(f),
        kind: f.kind,
        allowed: 0,
        denied: 0,
        wouldDeny: 0,
        bytesIn: 0,
        bytesOut: 0,
        firstMs: f.t,
        lastMs: f.t,
        sni: null,
        upstream: null,
        last: { decision: f.decision, code: f.code, reason: f.reason, layers: f.layers },
      };
      if (this.#edges.size >= this.limits.maxEdges) {
        const stalest = this.#edges.keys().next().value as string;
        this.#edges.delete(stalest);
        this.droppedEdges++;
      }
    } else {
      this.#edges.delete(key);
    }
    this.#edges.set(key, e);
    e.bytesIn += f.bytesIn;
    e.bytesOut += f.bytesOut;
    e.lastMs = Math.max(e.lastMs, f.t);
    e.firstMs = Math.min(e.firstMs, f.t);
    if (f.sni !== null) e.sni = f.sni;
    if (f.upstream !== null) e.upstream = f.upstream;
    if (f.kind === 'request') (e as { kind: string }).kind = 'request';
    if (e.range === null && f.serviceEntry === null) (e as { range: string | null }).range = rangeOf(f.layers);
    if (!f.counted) return;
    this.decisions++;
    if (f.decision === 'allow') e.allowed++;
    else if (f.decision === 'deny') e.denied++;
    else e.wouldDeny++;
    e.last = { decision: f.decision, code: f.code, reason: f.reason, layers: f.layers };
    if (this.#rows.length < this.limits.maxRows) this.#rows.push(f);
    else {
      this.#rows[this.#rowStart] = f;
      this.#rowStart = (this.#rowStart + 1) % this.limits.maxRows;
    }
  }

  /** Every edge, least recently seen first. */
  edges(): FlowEdge[] {
    return [...this.#edges.values()];
  }

  /** The latest decisions, newest first. */
  rows(): ObservedFlow[] {
    const ordered = [...this.#rows.slice(this.#rowStart), ...this.#rows.slice(0, this.#rowStart)];
    return ordered.reverse();
  }
}

export interface FlowFilter {
  readonly identity?: string;
  readonly host?: string;
  readonly decision?: string;
  readonly code?: string;
}

export interface ViewLimits {
  /** Source nodes drawn one per identity up to this many; beyond it identities are clustered by namespace. */
  readonly maxSourceNodes: number;
  readonly maxDestinationNodes: number;
  /** Edges drawn (denied first, then the busiest); the rest are counted in `hiddenEdges`. */
  readonly maxEdges: number;
  readonly maxRows: number;
}

const DEFAULT_VIEW: ViewLimits = { maxSourceNodes: 40, maxDestinationNodes: 40, maxEdges: 150, maxRows: 200 };

export interface ViewNode {
  readonly id: string;
  readonly label: string;
  /** `identity`, `namespace` (a cluster of identities), `serviceEntry` (a declared host) or `range` (unknown hosts). */
  readonly kind: 'identity' | 'namespace' | 'serviceEntry' | 'range' | 'other';
  readonly group: string;
  readonly members: number;
}

export interface ViewEdge {
  readonly from: string;
  readonly to: string;
  readonly allowed: number;
  readonly denied: number;
  readonly wouldDeny: number;
  readonly bytes: number;
  readonly edges: number;
  readonly last: FlowEdge['last'];
  readonly lastMs: number;
}

export interface FlowView {
  readonly totals: {
    readonly identities: number;
    readonly namespaces: number;
    readonly destinations: number;
    readonly edges: number;
    readonly decisions: number;
    readonly droppedEdges: number;
  };
  readonly clustered: boolean;
  readonly sources: ViewNode[];
  readonly destinations: ViewNode[];
  readonly edges: ViewEdge[];
  readonly hiddenEdges: number;
  readonly rows: ObservedFlow[];
  readonly matchingRows: number;
}

function matches(value: string | null, needle: string | undefined): boolean {
  return needle === undefined || needle === '' || (value ?? '').toLowerCase().includes(needle.toLowerCase());
}

function flowMatches(
  f: { source: string; destination: string; decision: string; code: string },
  q: FlowFilter,
): boolean {
  return (
    matches(f.source, q.identity) &&
    matches(f.destination, q.host) &&
    (q.decision === undefined || q.decision === '' || f.decision === q.decision) &&
    matches(f.code, q.code)
  );
}

function destinationNode(e: FlowEdge): { id: string; label: string; kind: ViewNode['kind'] } {
  if (e.serviceEntry !== null) return { id: `se:${e.destination}`, label: e.destination, kind: 'serviceEntry' };
  const range = e.range ?? 'egressPolicies: no range matched';
  return { id: `range:${range}`, label: `unknown: ${range}`, kind: 'range' };
}

/**
 * A bounded picture of the map for a browser: nodes and edges capped by `limits` whatever the map holds, with the
 * filter applied to edges and rows alike.
 */
export function buildView(map: FlowMap, filter: FlowFilter = {}, limits: ViewLimits = DEFAULT_VIEW): FlowView {
  const all = map.edges();
  const identities = new Set<string>();
  const namespaces = new Set<string>();
  const destinations = new Set<string>();
  for (const e of all) {
    identities.add(e.source);
    namespaces.add(e.namespace);
    destinations.add(e.destination);
  }
  const selected = all.filter(
    (e) =>
      flowMatches(
        { source: e.source, destination: e.destination, code: e.last.code, decision: '' },
        { ...filter, decision: undefined },
      ) &&
      (filter.decision === undefined ||
        filter.decision === '' ||
        (filter.decision === 'allow' ? e.allowed > 0 : filter.decision === 'deny' ? e.denied > 0 : e.wouldDeny > 0)),
  );
  const selectedSources = new Set(selected.map((e) => e.source));
  const clustered = selectedSources.size > limits.maxSourceNodes;

  // Aggregate into display edges: identity (or namespace) → destination node.
  type Mutable<T> = { -readonly [K in keyof T]: T[K] };
  interface NodeAcc {
    label: string;
    kind: ViewNode['kind'];
    group: string;
    members: Set<string>;
    weight: number;
    denied: number;
  }
  const agg = new Map<string, { from: string; to: string; v: Mutable<ViewEdge> }>();
  const srcNodes = new Map<string, NodeAcc>();
  const dstNodes = new Map<string, NodeAcc>();
  for (const e of selected) {
    const from = clustered ? `ns:${e.namespace}` : `id:${e.source}`;
    const d = destinationNode(e);
    const s = srcNodes.get(from) ?? {
      label: clustered ? e.namespace : e.source,
      kind: clustered ? 'namespace' : 'identity',
      group: e.namespace,
      members: new Set<string>(),
      weight: 0,
      denied: 0,
    };
    s.members.add(e.source);
    s.weight += e.allowed + e.denied + e.wouldDeny;
    srcNodes.set(from, s);
    const t = dstNodes.get(d.id) ?? {
      label: d.label,
      kind: d.kind,
      group: d.kind,
      members: new Set<string>(),
      weight: 0,
      denied: 0,
    };
    t.members.add(e.destination);
    t.weight += e.allowed + e.denied + e.wouldDeny;
    t.denied += e.denied;
    dstNodes.set(d.id, t);
    const key = `${from}\u0000${d.id}`;
    const a = agg.get(key);
    if (a === undefined) {
      agg.set(key, {
        from,
        to: d.id,
        v: {
          from,
          to: d.id,
          allowed: e.allowed,
          denied: e.denied,
          wouldDeny: e.wouldDeny,
          bytes: e.bytesIn + e.bytesOut,
          edges: 1,
          last: e.last,
          lastMs: e.lastMs,
        },
      });
    } else {
      a.v.allowed += e.allowed;
      a.v.denied += e.denied;
      a.v.wouldDeny += e.wouldDeny;
      a.v.bytes += e.bytesIn + e.bytesOut;
      a.v.edges++;
      if (e.lastMs >= a.v.lastMs) {
        a.v.lastMs = e.lastMs;
        a.v.last = e.last;
      }
    }
  }
  // Keep the destinations that matter most (denied first, then busiest); fold the rest into one "other" node.
  const dstOrder = [...dstNodes.entries()].sort(
    (a, b) => b[1].denied - a[1].denied || b[1].weight - a[1].weight || a[0].localeCompare(b[0]),
  );
  const keptDst = new Set(dstOrder.slice(0, limits.maxDestinationNodes - 1).map(([id]) => id));
  if (dstOrder.length <= limits.maxDestinationNodes) for (const [id] of dstOrder) keptDst.add(id);
  const srcOrder = [...srcNodes.entries()].sort((a, b) => b[1].weight - a[1].weight || a[0].localeCompare(b[0]));
  const keptSrc = new Set(srcOrder.slice(0, limits.maxSourceNodes).map(([id]) => id));
  const edges: ViewEdge[] = [];
  let otherMembers = 0;
  for (const [id, n] of dstOrder) if (!keptDst.has(id)) otherMembers += n.members.size;
  let skipped = 0;
  for (const { v } of agg.values()) {
    if (!keptSrc.has(v.from)) {
      skipped++;
      continue;
    }
    edges.push(keptDst.has(v.to) ? v : { ...v, to: 'other' });
  }
  // Merge edges that now point at "other".
  const merged = new Map<string, ViewEdge>();
  for (const e of edges) {
    const k = `${e.from}\u0000${e.to}`;
    const m = merged.get(k);
    if (m === undefined) merged.set(k, e);
    else
      merged.set(k, {
        ...m,
        allowed: m.allowed + e.allowed,
        denied: m.denied + e.denied,
        wouldDeny: m.wouldDeny + e.wouldDeny,
        bytes: m.bytes + e.bytes,
        edges: m.edges + e.edges,
        last: e.lastMs >= m.lastMs ? e.last : m.last,
        lastMs: Math.max(e.lastMs, m.lastMs),
      });
  }
  const ranked = [...merged.values()].sort(
    (a, b) =>
      b.denied - a.denied ||
      b.wouldDeny - a.wouldDeny ||
      b.allowed - a.allowed ||
      `${a.from}${a.to}`.localeCompare(`${b.from}${b.to}`),
  );
  const shown = ranked.slice(0, limits.maxEdges);
  const usedSrc = new Set(shown.map((e) => e.from));
  const usedDst = new Set(shown.map((e) => e.to));
  const sources: ViewNode[] = srcOrder
    .filter(([id]) => usedSrc.has(id))
    .map(([id, n]) => ({ id, label: n.label, kind: n.kind, group: n.group, members: n.members.size }))
    .sort((a, b) => a.group.localeCompare(b.group) || a.label.localeCompare(b.label));
  const dests: ViewNode[] = dstOrder
    .filter(([id]) => usedDst.has(id))
    .map(([id, n]) => ({ id, label: n.label, kind: n.kind, group: n.kind, members: n.members.size }))
    .sort((a, b) => a.kind.localeCompare(b.kind) || a.label.localeCompare(b.label));
  if (usedDst.has('other')) {
    dests.push({
      id: 'other',
      label: `${otherMembers} more destinations`,
      kind: 'other',
      group: 'other',
      members: otherMembers,
    });
  }

  const rows: ObservedFlow[] = [];
  let matchingRows = 0;
  for (const f of map.rows()) {
    if (!flowMatches({ source: f.source, destination: destinationOf(f), decision: f.decision, code: f.code }, filter))
      continue;
    matchingRows++;
    if (rows.length < limits.maxRows) rows.push(f);
  }
  return {
    totals: {
      identities: identities.size,
      namespaces: namespaces.size,
      destinations: destinations.size,
      edges: all.length,
      decisions: map.decisions,
      droppedEdges: map.droppedEdges,
    },
    clustered,
    sources,
    destinations: dests,
    edges: shown,
    hiddenEdges: ranked.length - shown.length + skipped,
    rows,
    matchingRows,
  };
}
