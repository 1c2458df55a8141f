/**
 * The policy stage of the compile: attach each AuthorizationPolicy by its targetRefs to the Gateway and ServiceEntry
 * layers (seed 000's two layers), with the istiod-style conditions, and compile it for the mode of what it attaches
 * to. Attachments and compiled policies are cached per resource object, so a reload redoes only what changed.
 */
import type { AuthorizationPolicy, PolicyTargetReference } from '../config/api-types.ts';
import type { GatewayMode, Settings } from '../config/settings-types.ts';
import { resourceKey } from '../config/types.ts';
import { compileAuthorizationPolicy, denyAllPolicy, type CompiledPolicy } from '../policy/compile.ts';
import * as cond from './conditions.ts';
import type { Condition } from './conditions.ts';
import { pushTo } from './multimap.ts';
import type { PolicyModel } from './snapshot.ts';
import type { Topology } from './topology.ts';

const DRY_RUN_NOTE = 'istio.io/dry-run';

/** What the policy stage hands the snapshot: each layer's policies, the models and their conditions. */
export interface PolicyStage {
  readonly gatewayPolicies: Map<string, CompiledPolicy[]>;
  readonly sePolicies: Map<string, CompiledPolicy[]>;
  readonly policies: Map<string, PolicyModel>;
  readonly conditions: Map<string, Condition[]>;
}

/** Attach `sorted` (oldest first) to the topology's layers, then put the settings' default-deny first on egress gateways. */
export function attachPolicies(
  sorted: readonly AuthorizationPolicy[],
  topology: Topology,
  settings: Settings,
  settingsKey: string,
): PolicyStage {
  const gatewayPolicies = new Map<string, CompiledPolicy[]>();
  const sePolicies = new Map<string, CompiledPolicy[]>();
  const policies = new Map<string, PolicyModel>();
  const conditions = new Map<string, Condition[]>();
  for (const ap of sorted) {
    // A policy's attachment depends only on it, the settings and the topology: reuse it while all three are the same.
    let att = attachmentCache.get(ap);
    if (att === undefined || att.topology !== topology || att.settingsKey !== settingsKey) {
      att = attachPolicy(ap, topology, settings, settingsKey);
      attachmentCache.set(ap, att);
    }
    policies.set(ap.key, att.model);
    if (att.conditions.length > 0) conditions.set(ap.key, att.conditions as Condition[]);
    const compiled = att.model.compiled;
    if (compiled === null) continue;
    for (const t of att.targets) pushTo(t.layer === 'gateway' ? gatewayPolicies : sePolicies, t.key, compiled);
  }

  // The settings' default-deny stands in for the chart's ALLOW policy with `rules: []` (seed 000, step 02).
  if (settings.egressGateway.defaultDeny) {
    for (const gw of topology.gateways.values()) {
      if (gw.mode !== 'egress') continue;
      const list = gatewayPolicies.get(gw.key) ?? [];
      list.unshift(denyAllPolicy({ namespace: gw.namespace, name: 'egressGateway.defaultDeny' }, 'l4'));
      gatewayPolicies.set(gw.key, list);
    }
  }
  return { gatewayPolicies, sePolicies, policies, conditions };
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

function attachPolicy(ap: AuthorizationPolicy, topology: Topology, settings: Settings, settingsKey: string): PolicyAttachment {
  const { gateways, serviceEntries } = topology;
  const gatewayByRef = (ns: string, name: string) => gateways.get(resourceKey('Gateway', ns, name));
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
