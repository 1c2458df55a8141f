/**
 * Layer 1 of seed 000: capture. Every workload namespace carries `istio.io/dataplane-mode: ambient` (that is what
 * makes the CNI hand its pods' traffic to ztunnel); no workload pod opts out with `none`; and an admission policy
 * enforces the label when a namespace is created. Sidecar-injected namespaces and pods are captured by their
 * sidecar instead, which cannot use ztunnel-native egress at all (seed 000, "Mixed-mode clusters").
 */
import type { ClusterModel, PodSubject } from './cluster-model.ts';
import { DATAPLANE_MODE_LABEL, namespaceRef, refOf } from './cluster-model.ts';
import { settingsLocation } from './unknown-destinations.ts';
import type { Finding } from './finding.ts';
import { commentFix, namespaceManifest, yamlFix } from './fix-yaml.ts';
import { admissionFixDocs, analyzeAdmission } from './admission-policy.ts';
import type { LayerAudit } from './layer-audit.ts';

const SIDECAR_INJECT = 'sidecar.istio.io/inject';

/** A namespace whose pods get sidecars: `istio-injection=enabled`, or a revision label `istio.io/rev`. */
export function isSidecarNamespace(labels: Readonly<Record<string, string>>): boolean {
  if (labels['istio-injection'] === 'disabled') return false;
  return labels['istio-injection'] === 'enabled' || Object.hasOwn(labels, 'istio.io/rev');
}

/** A pod (or template) that asks for a sidecar by label or annotation. */
export function isSidecarPod(pod: PodSubject): boolean {
  return pod.labels[SIDECAR_INJECT] === 'true' || pod.annotations[SIDECAR_INJECT] === 'true';
}

/** Does the pod's traffic reach ztunnel? (pod label over namespace label, sidecars never) */
function capturedByZtunnel(model: ClusterModel, pod: PodSubject): boolean {
  const nsLabels = model.namespaces.get(pod.namespace)?.metadata.labels ?? {};
  if (isSidecarPod(pod)) return false;
  if (
    isSidecarNamespace(nsLabels) &&
    pod.labels[SIDECAR_INJECT] !== 'false' &&
    pod.annotations[SIDECAR_INJECT] !== 'false'
  )
    return false;
  const podMode = pod.labels[DATAPLANE_MODE_LABEL];
  if (podMode !== undefined) return podMode === 'ambient';
  return nsLabels[DATAPLANE_MODE_LABEL] === 'ambient';
}

/**
 * Where to show a missing admission policy: there is no manifest to point at, so point at the ambient label of the
 * first workload Namespace, which is what the policy would make mandatory; else the settings file.
 */
function admissionGapLocation(model: ClusterModel): Finding['location'] {
  for (const ns of model.workloadNamespaces) {
    const decl = model.namespaces.get(ns);
    if (decl?.metadata.labels?.[DATAPLANE_MODE_LABEL] !== undefined)
      return decl.posOf(['metadata', 'labels', DATAPLANE_MODE_LABEL]);
    if (decl !== undefined) return decl.source;
  }
  return settingsLocation(model.settings);
}

