/**
 * The topology stage of the compile: everything derived from Namespaces, GatewayClasses, Gateways and ServiceEntries
 * (and the settings): the gateway and ServiceEntry models, VIPs, waypoint binding, their conditions and the lookup
 * indexes. A reload that changes none of those inputs reuses it whole, so its models keep their identity.
 */
import type { AllowedRoutes, Gateway, GatewayClass, Namespace, ServiceEntry } from '../config/api-types.ts';
import type { LoadResult } from '../config/load.ts';
import type { GatewayMode } from '../config/settings-types.ts';
import type { Diagnostic, Resource } from '../config/types.ts';
import { resourceKey } from '../config/types.ts';
import { HBONE_PORT } from '../net/hbone-port.ts';
import { PrefixTable } from './address-index.ts';
import * as cond from './conditions.ts';
import type { Condition } from './conditions.ts';
import { pushTo } from './multimap.ts';
import type { GatewayModel, ServiceEntryModel } from './snapshot.ts';
import { allocateServiceEntryVips, vipsOf, type VipAllocations } from './vip-allocator.ts';
import { bindWaypoint, trafficTypeOf } from './waypoint-binding.ts';

export const CLUSTER_DOMAIN = 'svc.cluster.local';
const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

export interface Topology {
  readonly inputs: readonly (readonly Resource[])[];
  readonly nsLabels: ReadonlyMap<string, Readonly<Record<string, string>>>;
  readonly gateways: Map<string, GatewayModel>;
  readonly serviceEntries: Map<string, ServiceEntryModel>;
  readonly allocations: VipAllocations;
  readonly conditions: ReadonlyMap<string, Condition[]>;
  readonly diagnostics: readonly Diagnostic[];
  readonly exactHosts: ReadonlyMap<string, ServiceEntryModel[]>;
  readonly wildcardHosts: readonly { pattern: string; se: ServiceEntryModel }[];
  readonly addressTables: ReadonlyMap<string, PrefixTable<ServiceEntryModel>>;
  readonly anyGatewayTable: PrefixTable<ServiceEntryModel>;
}

/** A namespace's labels in this topology (none when the Namespace is not in the configuration). */
export function labelsOf(topology: Topology, ns: string): Readonly<Record<string, string>> {
  return topology.nsLabels.get(ns) ?? NO_LABELS;
}

function splitRef(ref: string): [string, string] {
  const i = ref.indexOf('/');
  return [ref.slice(0, i), ref.slice(i + 1)];
}

export function buildTopology(
  settings: LoadResult['settings'],
  namespaceList: readonly Resource[],
  classList: readonly Resource[],
  gatewayList: readonly Gateway[],
  seList: readonly ServiceEntry[],
  previousAllocations: VipAllocations,
): Topology {
  const diagnostics: Diagnostic[] = [];
  const conditions = new Map<string, Condition[]>();
  const addCond = (key: string, c: Condition): void => pushTo(conditions, key, c);

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
    let allowedRoutes: AllowedRoutes | undefined;
    if (mode) {
      const valid = gw.spec.listeners.filter((l) => l.port === HBONE_PORT && l.protocol === 'HBONE');
      ready = valid.length > 0;
      allowedRoutes = valid[0]?.allowedRoutes;
      if (valid.length === gw.spec.listeners.length) addCond(gw.key, cond.gatewayAccepted());
      else if (valid.length > 0) addCond(gw.key, cond.gatewayListenersNotValid());
      else addCond(gw.key, cond.gatewayNoValidListeners());
      for (const l of gw.spec.listeners) {
        const ok = l.port === HBONE_PORT && l.protocol === 'HBONE';
        addCond(`${gw.key}#listener/${l.name}`, ok ? cond.listenerAccepted() : cond.listenerUnsupportedProtocol());
      }
      addCond(
        gw.key,
        ready
          ? cond.gatewayProgrammed(`${serviceHost}:${HBONE_PORT}`)
          : cond.gatewayNotProgrammed(`Gateway is not programmed: ${cond.UNEXPECTED_WAYPOINT_LISTENER}`),
      );
      if (ready) addCond(gw.key, cond.gatewayResolvedRefs());
    } else {
      // Not ours: istiod still treats it as a waypoint once it has status.addresses (gatewayToWaypointTransform).
      const st = gw.status as { addresses?: unknown[] } | undefined;
      ready = Array.isArray(st?.addresses) && st.addresses.length > 0;
      allowedRoutes = gw.spec.listeners.find((l) => l.port === HBONE_PORT && l.protocol === 'HBONE')?.allowedRoutes;
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
  const vip = allocateServiceEntryVips(seResources, previousAllocations);
  const allocations = vip.allocations;
  if (vip.exhausted !== null) {
    diagnostics.push({
      code: 'PCL_MESH_VIP_EXHAUSTED',
      severity: 'error',
      file: '',
      line: 0,
      column: 0,
      message: vip.exhausted,
    });
  }
  for (const se of seResources.filter((x) => vip.reassigned.includes(x.key))) {
    const { namespace, name } = se.metadata;
    const at = {
      file: se.source.file,
      line: se.source.line,
      column: se.source.column,
      kind: 'ServiceEntry',
      namespace,
      name,
    };
    diagnostics.push({
      code: 'PCL_MESH_VIP_REASSIGNED',
      severity: 'warning',
      ...at,
      message: `reassigned ${namespace}/${name} due to IP Address conflict`,
    });
  }
  const serviceEntries = new Map<string, ServiceEntryModel>();
  for (const se of seResources) {
    const vips = vipsOf(allocations, se);
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
        pushTo(exactHosts, host.toLowerCase(), se);
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
