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
  PolicyTargetReference,
  Secret,
  ServiceEntry,
} from '../config/api-types.ts';
import type { LoadResult } from '../config/load.ts';
import type { GatewayMode } from '../config/settings-types.ts';
import type { Diagnostic, Resource } from '../config/types.ts';
import { resourceKey } from '../config/types.ts';
import { compileAuthorizationPolicy, denyAllPolicy, type CompiledPolicy } from '../policy/compile.ts';
import { compileEgressPolicies } from '../policy/egress-policies.ts';
import type { LayerInput } from '../policy/engine.ts';
import { PrefixTable } from './address-index.ts';
import * as cond from './conditions.ts';
import type { Condition } from './conditions.ts';
import type {
  DestinationRuleModel,
  GatewayModel,
  PolicyModel,
  RouteModel,
  RouteParentModel,
  ServiceEntryModel,
  Snapshot,
} from './snapshot.ts';
import { allocateVips, istiodAddresses, type VipAllocations } from './vip-allocator.ts';
import { bindWaypoint, routesAllow, trafficTypeOf, USE_WAYPOINT } from './waypoint-binding.ts';

export interface CompileOptions {
  /** The snapshot being replaced: its VIP allocations are kept stable. */
  readonly previous?: Snapshot | null;
  readonly generation?: number;
}

const CLUSTER_DOMAIN = 'svc.cluster.local';
const AUTOALLOCATE_LABEL = 'networking.istio.io/enable-autoallocate-ip';
const DRY_RUN_NOTE = 'istio.io/dry-run';

function byAge<T extends Resource>(a: T, b: T): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** The resources of each kind, in load order: one pass over the load instead of one filter per kind. */
function groupByKind(load: LoadResult): Map<string, Resource[]> {
  const out = new Map<string, Resource[]>();
  for (const r of load.resources) {
    const list = out.get(r.kind);
    if (list) list.push(r);
    else out.set(r.kind, [r]);
  }
  return out;
}

const NO_RESOURCES: readonly Resource[] = Object.freeze([]);
const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

