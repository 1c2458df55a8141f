/**
 * Compile a LoadResult into an immutable Snapshot: serve Gateways, allocate VIPs, bind ServiceEntries to
 * waypoints, attach AuthorizationPolicies by targetRefs, resolve routes and credentials, and build the indexes the
 * data plane looks up per connection. Pure: no I/O, no clock except `createdAt`.
 */
import type {
  AuthorizationPolicy,
  DestinationRule,
  Gateway,
  GatewayClass,
  HTTPRoute,
  Namespace,
  Secret,
  ServiceEntry,
} from '../config/api-types.ts';
import type { LoadResult } from '../config/load.ts';
import type { Diagnostic, Resource } from '../config/types.ts';
import { compileEgressPolicies } from '../policy/egress-policies.ts';
import type { LayerInput } from '../policy/engine.ts';
import * as cond from './conditions.ts';
import type { Condition } from './conditions.ts';
import { bindDestinationRules } from './destination-rules.ts';
import { failClosed } from './fail-closed.ts';
import { hostMatches } from './host-match.ts';
import { pushTo } from './multimap.ts';
import { attachPolicies } from './policy-attachment.ts';
import { bindRoutes, type RouteStage } from './route-binding.ts';
import type { DestinationRuleModel, ServiceEntryModel, Snapshot } from './snapshot.ts';
import { buildTopology, type Topology } from './topology.ts';
import { NO_VIP_ALLOCATIONS, type VipAllocations } from './vip-allocator.ts';

export interface CompileOptions {
  /** The snapshot being replaced: its VIP allocations are kept stable. */
  readonly previous?: Snapshot | null;
  readonly generation?: number;
}

/** Oldest first (istiod's conflict order), then by key. */
function byAge<T extends Resource>(a: T, b: T): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** The resources of each kind, in load order: one pass over the load instead of one filter per kind. */
function groupByKind(load: LoadResult): Map<string, Resource[]> {
  const out = new Map<string, Resource[]>();
  for (const r of load.resources) pushTo(out, r.kind, r);
  return out;
}

const NO_RESOURCES: readonly Resource[] = Object.freeze([]);

