/**
 * The routes of one ServiceEntry port, compiled once per snapshot into an ordered list of matches. Order is the
 * Gateway API precedence across every attached route (Istio `sortRoutesByCreationTime` + `sortHTTPRoutes`):
 * Exact path, then the longest PathPrefix (then RegularExpression), then a method match, then most header matches,
 * then most query matches, then the oldest route, then `namespace/name` alphabetically, then rule and match order.
 */
import type { HTTPRoute, HTTPRouteFilter, HTTPRouteRule } from '../../config/api-types.ts';
import type { ServiceEntryModel, Snapshot } from '../../mesh/snapshot.ts';
import { resolveBackendRef, type BackendChoice, type HostLookup } from './backend.ts';
import { compileMatch, type CompiledMatch, type RouteRequest } from './match.ts';
import { messageOf } from '../../errors/message-of.ts';

/** One rule of one route, with its backends resolved. */
export interface CompiledRule {
  /** `namespace/name` of the HTTPRoute. */
  readonly route: string;
  readonly ruleIndex: number;
  readonly rule: HTTPRouteRule;
  readonly filters: readonly HTTPRouteFilter[];
  readonly backends: readonly BackendChoice[];
}

/** One match of one rule, in precedence order. */
export interface MatchEntry {
  readonly rule: CompiledRule;
  readonly matchIndex: number;
  readonly match: CompiledMatch;
  readonly createdAt: string;
}

export interface RouteTable {
  /** Accepted routes that apply to this port. */
  readonly routeCount: number;
  /** Routes naming this ServiceEntry as parent that were not accepted, with their status message. */
  readonly refused: readonly string[];
  /** Matches that could not be compiled (e.g. an invalid regular expression); they never match. */
  readonly errors: readonly string[];
  /** Invalid HTTPRoutes naming this parent (or its waypoint): the parent answers 503 naming them (fail closed). */
  readonly invalid: readonly string[];
  readonly entries: readonly MatchEntry[];
  /** The first entry (in precedence order) whose match the request satisfies. */
  match(req: RouteRequest): MatchEntry | null;
}

const PATH_RANK = { Exact: 3, PathPrefix: 2, RegularExpression: 1 } as const;

/** Gateway API precedence between two matches (negative: `a` wins). */
function comparePrecedence(a: MatchEntry, b: MatchEntry): number {
  const ma = a.match;
  const mb = b.match;
  if (ma.pathKind !== mb.pathKind) return PATH_RANK[mb.pathKind] - PATH_RANK[ma.pathKind];
  if (ma.pathValue.length !== mb.pathValue.length) return mb.pathValue.length - ma.pathValue.length;
  if (ma.hasMethod !== mb.hasMethod) return ma.hasMethod ? -1 : 1;
  if (ma.headerCount !== mb.headerCount) return mb.headerCount - ma.headerCount;
  if (ma.queryCount !== mb.queryCount) return mb.queryCount - ma.queryCount;
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
  if (a.rule.route !== b.rule.route) return a.rule.route < b.rule.route ? -1 : 1;
  if (a.rule.ruleIndex !== b.rule.ruleIndex) return a.rule.ruleIndex - b.rule.ruleIndex;
  return a.matchIndex - b.matchIndex;
}

/** Does a route's parentRef to this ServiceEntry apply to `port` (ParentReference.port selects one port)? */
function appliesToPort(route: HTTPRoute, parentNs: string, parentName: string, port: number): boolean {
  return (route.spec.parentRefs ?? []).some(
    (p) =>
      (p.kind ?? 'Gateway') === 'ServiceEntry' &&
      (p.namespace ?? route.metadata.namespace) === parentNs &&
      p.name === parentName &&
      (p.port === undefined || p.port === port),
  );
}

