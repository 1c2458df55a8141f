/**
 * The policy stage of the compile: attach each AuthorizationPolicy by its targetRefs to the Gateway and ServiceEntry
 * layers (seed 000's two layers), with the istiod-style conditions, and compile it for the mode of what it attaches
 * to. Attachments and compiled policies are cached per resource object, so a reload redoes only what changed.
 */
import type { AuthorizationPolicy, GatewayClass, PolicyTargetReference } from '../config/api-types.ts';
import type { Settings } from '../config/settings-types.ts';
import { resourceKey } from '../config/types.ts';
import { compileAuthorizationPolicy, denyAllPolicy, type CompiledPolicy } from '../policy/compile.ts';
import * as cond from './conditions.ts';
import type { Condition } from './conditions.ts';
import { pushTo } from './multimap.ts';
import { resolvePolicyTargets } from './policy-targets.ts';
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
const policyCache = new WeakMap<
  AuthorizationPolicy,
  { mode: 'l4' | 'l7'; trustDomain: string; compiled: CompiledPolicy }
>();
function compiledPolicyFor(ap: AuthorizationPolicy, mode: 'l4' | 'l7', trustDomain: string): CompiledPolicy {
  const hit = policyCache.get(ap);
  if (hit && hit.mode === mode && hit.trustDomain === trustDomain) return hit.compiled;
  const compiled = compileAuthorizationPolicy(ap, mode, { trustDomain });
  policyCache.set(ap, { mode, trustDomain, compiled });
  return compiled;
}

function attachPolicy(
  ap: AuthorizationPolicy,
  topology: Topology,
  settings: Settings,
  settingsKey: string,
): PolicyAttachment {
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
  const classList = topology.inputs[1] as readonly GatewayClass[];
  const { attached, condition } = resolvePolicyTargets(refs, {
    namespace: ns,
    rootNamespace: settings.rootNamespace,
    controllerName: settings.controllerName,
    classModes: settings.gatewayClasses,
    gatewayClass: (name) => classList.find((gc) => gc.metadata.name === name),
    gateway: gatewayByRef,
    serviceEntry: (namespace, name) => serviceEntries.get(resourceKey('ServiceEntry', namespace, name)),
    gatewayByKey: (key) => gateways.get(key),
    gatewaysOfClass: (className) => [...gateways.values()].filter((gw) => gw.className === className),
  });
  conds.push(condition);
  if (attached.length === 0) return done({ key: ap.key, ref, resource: ap, compiled: null, attachedTo: [] }, []);
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
