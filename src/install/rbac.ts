/**
 * Least-privilege RBAC, generated only from the Kubernetes source's table of what it calls (`kube/access.ts`): config
 * kinds cluster-wide (get/list/watch, plus the `/status` verbs where status is written), Secrets only through Roles in
 * the namespaces named, the leader Lease only in the gateway's namespace, and the audit's reads as a separate,
 * optional ClusterRole.
 */
import {
  AUDIT_RESOURCES,
  LEASE_RESOURCE,
  SECRET_RESOURCE,
  SERVE_RESOURCES,
  type KubeResource,
} from '../kube/access.ts';

/** One RBAC PolicyRule. */
export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

/** The rules for `resources`: one per resource, and one per `/status` subresource written. */
function rulesFor(resources: readonly KubeResource[], withStatus = true): PolicyRule[] {
  const rules: PolicyRule[] = [];
  for (const r of resources) {
    rules.push({ apiGroups: [r.group], resources: [r.resource], verbs: [...r.verbs] });
    if (withStatus && r.statusVerbs !== undefined)
      rules.push({ apiGroups: [r.group], resources: [`${r.resource}/status`], verbs: [...r.statusVerbs] });
  }
  return rules;
}

/** What the gateway's ClusterRole allows (the config kinds and the status it writes). */
export function serveClusterRules(): PolicyRule[] {
  return rulesFor(SERVE_RESOURCES);
}

/** What a Role in each Secret namespace allows. */
export function secretRules(): PolicyRule[] {
  return rulesFor([SECRET_RESOURCE]);
}

/** What the Role in the gateway's namespace allows (leader election). */
export function leaseRules(): PolicyRule[] {
  return rulesFor([LEASE_RESOURCE]);
}

/** What `audit --kube` reads: the config kinds as the source reads them (it writes no status) and the audit's kinds. */
export function auditClusterRules(): PolicyRule[] {
  return [...rulesFor(SERVE_RESOURCES, false), ...rulesFor(AUDIT_RESOURCES)];
}