/** Compile the table for routes already accepted for the parent. Pure. */
export function buildRouteTable(
  routes: readonly HTTPRoute[],
  lookup: HostLookup,
  refused: readonly string[] = [],
  invalid: readonly string[] = [],
): RouteTable {
  const entries: MatchEntry[] = [];
  const errors: string[] = [];
  for (const route of routes) {
    const ref = `${route.metadata.namespace}/${route.metadata.name}`;
    const createdAt = route.metadata.creationTimestamp ?? '';
    const rules = route.spec.rules ?? [];
    rules.forEach((rule, ruleIndex) => {
      const compiled: CompiledRule = {
        route: ref,
        ruleIndex,
        rule,
        filters: rule.filters ?? [],
        backends: (rule.backendRefs ?? []).map((b) => resolveBackendRef(b, route.metadata.namespace, lookup)),
      };
      // A rule without matches matches PathPrefix "/" (Gateway API default).
      const matches = rule.matches && rule.matches.length > 0 ? rule.matches : [{}];
      matches.forEach((m, matchIndex) => {
        try {
          entries.push({ rule: compiled, matchIndex, match: compileMatch(m), createdAt });
        } catch (err) {
          errors.push(`${ref} rules[${ruleIndex}].matches[${matchIndex}]: ${messageOf(err)}`);
        }
      });
    });
  }
  entries.sort(comparePrecedence);
  return {
    routeCount: routes.length,
    refused,
    errors,
    invalid,
    entries,
    match(req: RouteRequest): MatchEntry | null {
      for (const e of entries) if (e.match.test(req)) return e;
      return null;
    },
  };
}

/** Compile the table of one ServiceEntry port from a snapshot. */
export function routeTableFor(snap: Snapshot, seKey: string, port: number, lookup: HostLookup): RouteTable {
  const se = snap.serviceEntries.get(seKey);
  if (!se) return buildRouteTable([], lookup);
  const invalid = [
    ...snap.invalidRoutesFor(seKey),
    ...(se.waypoint === null ? [] : snap.invalidRoutesFor(se.waypoint)),
  ];
  const accepted = snap
    .routesFor(seKey)
    .map((r) => r.resource)
    .filter((r) => appliesToPort(r, se.namespace, se.name, port));
  const refused: string[] = [];
  for (const r of snap.routes.values()) {
    for (const p of r.parents) {
      if (p.parentKey !== seKey || p.accepted) continue;
      const why = p.conditions.find((c) => c.type === 'Accepted' && c.status === 'False');
      const ref = `${r.resource.metadata.namespace}/${r.resource.metadata.name}`;
      refused.push(`HTTPRoute ${ref} not accepted${why ? `: ${why.message}` : ''}`);
    }
  }
  return buildRouteTable(accepted, lookup, refused, invalid);
}

/**
 * Per-snapshot cache of compiled tables and the host index, keyed by `snapshot.generation` (and the snapshot
 * itself, so two snapshots that happen to share a generation never share tables): the first request after a reload
 * compiles, every other request looks up.
 */
export class RouteTableCache {
  #generation = -1;
  #snapshot: Snapshot | null = null;
  #tables = new Map<string, RouteTable>();
  #hosts = new Map<string, ServiceEntryModel>();

  #refresh(snap: Snapshot): void {
    if (snap.generation === this.#generation && snap === this.#snapshot) return;
    this.#generation = snap.generation;
    this.#snapshot = snap;
    this.#tables = new Map();
    this.#hosts = new Map();
    // Oldest first (the snapshot's maps are in creation order), so the first declaration of a host wins, as Istio.
    const ses = [...snap.serviceEntries.values()].sort((a, b) => {
      const ta = a.resource.metadata.creationTimestamp ?? '';
      const tb = b.resource.metadata.creationTimestamp ?? '';
      return ta < tb ? -1 : ta > tb ? 1 : 0;
    });
    for (const se of ses)
      for (const h of se.hosts) if (!this.#hosts.has(h.toLowerCase())) this.#hosts.set(h.toLowerCase(), se);
  }

  /** The ServiceEntry declaring `host` exactly, bound or not. */
  host(snap: Snapshot, host: string): ServiceEntryModel | null {
    this.#refresh(snap);
    return this.#hosts.get(host.toLowerCase()) ?? null;
  }

  table(snap: Snapshot, seKey: string, port: number): RouteTable {
    this.#refresh(snap);
    const key = `${seKey}#${port}`;
    let t = this.#tables.get(key);
    if (!t) {
      t = routeTableFor(snap, seKey, port, (h) => this.#hosts.get(h) ?? null);
      this.#tables.set(key, t);
    }
    return t;
  }
}
