/**
 * Layer 4 of seed 000: no hostNetwork pods. A hostNetwork pod uses the node's network namespace, so neither the
 * CNI redirect nor NetworkPolicy applies to it. Pod Security Admission at `baseline` or `restricted` rejects such
 * pods (both levels forbid host namespaces); `privileged`, `warn` and `audit` labels do not.
 */
import type { ClusterModel } from './cluster-model.ts';
import { namespaceRef, refOf } from './cluster-model.ts';
import type { Finding } from './finding.ts';
import { namespaceManifest, yamlFix } from './fix-yaml.ts';
import type { LayerAudit } from './layer-audit.ts';

const PSA_ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';
const BLOCKING_LEVELS = new Set(['baseline', 'restricted']);

function enforcesPodSecurity(labels: Readonly<Record<string, string>>): boolean {
  return BLOCKING_LEVELS.has(labels[PSA_ENFORCE_LABEL] ?? '');
}

export function auditHostNetwork(model: ClusterModel): LayerAudit {
  const findings: Finding[] = [];
  const psaMissing = new Set<string>();
  for (const ns of model.workloadNamespaces) {
    const decl = model.namespaces.get(ns);
    const labels = decl?.metadata.labels ?? {};
    if (enforcesPodSecurity(labels)) continue;
    psaMissing.add(ns);
    const level = labels[PSA_ENFORCE_LABEL];
    const why =
      decl === undefined
        ? `no Namespace manifest for ${ns} is in the configuration, so nothing sets ${PSA_ENFORCE_LABEL}`
        : level === undefined
          ? `namespace ${ns} has no ${PSA_ENFORCE_LABEL} label`
          : `namespace ${ns} enforces Pod Security level "${level}", which admits hostNetwork pods`;
    findings.push({
      code: 'PCL_AUDIT_PSA_MISSING',
      layer: 4,
      severity: 'error',
      resource: namespaceRef(ns),
      message: `${why}: a hostNetwork pod would be admitted and skip both ztunnel and NetworkPolicy`,
      fix: yamlFix([], namespaceManifest(ns, labels, { [PSA_ENFORCE_LABEL]: 'restricted' })),
      location: decl?.source ?? null,
    });
  }
  for (const pod of model.pods) {
    if (!pod.hostNetwork || !model.isWorkloadNamespace(pod.namespace)) continue;
    const name = `${pod.resource.kind} ${pod.namespace}/${pod.resource.metadata.name}`;
    const patch = pod.isTemplate
      ? { spec: { template: { spec: { hostNetwork: false } } } }
      : { spec: { hostNetwork: false } };
    findings.push({
      code: 'PCL_AUDIT_HOST_NETWORK_POD',
      layer: 4,
      severity: 'error',
      resource: refOf(pod.resource),
      message: `${name} runs with hostNetwork: true in workload namespace ${pod.namespace}: it has the node's network and skips ztunnel capture and NetworkPolicy`,
      fix: yamlFix([`Patch for ${name} (a Pod's spec is immutable: delete and re-create it with this change).`], patch),
      location: pod.resource.posOf([...pod.specPath, 'hostNetwork']),
    });
  }
  return {
    findings,
    open: (pod) => model.isWorkloadNamespace(pod.namespace) && (pod.hostNetwork || psaMissing.has(pod.namespace)),
  };
}
