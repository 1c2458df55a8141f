/**
 * The route stage of the compile: bind each HTTPRoute to its parents (a ServiceEntry bound to a waypoint, or a served
 * Gateway) with istiod's Accepted and ResolvedRefs conditions, and index the accepted ones by parent.
 */
import type { HTTPRoute } from '../config/api-types.ts';
import type { Settings } from '../config/settings-types.ts';
import type { Resource } from '../config/types.ts';
import { resourceKey } from '../config/types.ts';
import * as cond from './conditions.ts';
import type { Condition } from './conditions.ts';
import { hostMatches } from './host-match.ts';
import { pushTo } from './multimap.ts';
import type { GatewayModel, RouteModel, RouteParentModel } from './snapshot.ts';
import { CLUSTER_DOMAIN, labelsOf, type Topology } from './topology.ts';
import { routesAllow, USE_WAYPOINT } from './waypoint-binding.ts';

export interface RouteStage {
  readonly input: readonly Resource[];
  readonly routes: Map<string, RouteModel>;
  readonly routesByParent: Map<string, RouteModel[]>;
  readonly conditions: ReadonlyMap<string, Condition[]>;
}

/** Does some ServiceEntry of the topology declare `host` (exactly or by a wildcard)? */
function isDeclaredHost(topology: Topology, host: string): boolean {
  return (
    topology.exactHosts.has(host.toLowerCase()) || topology.wildcardHosts.some((w) => hostMatches(w.pattern, host))
  );
}

/** Gateways listed in permitCrossNamespaceResourceAccess may use routes and Secrets from other namespaces. */
export function permittedCrossNamespace(settings: Settings): (gw: GatewayModel) => boolean {
  const permitted = new Set(settings.permitCrossNamespaceResourceAccess);
  return (gw) => permitted.has(`${gw.namespace}/${gw.name}`);
}

export function bindRoutes(
  input: readonly HTTPRoute[],
  sorted: readonly HTTPRoute[],
  topology: Topology,
  settings: Settings,
): RouteStage {
  const { gateways, serviceEntries } = topology;
  const labelsOfNs = (ns: string): Readonly<Record<string, string>> => labelsOf(topology, ns);
  const hostDeclared = (host: string): boolean => isDeclaredHost(topology, host);
  const gatewayPermitted = permittedCrossNamespace(settings);
  const routes = new Map<string, RouteModel>();
  const routesByParent = new Map<string, RouteModel[]>();
  const routeConds = new Map<string, Condition[]>();
  const addRouteCond = (key: string, c: Condition): void => pushTo(routeConds, key, c);
  for (const route of sorted) {
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
        else if (
          se.resource.metadata.labels[USE_WAYPOINT] === undefined &&
          labelsOfNs(se.namespace)[USE_WAYPOINT] === undefined
        )
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
          // PERMIT_CROSS_NAMESPACE_RESOURCE_ACCESS lifts that for the listed proxies (pilot/pkg/features/solo.go in Solo's Istio fork, commit 6f2834d5ee "mTLS Waypoint Egress").
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
        if (!gw?.mode)
          conds.push(cond.routeNotAccepted('NoMatchingParent', `parent gateway ${pns}/${p.name} not found`));
        else if (!routesAllow(gw, rns, labelsOfNs(rns)))
          conds.push(
            cond.routeNotAccepted(
              'NotAllowedByListeners',
              `gateway ${gw.ref} does not allow routes from namespace "${rns}"`,
            ),
          );
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
      pushTo(routesByParent, p.parentKey, model);
    }
  }
  return { input, routes, routesByParent, conditions: routeConds };
}