/** Same objects in the same order (the loader reuses the objects of unchanged files). */
function sameList(a: readonly unknown[] | undefined, b: readonly unknown[]): boolean {
  if (a === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** What a compile leaves for the next one (kept beside the snapshot, never read by the data plane). */
interface CompileState {
  readonly settingsKey: string;
  readonly topology: Topology;
  /** Per kind: the load-order input and its byAge order. */
  readonly sorted: ReadonlyMap<string, { readonly input: readonly Resource[]; readonly sorted: readonly Resource[] }>;
  readonly routes: RouteStage;
}

const COMPILE_STATE = new WeakMap<Snapshot, CompileState>();

/**
 * `list` in byAge order. When the previous compile sorted almost the same list, start from its order (same keys in
 * place, the objects of this load) and append the rest: the sort then sees one long sorted run and finishes in
 * about n comparisons instead of n log n. Keys are unique, so the result is the same total order either way.
 */
function sortByAge<T extends Resource>(
  list: readonly T[],
  prev: { input: readonly Resource[]; sorted: readonly Resource[] } | undefined,
): T[] {
  if (prev === undefined) return list.slice().sort(byAge);
  if (sameList(prev.input, list)) return prev.sorted as T[];
  const byKey = new Map<string, T>();
  for (const r of list) byKey.set(r.key, r);
  const out: T[] = [];
  for (const old of prev.sorted) {
    const r = byKey.get(old.key);
    if (r !== undefined && (r.metadata.creationTimestamp ?? '') === (old.metadata.creationTimestamp ?? '')) {
      out.push(r);
      byKey.delete(old.key);
    }
  }
  for (const r of byKey.values()) out.push(r);
  return out.sort(byAge);
}

export function compileSnapshot(load: LoadResult, opts: CompileOptions = {}): Snapshot {
  const settings = load.settings;
  const settingsKey = JSON.stringify(settings);
  const prevState = opts.previous ? COMPILE_STATE.get(opts.previous) : undefined;
  const reuse = prevState !== undefined && prevState.settingsKey === settingsKey ? prevState : undefined;
  const diagnostics: Diagnostic[] = [...load.diagnostics];
  const conditions = new Map<string, Condition[]>();
  const addCond = (key: string, c: Condition): void => pushTo(conditions, key, c);
  const kinds = groupByKind(load);
  const sortedState = new Map<string, { input: readonly Resource[]; sorted: readonly Resource[] }>();
  const sorted = <T extends Resource>(kind: string): T[] => {
    const input = (kinds.get(kind) ?? NO_RESOURCES) as T[];
    const out = sortByAge(input, prevState?.sorted.get(kind));
    sortedState.set(kind, { input, sorted: out });
    return out;
  };
  const ofKind = <T extends Resource>(kind: string): readonly T[] => (kinds.get(kind) ?? NO_RESOURCES) as readonly T[];

  // ---- namespaces, gateways, service entries, lookup indexes: reused when none of their inputs changed ----
  const namespaceList = ofKind<Namespace>('Namespace');
  const classList = ofKind<GatewayClass>('GatewayClass');
  const gatewayList = sorted<Gateway>('Gateway');
  const seList = sorted<ServiceEntry>('ServiceEntry');
  const prevTopo = reuse?.topology;
  const topology: Topology =
    prevTopo !== undefined &&
    sameList(prevTopo.inputs[0], namespaceList) &&
    sameList(prevTopo.inputs[1], classList) &&
    sameList(prevTopo.inputs[2], gatewayList) &&
    sameList(prevTopo.inputs[3], seList)
      ? prevTopo
      : buildTopology(
          settings,
          namespaceList,
          classList,
          gatewayList,
          seList,
          opts.previous?.vipAllocations ?? NO_VIP_ALLOCATIONS,
        );
  const { gateways, serviceEntries, allocations, exactHosts, wildcardHosts, addressTables, anyGatewayTable } = topology;
  for (const [key, list] of topology.conditions) conditions.set(key, list);
  diagnostics.push(...topology.diagnostics);

  // ---- authorization policies ----
  const policyStage = attachPolicies(
    sorted<AuthorizationPolicy>('AuthorizationPolicy'),
    topology,
    settings,
    settingsKey,
  );
  const { gatewayPolicies, sePolicies, policies } = policyStage;
  for (const [key, list] of policyStage.conditions) conditions.set(key, list);

  // ---- invalid resources with no last good version: fail closed (a DENY-everything stand-in first on its layers) ----
  const failed = failClosed(load, topology, settings);
  for (const [table, standIns] of [
    [gatewayPolicies, failed.gatewayStandIns],
    [sePolicies, failed.seStandIns],
  ] as const) {
    for (const [key, list] of standIns) table.set(key, [...list, ...(table.get(key) ?? [])]);
  }
  diagnostics.push(...failed.diagnostics);

  // ---- routes: reused whole while they, the topology and the settings are the same ----
  const routeInput = ofKind<HTTPRoute>('HTTPRoute');
  const prevRoutes =
    reuse !== undefined && reuse.topology === topology && sameList(reuse.routes.input, routeInput)
      ? reuse.routes
      : undefined;
  if (prevRoutes !== undefined) sortedState.set('HTTPRoute', reuse!.sorted.get('HTTPRoute')!);
  const routeStage: RouteStage =
    prevRoutes ?? bindRoutes(routeInput, sorted<HTTPRoute>('HTTPRoute'), topology, settings);
  const { routes, routesByParent } = routeStage;
  for (const [key, list] of routeStage.conditions) conditions.set(key, list);

  // ---- destination rules and their credentials ----
  const secrets = new Set(ofKind<Secret>('Secret').map((s) => s.key));
  const drStage = bindDestinationRules(sorted<DestinationRule>('DestinationRule'), secrets, topology, settings);
  const { destinationRules, drByHost } = drStage;
  for (const [key, list] of drStage.conditions) for (const c of list) addCond(key, c);

  // ---- EnvoyFilters: accepted, not applied ----
  for (const ef of ofKind('EnvoyFilter')) {
    addCond(
      ef.key,
      cond.notApplied(
        'NotApplied',
        'Portcullis does not run Envoy, so EnvoyFilters are not applied. Not needed for source-principal routing: ' +
          "a waypoint-class gateway sets the %%source.principal%% header natively to the caller's verified SPIFFE ID " +
          '(overwriting any value the client sent) for HTTPRoute matching, and removes it before the request leaves.',
      ),
    );
  }

  const egressPolicies = compileEgressPolicies(settings.egressPolicies);
  // Layer inputs are built once per target and reused by every decision (no allocation on the per-connection path).
  const gatewayLayers = new Map<string, LayerInput>();
  const seLayers = new Map<string, LayerInput>();
  const layerPairs = new Map<string, { gatewayKey: string; layers: readonly LayerInput[] }>();
  const vipAllocations: VipAllocations = allocations;

  const snapshot: Snapshot = {
    generation: opts.generation ?? (opts.previous ? opts.previous.generation + 1 : 1),
    createdAt: new Date().toISOString(),
    settings,
    load,
    diagnostics,
    gateways,
    serviceEntries,
    policies,
    routes,
    destinationRules,
    conditions,
    vipAllocations,
    egressPolicies,
    servedGateways: () => [...gateways.values()].filter((g) => g.mode !== null),
    gatewayLayer: (gatewayKey: string): LayerInput =>
      memoLayer(gatewayLayers, gatewayKey, () => ({
        layer: 'gateway',
        target: `Gateway ${gateways.get(gatewayKey)?.ref ?? gatewayKey}`,
        policies: gatewayPolicies.get(gatewayKey) ?? [],
      })),
    serviceEntryLayer: (seKey: string): LayerInput =>
      memoLayer(seLayers, seKey, () => ({
        layer: 'serviceentry',
        target: `ServiceEntry ${serviceEntries.get(seKey)?.ref ?? seKey}`,
        policies: sePolicies.get(seKey) ?? [],
      })),
    layersFor(gatewayKey: string, seKey: string): readonly LayerInput[] {
      // Keyed by the ServiceEntry (bound to one gateway), so the lookup builds no key string.
      let pair = layerPairs.get(seKey);
      if (pair === undefined || pair.gatewayKey !== gatewayKey) {
        pair = { gatewayKey, layers: Object.freeze([this.gatewayLayer(gatewayKey), this.serviceEntryLayer(seKey)]) };
        layerPairs.set(seKey, pair);
      }
      return pair.layers;
    },
    findByHost(gatewayKey: string | null, host: string): ServiceEntryModel | null {
      const h = host.toLowerCase().replace(/\.$/, '');
      const ok = (se: ServiceEntryModel) => (gatewayKey === null ? se.waypoint !== null : se.waypoint === gatewayKey);
      for (const se of exactHosts.get(h) ?? []) if (ok(se)) return se;
      for (const w of wildcardHosts) if (ok(w.se) && hostMatches(w.pattern, h)) return w.se;
      return null;
    },
    findByAddress(gatewayKey: string | null, ip: string): ServiceEntryModel | null {
      const table = gatewayKey === null ? anyGatewayTable : addressTables.get(gatewayKey);
      return table?.lookup(ip)?.value ?? null;
    },
    destinationRuleFor(host: string, namespaces: readonly string[]): DestinationRuleModel | null {
      const list = drByHost.get(host.toLowerCase());
      if (!list) return null;
      for (const ns of [...namespaces, settings.rootNamespace]) {
        const found = list.find((d) => d.resource.metadata.namespace === ns);
        if (found) return found;
      }
      return null;
    },
    routesFor: (parentKey: string) => routesByParent.get(parentKey) ?? [],
    invalid: failed.invalid,
    invalidServiceEntryFor: failed.invalidServiceEntryFor,
    invalidDestinationRuleFor: failed.invalidDestinationRuleFor,
    invalidRoutesFor: failed.invalidRoutesFor,
  };
  COMPILE_STATE.set(snapshot, { settingsKey, topology, sorted: sortedState, routes: routeStage });
  return snapshot;
}

/** A policy layer built once per key and then shared by every decision that reads it. */
function memoLayer(cache: Map<string, LayerInput>, key: string, build: () => LayerInput): LayerInput {
  let layer = cache.get(key);
  if (layer === undefined) {
    layer = build();
    cache.set(key, layer);
  }
  return layer;
}
