/** Test-only helpers: load inline YAML (and settings) into a snapshot, a cluster model, or an audit report. */
import { loadConfigTexts } from '../../src/config/load.ts';
import { compileSnapshot } from '../../src/mesh/compile.ts';
import type { Snapshot } from '../../src/mesh/snapshot.ts';
import { runAudit, type AuditReport } from '../../src/audit/audit.ts';
import { buildClusterModel, type ClusterModel } from '../../src/audit/cluster-model.ts';
import type { Finding } from '../../src/audit/finding.ts';

/** Settings that close layers 3 and 5, so a test sees only the layer it is about. */
export const CLOSED_SETTINGS = `
egressPolicies:
- matchCidrs: [0.0.0.0/0, "::/0"]
  policy: Deny
egressGateway:
  defaultDeny: true
perimeter:
  podCidrs: [10.244.0.0/16]
  podEgressDropped: true
  snatAddresses: [192.0.2.10/32]
`;

export function snapshotOf(manifests: string, settings: string | null = CLOSED_SETTINGS): Snapshot {
  const load = loadConfigTexts([{ path: 'test.yaml', text: manifests }], {
    settings: settings === null ? null : { path: 'portcullis.yaml', text: settings },
  });
  return compileSnapshot(load);
}

export function modelOf(manifests: string, settings: string | null = CLOSED_SETTINGS): ClusterModel {
  return buildClusterModel(snapshotOf(manifests, settings));
}

export function auditOf(manifests: string, settings: string | null = CLOSED_SETTINGS): AuditReport {
  return runAudit(snapshotOf(manifests, settings));
}

/** `CODE Kind/namespace/name` per finding, for compact assertions. */
export function codes(findings: readonly Finding[]): string[] {
  return findings.map((f) => `${f.code} ${f.resource.kind}/${f.resource.namespace}/${f.resource.name}`);
}

/** A namespace with both layer-1 and layer-4 labels. */
export function goodNamespace(name: string): string {
  return `
apiVersion: v1
kind: Namespace
metadata:
  name: ${name}
  labels: {istio.io/dataplane-mode: ambient, pod-security.kubernetes.io/enforce: restricted}
---
`;
}

export const SEED_FENCE = (ns: string): string => `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: workload-egress, namespace: ${ns}}
spec:
  podSelector:
    matchExpressions: [{key: gateway.networking.k8s.io/gateway-name, operator: DoesNotExist}]
  policyTypes: [Egress]
  egress:
  - ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
  - to: [{podSelector: {}}]
---
`;

export function pod(
  ns: string,
  name: string,
  labels: Record<string, string> = {},
  spec = 'containers: [{name: c, image: busybox}]',
): string {
  return `
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${ns}
  labels: ${JSON.stringify(labels)}
spec:
  ${spec}
---
`;
}
