/**
 * Where an AuthorizationPolicy's targetRefs attach, and its `WaypointAccepted` condition, as istiod's
 * `WaypointPolicyStatusCollection` decides them (istio/istio pilot/pkg/serviceregistry/ambient/policies.go): per
 * target a reason and message, flattened into one condition. Portcullis attaches only to what it serves.
 */
import type { GatewayClass, PolicyTargetReference } from '../config/api-types.ts';
import type { GatewayMode } from '../config/settings-types.ts';
import { flattenPolicyBindings, MESH_CONTROLLER, type Condition, type PolicyBindingStatus } from './conditions.ts';
import type { GatewayModel, ServiceEntryModel } from './snapshot.ts';

export interface PolicyTargetContext {
  /** The policy's namespace. */
  readonly namespace: string;
  readonly rootNamespace: string;
  /** Portcullis's own controller name (settings `controllerName`); istiod's waypoint controller is accepted too. */
  readonly controllerName: string;
  /** settings.gatewayClasses. */
  readonly classModes: Readonly<Record<string, GatewayMode>>;
  gatewayClass(name: string): GatewayClass | undefined;
  gateway(namespace: string, name: string): GatewayModel | undefined;
  serviceEntry(namespace: string, name: string): ServiceEntryModel | undefined;
  /** The Gateway a bound ServiceEntry's `waypoint` key names. */
  gatewayByKey(key: string): GatewayModel | undefined;
  gatewaysOfClass(className: string): readonly GatewayModel[];
}

export interface PolicyAttachmentTarget {
  readonly key: string;
  readonly layer: 'gateway' | 'serviceentry';
  readonly mode: GatewayMode | null;
}

export interface PolicyTargetsResult {
  /** The layers Portcullis enforces the policy on. */
  readonly attached: readonly PolicyAttachmentTarget[];
  readonly condition: Condition;
}

export function resolvePolicyTargets(
  refs: readonly PolicyTargetReference[],
  ctx: PolicyTargetContext,
): PolicyTargetsResult {
  const attached: PolicyAttachmentTarget[] = [];
  const bindings: PolicyBindingStatus[] = [];
  for (const t of refs) {
    const namespace = t.namespace || ctx.namespace;
    const key = `${namespace}/${t.name}`;
    const group = t.group ?? '';
    const ancestor = `${t.kind}.${group === '' ? 'core' : group}:${key}`;
    const bind = (reason: string, message: string, bound: boolean): void =>
      void bindings.push({ ancestor, reason, message, bound });
    switch (t.kind) {
      case 'GatewayClass': {
        if (namespace !== ctx.rootNamespace) {
          bind(
            'Invalid',
            `AuthorizationPolicy must be in the root namespace \`${ctx.rootNamespace}\` when referencing a GatewayClass`,
            false,
          );
          break;
        }
        if (ctx.classModes[t.name] === 'egress') {
          // Seed 000 (step 04): "the solo-ztunnel-egress GatewayClass cannot be targeted directly".
          bind(
            'Invalid',
            `the ${t.name} GatewayClass cannot be targeted directly: policies must target the specific Gateway by name ` +
              '(targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: <gateway>}])',
            false,
          );
          break;
        }
        const gc = ctx.gatewayClass(t.name);
        if (gc === undefined) {
          bind('TargetNotFound', 'not bound', false);
        } else if (gc.spec.controllerName !== MESH_CONTROLLER && gc.spec.controllerName !== ctx.controllerName) {
          bind('Invalid', `GatewayClass must use controller name \`${MESH_CONTROLLER}\` for waypoints`, false);
        } else {
          bind('Accepted', `bound to ${gc.metadata.name}`, true);
          for (const gw of ctx.gatewaysOfClass(t.name))
            if (gw.mode) attached.push({ key: gw.key, layer: 'gateway', mode: gw.mode });
        }
        break;
      }
      case 'Gateway': {
        const gw = ctx.gateway(namespace, t.name);
        // istiod binds to a waypoint (a Gateway with status.addresses); Portcullis enforces only on Gateways it serves.
        if (gw !== undefined && (gw.mode !== null || gw.ready)) {
          bind('Accepted', `bound to ${gw.ref}`, true);
          if (gw.mode !== null) attached.push({ key: gw.key, layer: 'gateway', mode: gw.mode });
        } else {
          bind('TargetNotFound', 'not bound', false);
        }
        break;
      }
      case 'ServiceEntry': {
        const se = ctx.serviceEntry(namespace, t.name);
        const gw = se?.waypoint ? ctx.gatewayByKey(se.waypoint) : undefined;
        if (se === undefined) bind('TargetNotFound', `ServiceEntry ${key} was not found`, false);
        else if (gw === undefined) bind('AncestorNotBound', `ServiceEntry ${key} is not bound to a waypoint`, false);
        else {
          bind('Accepted', `bound to ${gw.ref}`, true);
          attached.push({ key: se.key, layer: 'serviceentry', mode: gw.mode });
        }
        break;
      }
      case 'Service':
        // Portcullis reads no Services: as istiod for a Service it cannot find.
        bind('TargetNotFound', `Service ${key} was not found`, false);
        break;
      default:
        bind('unknown', 'not bound', false);
    }
  }
  return { attached, condition: flattenPolicyBindings(bindings) };
}