export function auditCapture(model: ClusterModel): LayerAudit {
  const findings: Finding[] = [];
  for (const ns of model.workloadNamespaces) {
    const decl = model.namespaces.get(ns);
    const labels = decl?.metadata.labels ?? {};
    if (isSidecarNamespace(labels)) {
      findings.push({
        code: 'PCL_AUDIT_CAPTURE_SIDECAR',
        layer: 1,
        severity: 'info',
        resource: namespaceRef(ns),
        message: `namespace ${ns} uses sidecar injection: its pods cannot use ztunnel-native egress; only the NetworkPolicy fence governs their egress`,
        fix: commentFix(
          `Move namespace ${ns} to ambient mode (label ${DATAPLANE_MODE_LABEL}=ambient, remove istio-injection) or send its egress through a sidecar egress gateway.`,
        ),
        location: decl?.source ?? null,
      });
      continue;
    }
    const mode = labels[DATAPLANE_MODE_LABEL];
    if (mode === 'ambient') continue;
    const why =
      decl === undefined
        ? `no Namespace manifest for ${ns} is in the configuration, so nothing labels it ${DATAPLANE_MODE_LABEL}: ambient`
        : mode === undefined
          ? `namespace ${ns} has no ${DATAPLANE_MODE_LABEL} label`
          : `namespace ${ns} has ${DATAPLANE_MODE_LABEL}: ${mode}, not ambient`;
    findings.push({
      code: 'PCL_AUDIT_CAPTURE_LABEL_MISSING',
      layer: 1,
      severity: 'error',
      resource: namespaceRef(ns),
      message: `${why}: ztunnel never sees its pods, so the egress gateway's policies never apply to them`,
      fix: yamlFix([], namespaceManifest(ns, labels, { [DATAPLANE_MODE_LABEL]: 'ambient' })),
      location: decl?.source ?? null,
    });
  }

  for (const ns of model.workloadNamespaces) {
    const nsSidecar = isSidecarNamespace(model.namespaces.get(ns)?.metadata.labels ?? {});
    for (const pod of model.workloadPods(ns)) {
      const name = `${pod.resource.kind} ${ns}/${pod.resource.metadata.name}`;
      if (pod.labels[DATAPLANE_MODE_LABEL] === 'none') {
        const patch = pod.isTemplate
          ? { spec: { template: { metadata: { labels: { [DATAPLANE_MODE_LABEL]: null } } } } }
          : { metadata: { labels: { [DATAPLANE_MODE_LABEL]: null } } };
        findings.push({
          code: 'PCL_AUDIT_CAPTURE_POD_OPT_OUT',
          layer: 1,
          severity: 'error',
          resource: refOf(pod.resource),
          message: `${name} opts out of ambient capture with ${DATAPLANE_MODE_LABEL}: none: its traffic skips ztunnel and the egress policies`,
          fix: yamlFix(
            [`Strategic merge patch for ${name}: removes the opt-out label (kubectl patch --type strategic).`],
            patch,
          ),
          location: pod.resource.posOf([...pod.metaPath, 'labels', DATAPLANE_MODE_LABEL]),
        });
      } else if (!nsSidecar && isSidecarPod(pod)) {
        findings.push({
          code: 'PCL_AUDIT_CAPTURE_SIDECAR',
          layer: 1,
          severity: 'info',
          resource: refOf(pod.resource),
          message: `${name} asks for a sidecar (${SIDECAR_INJECT}: "true"): it cannot use ztunnel-native egress; only the NetworkPolicy fence governs its egress`,
          fix: commentFix(`Remove ${SIDECAR_INJECT} from ${name} to run it in ambient mode.`),
          location: pod.resource.source,
        });
      }
    }
  }

  if (model.workloadNamespaces.length > 0) {
    const verdicts = analyzeAdmission(model.ignored);
    if (!verdicts.some((v) => v.enforces)) {
      const first = verdicts[0];
      findings.push({
        code: 'PCL_AUDIT_ADMISSION_NOT_ENFORCED',
        layer: 1,
        severity: 'warning',
        resource: first
          ? { kind: first.document.kind, namespace: first.document.namespace, name: first.document.name }
          : { kind: 'ValidatingAdmissionPolicy', namespace: '', name: 'require-ambient-dataplane-mode' },
        message:
          verdicts.length === 0
            ? `no Kyverno ClusterPolicy or ValidatingAdmissionPolicy enforces ${DATAPLANE_MODE_LABEL}: ambient on namespace creation: a new namespace can skip the mesh`
            : `nothing enforces ${DATAPLANE_MODE_LABEL}: ambient on namespace creation: ${verdicts.map((v) => v.reason).join('; ')}`,
        fix: yamlFix(
          ['Kubernetes 1.30+: reject namespaces created without the ambient label (system namespaces exempt).'],
          ...admissionFixDocs(model.settings.systemNamespaces),
        ),
        location: first?.document.source ?? admissionGapLocation(model),
      });
    }
  }

  return {
    findings,
    open: (pod) => model.isWorkloadNamespace(pod.namespace) && !pod.isGateway && !capturedByZtunnel(model, pod),
  };
}
