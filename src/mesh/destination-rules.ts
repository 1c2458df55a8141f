/**
 * The DestinationRule stage of the compile: resolve each rule's `credentialName` to a Secret the waypoint may use
 * (istiod's credential rules and Solo's cross-namespace permission) and index the rules by host.
 */
import type { DestinationRule } from '../config/api-types.ts';
import type { Settings } from '../config/settings-types.ts';
import { resourceKey } from '../config/types.ts';
import * as cond from './conditions.ts';
import type { Condition } from './conditions.ts';
import { parseCredentialName } from './host-match.ts';
import { pushTo } from './multimap.ts';
import { permittedCrossNamespace } from './route-binding.ts';
import type { DestinationRuleModel } from './snapshot.ts';
import type { Topology } from './topology.ts';

export interface DestinationRuleStage {
  readonly destinationRules: Map<string, DestinationRuleModel>;
  readonly drByHost: Map<string, DestinationRuleModel[]>;
  readonly conditions: Map<string, Condition[]>;
}

/** `sorted` oldest first; `secrets` the keys of the Secrets in the configuration. */
export function bindDestinationRules(
  sorted: readonly DestinationRule[],
  secrets: ReadonlySet<string>,
  topology: Topology,
  settings: Settings,
): DestinationRuleStage {
  const conditions = new Map<string, Condition[]>();
  const addCond = (key: string, c: Condition): void => pushTo(conditions, key, c);
  const gatewayPermitted = permittedCrossNamespace(settings);
  const waypointGateways = [...topology.gateways.values()].filter((g) => g.mode === 'waypoint');
  const destinationRules = new Map<string, DestinationRuleModel>();
  const drByHost = new Map<string, DestinationRuleModel[]>();
  for (const dr of sorted) {
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
    pushTo(drByHost, dr.spec.host.toLowerCase(), model);
  }
  return { destinationRules, drByHost, conditions };
}