/** Same objects in the same order (the loader reuses the objects of unchanged files). */
function sameList(a: readonly unknown[] | undefined, b: readonly unknown[]): boolean {
  if (a === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Everything derived from Namespaces, GatewayClasses, Gateways and ServiceEntries (and the settings): the gateway
 * and ServiceEntry models, VIPs, binding conditions and the lookup indexes. A reload that changes none of those
 * inputs (e.g. one changed policy file) reuses it whole, so its models keep their identity.
 */
interface Topology {
  readonly inputs: readonly (readonly Resource[])[];
  readonly nsLabels: ReadonlyMap<string, Readonly<Record<string, string>>>;
  readonly gateways: Map<string, GatewayModel>;
  readonly serviceEntries: Map<string, ServiceEntryModel>;
  readonly allocations: Map<string, { v4: string; v6: string }>;
  readonly conditions: ReadonlyMap<string, Condition[]>;
  readonly diagnostics: readonly Diagnostic[];
  readonly exactHosts: ReadonlyMap<string, ServiceEntryModel[]>;
  readonly wildcardHosts: readonly { pattern: string; se: ServiceEntryModel }[];
  readonly addressTables: ReadonlyMap<string, PrefixTable<ServiceEntryModel>>;
  readonly anyGatewayTable: PrefixTable<ServiceEntryModel>;
}

/** What a compile leaves for the next one (kept beside the snapshot, never read by the data plane). */
interface CompileState {
  readonly settingsKey: string;
  readonly topology: Topology;
  /** Per kind: the load-order input and its byAge order. */
  readonly sorted: ReadonlyMap<string, { readonly input: readonly Resource[]; readonly sorted: readonly Resource[] }>;
  readonly routes: RouteStage;
}

interface RouteStage {
  readonly input: readonly Resource[];
  readonly routes: Map<string, RouteModel>;
  readonly routesByParent: Map<string, RouteModel[]>;
  readonly conditions: ReadonlyMap<string, Condition[]>;
}

const COMPILE_STATE = new WeakMap<Snapshot, CompileState>();

/**
 * `list` in byAge order. When the previous compile sorted almost the same list, start from its order (same keys in
 * place, the objects of this load) and append the rest: the sort then sees one long sorted run and finishes in
 * about n comparisons instead of n log n. Keys are unique, so the result is the same total order either way.
 */
function sortByAge<T extends Resource>(list: readonly T[], prev: { input: readonly Resource[]; sorted: readonly Resource[] } | undefined): T[] {
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

/** Is `host` matched by a ServiceEntry host pattern (exact, or `*.suffix` wildcard)? */
export function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase();
  if (p === h) return true;
  if (p.startsWith('*.')) return h.endsWith(p.slice(1)) && h.length > p.length - 1;
  if (p === '*') return true;
  return false;
}

function buildTopology(
  settings: LoadResult['settings'],
  namespaceList: readonly Resource[],
  classList: readonly Resource[],
  gatewayList: readonly Gateway[],
  seList: readonly ServiceEntry[],
  previousAllocations: VipAllocations,
): Topology {
  const diagnostics: Diagnostic[] = [];
  const conditions = new Map<string, Condition[]>();
  const addCond = (key: string, c: Condition): void => {
    const list = conditions.get(key);
    if (list) list.push(c);
    else conditions.set(key, [c]);
  };

  // ---- namespaces ----
  const nsLabels = new Map<string, Readonly<Record<string, string>>>();
  for (const ns of namespaceList as Namespace[]) nsLabels.set(ns.metadata.name, ns.metadata.labels);
  const labelsOfNs = (ns: string): Readonly<Record<string, string>> => nsLabels.get(ns) ?? NO_LABELS;

  // ---- gateway classes and gateways ----
  const classes = new Map<string, GatewayClass>();
  for (const gc of classList as GatewayClass[]) {
    classes.set(gc.metadata.name, gc);
    const mode = settings.gatewayClasses[gc.metadata.name];
    if (mode) addCond(gc.key, cond.gatewayClassAccepted(mode));
  }
  const gateways = new Map<string, GatewayModel>();
  for (const gw of gatewayList) {
    const mode: GatewayMode | null = settings.gatewayClasses[gw.spec.gatewayClassName] ?? null;
    const { namespace, name } = gw.metadata;
    const serviceHost = `${name}.${namespace}.${CLUSTER_DOMAIN}`;
    let ready = false;
    let allowedRoutes = undefined;
    if (mode) {
      const valid = gw.spec.listeners.filter((l) => l.port === 15008 && l.protocol === 'HBONE');
      ready = valid.length > 0;
      allowedRoutes = valid[0]?.allowedRoutes;
      if (valid.length === gw.spec.listeners.length) addCond(gw.key, cond.gatewayAccepted());
      else if (valid.length > 0) addCond(gw.key, cond.gatewayListenersNotValid());
      else addCond(gw.key, cond.gatewayNoValidListeners());
      for (const l of gw.spec.listeners) {
        const ok = l.port === 15008 && l.protocol === 'HBONE';
        addCond(`${gw.key}#listener/${l.name}`, ok ? cond.listenerAccepted() : cond.listenerUnsupportedProtocol());
      }
      addCond(
        gw.key,
        ready
          ? cond.gatewayProgrammed(`${serviceHost}:15008`)
          : cond.gatewayNotProgrammed(`Gateway is not programmed: ${cond.UNEXPECTED_WAYPOINT_LISTENER}`),
      );
      if (ready) addCond(gw.key, cond.gatewayResolvedRefs());
    } else {
      // Not ours: istiod still treats it as a waypoint once it has status.addresses (gatewayToWaypointTransform).
      const st = gw.status as { addresses?: unknown[] } | undefined;
      ready = Array.isArray(st?.addresses) && st.addresses.length > 0;
      allowedRoutes = gw.spec.listeners.find((l) => l.port === 15008 && l.protocol === 'HBONE')?.allowedRoutes;
    }
    gateways.set(gw.key, {
      key: gw.key,
      namespace,
      name,
      ref: `${namespace}/${name}`,
      resource: gw,
      className: gw.spec.gatewayClassName,
      mode,
      ready,
      trafficType: trafficTypeOf(gw.metadata.labels, classes.get(gw.spec.gatewayClassName)?.metadata.labels),
      allowedRoutes,
      identity: `spiffe://${settings.trustDomain}/ns/${namespace}/sa/${name}`,
      serviceHost,
    });
  }
  const gatewayByRef = (ns: string, name: string) => gateways.get(resourceKey('Gateway', ns, name));

  // ---- service entries: VIPs and binding ----
  const seResources = seList;
  const reserved = new Set<string>();
  for (const se of seResources) for (const a of se.spec.addresses ?? []) reserved.add(a);
  // istiod's addresses win: a ServiceEntry whose status.addresses istiod filled keeps them; allocate only where none.
  const fromIstiod = new Map(seResources.map((se) => [se.key, istiodAddresses(se.status, se.spec.hosts)]));
  for (const list of fromIstiod.values()) for (const a of list) reserved.add(a.value);
  const requests: { key: string }[] = [];
  for (const se of seResources) {
    const resolution = se.spec.resolution ?? 'NONE';
    if (resolution === 'NONE') continue;
    if ((fromIstiod.get(se.key) ?? []).length > 0) continue;
    if (se.metadata.labels[AUTOALLOCATE_LABEL] === 'false') continue;
    if ((se.spec.addresses ?? []).length > 0) continue;
    for (const host of se.spec.hosts) {
      if (host.includes('*') && resolution !== 'DYNAMIC_DNS') continue;
      requests.push({ key: `${se.key}#${host}` });
    }
  }
  let allocations: Map<string, { v4: string; v6: string }>;
  try {
    allocations = allocateVips(requests, previousAllocations, reserved);
  } catch (err) {
    allocations = new Map();
    diagnostics.push({
      code: 'PCL_MESH_VIP_EXHAUSTED',
      severity: 'error',
      file: '',
      line: 0,
      column: 0,
      message: (err as Error).message,
    });
  }
  const serviceEntries = new Map<string, ServiceEntryModel>();
  for (const se of seResources) {
    const vips: { host: string; value: string }[] = [...(fromIstiod.get(se.key) ?? [])];
    if (vips.length === 0) for (const host of se.spec.hosts) {
      const pair = allocations.get(`${se.key}#${host}`);
      if (pair) vips.push({ value: pair.v4, host }, { value: pair.v6, host });
    }
    const binding = bindWaypoint({
      namespace: se.metadata.namespace,
      labels: se.metadata.labels,
      namespaceLabels: labelsOfNs(se.metadata.namespace),
      lookupNamespaceLabels: labelsOfNs,
      lookupWaypoint: (ns, name) => gatewayByRef(ns, name),
      requiredTraffic: 'service',
    });
    if (binding.condition) addCond(se.key, binding.condition);
    const resolution = se.spec.resolution ?? 'NONE';
    if (resolution === 'DYNAMIC_DNS' && !binding.waypoint) {
      addCond(se.key, {
        type: 'istio.io/WaypointMissing',
        status: 'True',
        reason: 'NoWaypointForWildcardService',
        message: 'ServiceEntry will not apply until it is bound to a valid waypoint.',
      });
    }
    serviceEntries.set(se.key, {
      key: se.key,
      namespace: se.metadata.namespace,
      name: se.metadata.name,
      ref: `${se.metadata.namespace}/${se.metadata.name}`,
      resource: se,
      hosts: se.spec.hosts,
      ports: se.spec.ports ?? [],
      resolution,
      endpoints: se.spec.endpoints ?? [],
      specAddresses: se.spec.addresses ?? [],
      vips,
      waypoint: binding.waypoint ? resourceKey('Gateway', ...splitRef(binding.waypoint)) : null,
    });
  }

  // ---- lookup indexes ----
  const exactHosts = new Map<string, ServiceEntryModel[]>();
  const wildcardHosts: { pattern: string; se: ServiceEntryModel }[] = [];
  const addressTables = new Map<string, PrefixTable<ServiceEntryModel>>();
  const anyGatewayTable = new PrefixTable<ServiceEntryModel>();
  for (const se of serviceEntries.values()) {
    for (const host of se.hosts) {
      if (host.startsWith('*')) wildcardHosts.push({ pattern: host.toLowerCase(), se });
      else {
        const h = host.toLowerCase();
        const list = exactHosts.get(h);
        if (list) list.push(se);
        else exactHosts.set(h, [se]);
      }
    }
    if (!se.waypoint) continue;
    let table = addressTables.get(se.waypoint);
    if (!table) addressTables.set(se.waypoint, (table = new PrefixTable()));
    for (const address of [...se.vips.map((v) => v.value), ...se.specAddresses]) {
      table.insert(address, se);
      anyGatewayTable.insert(address, se);
    }
  }
  // Longer (more specific) wildcards first.
  wildcardHosts.sort((a, b) => b.pattern.length - a.pattern.length);


  return {
    inputs: [namespaceList, classList, gatewayList, seList],
    nsLabels,
    gateways,
    serviceEntries,
    allocations,
    conditions,
    diagnostics,
    exactHosts,
    wildcardHosts,
    addressTables,
    anyGatewayTable,
  };
}

export function compileSnapshot(load: LoadResult, opts: CompileOptions = {}): Snapshot {
  const settings = load.settings;
  const settingsKey = JSON.stringify(settings);
  const prevState = opts.previous ? COMPILE_STATE.get(opts.previous) : undefined;
  const reuse = prevState !== undefined && prevState.settingsKey === settingsKey ? prevState : undefined;
  const diagnostics: Diagnostic[] = [...load.diagnostics];
  const conditions = new Map<string, Condition[]>();
  const addCond = (key: string, c: Condition): void => {
    const list = conditions.get(key);
    if (list) list.push(c);
    else conditions.set(key, [c]);
  };
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
  const topology =
    prevTopo !== undefined &&
    sameList(prevTopo.inputs[0], namespaceList) &&
    sameList(prevTopo.inputs[1], classList) &&
    sameList(prevTopo.inputs[2], gatewayList) &&
    sameList(prevTopo.inputs[3], seList)
      ? prevTopo
      : buildTopology(settings, namespaceList, classList, gatewayList, seList, opts.previous?.vipAllocations ?? new Map());
  const { nsLabels, gateways, serviceEntries, allocations, exactHosts, wildcardHosts, addressTables, anyGatewayTable } = topology;
  for (const [key, list] of topology.conditions) conditions.set(key, list);
  diagnostics.push(...topology.diagnostics);
  const labelsOfNs = (ns: string): Readonly<Record<string, string>> => nsLabels.get(ns) ?? NO_LABELS;
  const gatewayByRef = (ns: string, name: string) => gateways.get(resourceKey('Gateway', ns, name));

  // ---- authorization policies ----
  const gatewayPolicies = new Map<string, CompiledPolicy[]>();
  const sePolicies = new Map<string, CompiledPolicy[]>();
  const policies = new Map<string, PolicyModel>();
  for (const ap of sorted<AuthorizationPolicy>('AuthorizationPolicy')) {
    // A policy's attachment depends only on it, the settings and the topology: reuse it while all three are the same.
    let att = attachmentCache.get(ap);
    if (att === undefined || att.topology !== topology || att.settingsKey !== settingsKey) {
      att = attachPolicy(ap);
      attachmentCache.set(ap, att);
    }
    policies.set(ap.key, att.model);
    if (att.conditions.length > 0) conditions.set(ap.key, att.conditions as Condition[]);
    const compiled = att.model.compiled;
    if (compiled === null) continue;
    for (const t of att.targets) {
      const table = t.layer === 'gateway' ? gatewayPolicies : sePolicies;
      const list = table.get(t.key);
      if (list) list.push(compiled);
      else table.set(t.key, [compiled]);
    }
  }

  function attachPolicy(ap: AuthorizationPolicy): PolicyAttachment {
    const conds: Condition[] = [];
    const done = (model: PolicyModel, targets: PolicyAttachment['targets']): PolicyAttachment => ({
      topology,
      settingsKey,
      model,
      conditions: Object.freeze(conds),
      targets,
    });
    const ns = ap.metadata.namespace;
    const refs: PolicyTargetReference[] = ap.spec.targetRefs ?? (ap.spec.targetRef ? [ap.spec.targetRef] : []);
    const ref = `${ns}/${ap.metadata.name}`;
    if (refs.length === 0) {
      conds.push(
        cond.notApplied(
          'NoTargetRefs',
          'Not attached: egress gateways and waypoints apply only policies with targetRefs (a selector or namespace-wide ' +
            'policy is enforced by ztunnel at the destination workload). Add targetRefs to a Gateway or ServiceEntry.',
        ),
      );
      return done({ key: ap.key, ref, resource: ap, compiled: null, attachedTo: [] }, []);
    }
    const attached: { key: string; layer: 'gateway' | 'serviceentry'; mode: GatewayMode | null; via: string }[] = [];
    const failures: Condition[] = [];
    for (const t of refs) {
      const group = t.group ?? '';
      if (t.kind === 'Gateway' && group === 'gateway.networking.k8s.io') {
        const gw = gatewayByRef(ns, t.name);
        if (!gw) failures.push(cond.policyTargetNotFound(`Gateway ${ns}/${t.name} was not found`));
        else if (!gw.mode)
          failures.push(
            cond.policyTargetNotFound(
              `Gateway ${gw.ref} is not served by Portcullis: its class "${gw.className}" is not in settings.gatewayClasses`,
            ),
          );
        else attached.push({ key: gw.key, layer: 'gateway', mode: gw.mode, via: gw.ref });
      } else if (t.kind === 'ServiceEntry' && group === 'networking.istio.io') {
        const se = serviceEntries.get(resourceKey('ServiceEntry', ns, t.name));
        if (!se) failures.push(cond.policyTargetNotFound(`ServiceEntry ${ns}/${t.name} was not found`));
        else if (!se.waypoint) failures.push(cond.policyAncestorNotBound(se.ref));
        else {
          const gw = gateways.get(se.waypoint)!;
          attached.push({ key: se.key, layer: 'serviceentry', mode: gw.mode, via: gw.ref });
        }
      } else if (t.kind === 'GatewayClass' && group === 'gateway.networking.k8s.io') {
        const mode = settings.gatewayClasses[t.name];
        if (ns !== settings.rootNamespace) {
          failures.push(
            cond.policyInvalid(
              `AuthorizationPolicy must be in the root namespace \`${settings.rootNamespace}\` when referencing a GatewayClass`,
            ),
          );
        } else if (mode === 'egress') {
          // Seed 000: "the solo-ztunnel-egress GatewayClass cannot be targeted directly".
          failures.push(
            cond.policyInvalid(
              `the ${t.name} GatewayClass cannot be targeted directly: policies must target the specific Gateway by name ` +
                `(targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: <gateway>}])`,
            ),
          );
        } else if (mode === 'waypoint') {
          for (const gw of gateways.values())
            if (gw.className === t.name && gw.mode) attached.push({ key: gw.key, layer: 'gateway', mode: gw.mode, via: gw.ref });
        } else {
          failures.push(cond.policyTargetNotFound(`GatewayClass ${t.name} is not served by Portcullis`));
        }
      } else if (t.kind === 'Service' && (group === '' || group === 'core')) {
        failures.push(cond.policyTargetNotFound(`Service ${ns}/${t.name} was not found`));
      } else {
        failures.push(cond.policyInvalid(`targetRef must be to one of Gateway, GatewayClass, ServiceEntry, Service but was ${group}/${t.kind}`));
      }
    }
    if (attached.length === 0) {
      conds.push(failures[0]);
      return done({ key: ap.key, ref, resource: ap, compiled: null, attachedTo: [] }, []);
    }
    if (failures.length > 0) conds.push(cond.policyPartiallyInvalid(failures.map((f) => f.message).join('; ')));
    else conds.push(cond.policyBound([...new Set(attached.map((a) => a.via))]));
    const mode = attached[0].mode === 'egress' ? 'l4' : 'l7';
    const compiled = compiledPolicyFor(ap, mode, settings.trustDomain);
    for (const c of compiled.conditions) conds.push(c);
    if (ap.metadata.annotations[DRY_RUN_NOTE] === 'true') {
      conds.push(cond.applied('dry-run: evaluated and logged, never enforced (istio.io/dry-run)'));
    }
    return done(
      { key: ap.key, ref, resource: ap, compiled, attachedTo: attached.map((a) => a.key) },
      attached.map((a) => ({ key: a.key, layer: a.layer })),
    );
  }

  // The settings' default-deny stands in for the chart's ALLOW policy with `rules: []` (seed 000, step 02).
  if (settings.egressGateway.defaultDeny) {
    for (const gw of gateways.values()) {
      if (gw.mode !== 'egress') continue;
      const list = gatewayPolicies.get(gw.key) ?? [];
      list.unshift(denyAllPolicy({ namespace: gw.namespace, name: 'egressGateway.defaultDeny' }, 'l4'));
      gatewayPolicies.set(gw.key, list);
    }
  }

  // ---- routes ----
  const hostDeclared = (host: string): boolean =>
    exactHosts.has(host.toLowerCase()) || wildcardHosts.some((w) => hostMatches(w.pattern, host));
  const permitted = new Set(settings.permitCrossNamespaceResourceAccess);
  const gatewayPermitted = (gw: GatewayModel): boolean => permitted.has(`${gw.namespace}/${gw.name}`);

  // Routes depend on themselves, the topology and the settings: reused whole while those are the same.
  const routeInput = ofKind<HTTPRoute>('HTTPRoute');
  const prevRoutes = reuse !== undefined && reuse.topology === topology && sameList(reuse.routes.input, routeInput) ? reuse.routes : undefined;
  if (prevRoutes !== undefined) sortedState.set('HTTPRoute', reuse!.sorted.get('HTTPRoute')!);
  const routeStage: RouteStage = prevRoutes ?? buildRoutes();
  const { routes, routesByParent } = routeStage;
  for (const [key, list] of routeStage.conditions) conditions.set(key, list);

  function buildRoutes(): RouteStage {
    const routes = new Map<string, RouteModel>();
    const routesByParent = new Map<string, RouteModel[]>();
    const routeConds = new Map<string, Condition[]>();
    const addRouteCond = (key: string, c: Condition): void => {
      const list = routeConds.get(key);
      if (list) list.push(c);
      else routeConds.set(key, [c]);
    };
    for (const route of sorted<HTTPRoute>('HTTPRoute')) {
      const rns = route.metadata.namespace;
      const parents: RouteParentModel[] = [];
      const backendProblems: string[] = [];
      for (const rule of route.spec.rules ?? []) {
        for (const b of rule.backendRefs ?? []) {
          const kind = b.kind ?? 'Service';
          const group = b.group ?? '';
          if (kind === 'Hostname' && group === 'networking.istio.io') {
            if (!hostDeclared(b.name)) backendProblems.push(`backend(${b.name}) not found`);
          } else if (kind === 'Service' && (group === '' || group === 'core')) {
            const host = `${b.name}.${b.namespace ?? rns}.${CLUSTER_DOMAIN}`;
            if (!hostDeclared(host)) backendProblems.push(`backend(${host}) not found`);
          } else {
            backendProblems.push(`referencing unsupported backendRef: group "${group}" kind "${kind}"`);
          }
        }
      }
      for (const p of route.spec.parentRefs ?? []) {
        const kind = p.kind ?? 'Gateway';
        const group = p.group ?? 'gateway.networking.k8s.io';
        const pns = p.namespace ?? rns;
        const conds: Condition[] = [];
        let parentKey = '';
        let accepted = false;
        if (kind === 'ServiceEntry' && group === 'networking.istio.io') {
          parentKey = resourceKey('ServiceEntry', pns, p.name);
          const se = serviceEntries.get(parentKey);
          if (!se) conds.push(cond.routeNotAccepted('NoMatchingParent', `parent service entry: "${p.name}" not found`));
          else if (se.resource.metadata.labels[USE_WAYPOINT] === undefined && labelsOfNs(se.namespace)[USE_WAYPOINT] === undefined)
            conds.push(
              cond.routeNotAccepted(
                'MissingLabel',
                `ServiceEntry ${se.ref} has no istio.io/use-waypoint label (on it or its namespace): routes attach only to ServiceEntries bound to a waypoint`,
              ),
            );
          else if (!se.waypoint)
            conds.push(cond.routeNotAccepted('NoMatchingParent', `ServiceEntry ${se.ref} is not bound to a waypoint`));
          else {
            const gw = gateways.get(se.waypoint)!;
            // A waypoint uses routes from its own namespace or the service's (listener_waypoint.go); Solo's
            // PERMIT_CROSS_NAMESPACE_RESOURCE_ACCESS lifts that for the listed proxies (istio-api-facts §4.1).
            if (rns !== gw.namespace && rns !== se.namespace && !gatewayPermitted(gw)) {
              conds.push(
                cond.routeNotAccepted(
                  'CrossNamespaceNotPermitted',
                  `route in namespace "${rns}" is ignored by waypoint ${gw.ref}: a waypoint uses only routes from its own ` +
                    `namespace or the ServiceEntry's; add "${gw.namespace}/${gw.name}" to permitCrossNamespaceResourceAccess ` +
                    `(or PERMIT_CROSS_NAMESPACE_RESOURCE_ACCESS) to allow it`,
                ),
              );
            } else {
              accepted = true;
              conds.push(cond.routeAccepted());
            }
          }
        } else if (kind === 'Gateway' && group === 'gateway.networking.k8s.io') {
          parentKey = resourceKey('Gateway', pns, p.name);
          const gw = gateways.get(parentKey);
          if (!gw || !gw.mode) conds.push(cond.routeNotAccepted('NoMatchingParent', `parent gateway ${pns}/${p.name} not found`));
          else if (!routesAllow(gw, rns, labelsOfNs(rns)))
            conds.push(cond.routeNotAccepted('NotAllowedByListeners', `gateway ${gw.ref} does not allow routes from namespace "${rns}"`));
          else {
            accepted = true;
            conds.push(cond.routeAccepted());
          }
        } else {
          parentKey = resourceKey(kind, pns, p.name);
          conds.push(cond.routeNotAccepted('InvalidKind', `unsupported parent ${group}/${kind}`));
        }
        conds.push(
          backendProblems.length === 0
            ? cond.routeResolvedRefs()
            : cond.routeUnresolvedRefs('BackendNotFound', backendProblems.join('; ')),
        );
        parents.push({ parentKey, accepted, conditions: conds });
        for (const c of conds) addRouteCond(route.key, { ...c, message: `parent ${parentKey}: ${c.message}` });
      }
      const model: RouteModel = { key: route.key, resource: route, parents };
      routes.set(route.key, model);
      for (const p of parents) {
        if (!p.accepted) continue;
        const list = routesByParent.get(p.parentKey);
        if (list) list.push(model);
        else routesByParent.set(p.parentKey, [model]);
      }
    }
    return { input: routeInput, routes, routesByParent, conditions: routeConds };
  }

  // ---- destination rules and their credentials ----
  const secrets = new Set(ofKind<Secret>('Secret').map((s) => s.key));
  const waypointGateways = [...gateways.values()].filter((g) => g.mode === 'waypoint');
  const destinationRules = new Map<string, DestinationRuleModel>();
  const drByHost = new Map<string, DestinationRuleModel[]>();
  for (const dr of sorted<DestinationRule>('DestinationRule')) {
    const credentialName = dr.spec.trafficPolicy?.tls?.credentialName;
    let credential: DestinationRuleModel['credential'] = null;
    let credentialError: string | null = null;
    if (credentialName) {
      // A bare name is a Secret in the proxy's own namespace (Istio: "must exist in the namespace of the proxy"):
      // with one waypoint gateway that is its namespace; the data plane re-resolves per gateway at request time.
      const proxyNs = waypointGateways.length === 1 ? waypointGateways[0].namespace : dr.metadata.namespace;
      const parsed = parseCredentialName(credentialName, proxyNs);
      if ('error' in parsed) credentialError = parsed.error;
      else {
        credential = parsed;
        const secretRef = `${parsed.namespace}/${parsed.name}`;
        const users = waypointGateways.filter((g) => g.namespace !== parsed.namespace && !gatewayPermitted(g));
        if (waypointGateways.length > 0 && users.length === waypointGateways.length) {
          credentialError =
            `Secret ${secretRef} is in another namespace than waypoint ${users.map((g) => g.ref).join(', ')}; ` +
            `cross-namespace secret reference requires permission: add "${users[0].namespace}/${users[0].name}" to ` +
            `permitCrossNamespaceResourceAccess (or PERMIT_CROSS_NAMESPACE_RESOURCE_ACCESS)`;
        } else if (!secrets.has(resourceKey('Secret', parsed.namespace, parsed.name))) {
          addCond(dr.key, cond.credentialNotResolved('SecretNotFound', `Secret ${secretRef} was not found`));
        } else addCond(dr.key, cond.credentialResolved(secretRef));
      }
      if (credentialError) addCond(dr.key, cond.credentialNotResolved('NotPermitted', credentialError));
    }
    const model: DestinationRuleModel = { key: dr.key, resource: dr, credential, credentialError };
    destinationRules.set(dr.key, model);
    const h = dr.spec.host.toLowerCase();
    const list = drByHost.get(h);
    if (list) list.push(model);
    else drByHost.set(h, [model]);
  }

  // ---- EnvoyFilters: accepted, not applied ----
  for (const ef of ofKind('EnvoyFilter')) {
    addCond(
      ef.key,
      cond.notApplied(
        'NotApplied',
        'Portcullis does not run Envoy, so EnvoyFilters are not applied. Not needed for source-principal routing: ' +
          'a waypoint-class gateway sets the %%source.principal%% header natively to the caller\'s verified SPIFFE ID ' +
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
    gatewayLayer(gatewayKey: string): LayerInput {
      let layer = gatewayLayers.get(gatewayKey);
      if (!layer) {
        const gw = gateways.get(gatewayKey);
        layer = { layer: 'gateway', target: `Gateway ${gw?.ref ?? gatewayKey}`, policies: gatewayPolicies.get(gatewayKey) ?? [] };
        gatewayLayers.set(gatewayKey, layer);
      }
      return layer;
    },
    serviceEntryLayer(seKey: string): LayerInput {
      let layer = seLayers.get(seKey);
      if (!layer) {
        const se = serviceEntries.get(seKey);
        layer = { layer: 'serviceentry', target: `ServiceEntry ${se?.ref ?? seKey}`, policies: sePolicies.get(seKey) ?? [] };
        seLayers.set(seKey, layer);
      }
      return layer;
    },
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
  };
  COMPILE_STATE.set(snapshot, { settingsKey, topology, sorted: sortedState, routes: routeStage });
  return snapshot;
}

/** A policy's attachment: its model, its conditions and the layers it joins, for one topology and settings. */
interface PolicyAttachment {
  readonly topology: Topology;
  readonly settingsKey: string;
  readonly model: PolicyModel;
  readonly conditions: readonly Condition[];
  readonly targets: readonly { readonly key: string; readonly layer: 'gateway' | 'serviceentry' }[];
}
const attachmentCache = new WeakMap<AuthorizationPolicy, PolicyAttachment>();

/**
 * Compiled policies are cached per resource object: the loader reuses the objects of files that did not change,
 * so a reload recompiles only the policies that did (compile once; the per-connection path never compiles).
 */
const policyCache = new WeakMap<AuthorizationPolicy, { mode: 'l4' | 'l7'; trustDomain: string; compiled: CompiledPolicy }>();
function compiledPolicyFor(ap: AuthorizationPolicy, mode: 'l4' | 'l7', trustDomain: string): CompiledPolicy {
  const hit = policyCache.get(ap);
  if (hit && hit.mode === mode && hit.trustDomain === trustDomain) return hit.compiled;
  const compiled = compileAuthorizationPolicy(ap, mode, { trustDomain });
  policyCache.set(ap, { mode, trustDomain, compiled });
  return compiled;
}

function splitRef(ref: string): [string, string] {
  const i = ref.indexOf('/');
  return [ref.slice(0, i), ref.slice(i + 1)];
}

/**
 * `credentialName` as Istio reads it (pilot/pkg/model/credentials): `name` (in `defaultNamespace`, the proxy's), `namespace/name`, `kubernetes://name`, `kubernetes://namespace/name`.
 */
export function parseCredentialName(
  value: string,
  defaultNamespace: string,
): { namespace: string; name: string } | { error: string } {
  let v = value;
  if (v.startsWith('kubernetes://')) v = v.slice('kubernetes://'.length);
  else if (v.includes('://')) return { error: `credentialName "${value}": only kubernetes:// secrets are supported` };
  const parts = v.split('/');
  if (parts.length === 1 && parts[0] !== '') return { namespace: defaultNamespace, name: parts[0] };
  if (parts.length === 2 && parts[0] !== '' && parts[1] !== '') return { namespace: parts[0], name: parts[1] };
  return { error: `credentialName "${value}" must be "name" or "namespace/name"` };
}
