/** Layer 1: namespace labels, pod opt-outs, sidecars, and the admission finding. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { auditOf, codes, goodNamespace, pod, SEED_FENCE } from '../../test/support/audit-fixtures.ts';

const KYVERNO = `
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-ambient}
spec:
  validationFailureAction: Enforce
  rules:
  - name: ns
    match: {any: [{resources: {kinds: [Namespace]}}]}
    validate: {pattern: {metadata: {labels: {istio.io/dataplane-mode: ambient}}}}
---
`;

function layer1(manifests: string) {
  return auditOf(KYVERNO + manifests).findings.filter((f) => f.layer === 1);
}

test('a labelled namespace with ordinary pods is clean', () => {
  assert.deepEqual(codes(layer1(goodNamespace('app') + SEED_FENCE('app') + pod('app', 'web'))), []);
});

test('missing, wrong or undeclared namespace label is an error on the Namespace', () => {
  const unlabelled = `apiVersion: v1\nkind: Namespace\nmetadata: {name: app, labels: {pod-security.kubernetes.io/enforce: restricted}}\n---\n`;
  const f = layer1(unlabelled + pod('app', 'web'));
  assert.deepEqual(codes(f), ['PCL_AUDIT_CAPTURE_LABEL_MISSING Namespace//app']);
  assert.equal(f[0].severity, 'error');
  assert.match(f[0].fix, /istio\.io\/dataplane-mode: ambient/);
  assert.match(f[0].fix, /pod-security\.kubernetes\.io\/enforce: restricted/, 'keeps the existing labels');
  assert.deepEqual(codes(layer1(unlabelled.replace('{pod-security', '{istio.io/dataplane-mode: none, pod-security'))), [
    'PCL_AUDIT_CAPTURE_LABEL_MISSING Namespace//app',
  ]);
  const undeclared = layer1(pod('other', 'web'));
  assert.deepEqual(codes(undeclared), ['PCL_AUDIT_CAPTURE_LABEL_MISSING Namespace//other']);
  assert.match(undeclared[0].message, /no Namespace manifest/);
});

test('system and gateway namespaces are not workload namespaces', () => {
  assert.deepEqual(codes(layer1(pod('kube-system', 'coredns'))), []);
});

test('a pod opting out with dataplane-mode none is an error; a gateway pod may', () => {
  const f = layer1(
    goodNamespace('app') +
      pod('app', 'rogue', { 'istio.io/dataplane-mode': 'none' }) +
      pod('app', 'gw', { 'istio.io/dataplane-mode': 'none', 'gateway.networking.k8s.io/gateway-name': 'waypoint' }),
  );
  assert.deepEqual(codes(f), ['PCL_AUDIT_CAPTURE_POD_OPT_OUT Pod/app/rogue']);
  assert.match(f[0].fix, /istio\.io\/dataplane-mode: null/);
});

test('sidecar namespaces and pods are reported as info, not errors', () => {
  const sidecarNs = `apiVersion: v1\nkind: Namespace\nmetadata: {name: legacy, labels: {istio-injection: enabled, pod-security.kubernetes.io/enforce: baseline}}\n---\n`;
  const f = layer1(
    sidecarNs + pod('legacy', 'old') + goodNamespace('app') + pod('app', 'web', { 'sidecar.istio.io/inject': 'true' }),
  );
  assert.deepEqual(codes(f).sort(), [
    'PCL_AUDIT_CAPTURE_SIDECAR Namespace//legacy',
    'PCL_AUDIT_CAPTURE_SIDECAR Pod/app/web',
  ]);
  assert.ok(f.every((x) => x.severity === 'info'));
});

test('no admission policy: one warning with a ValidatingAdmissionPolicy and Deny binding as the fix', () => {
  const f = auditOf(goodNamespace('app')).findings.filter((x) => x.code === 'PCL_AUDIT_ADMISSION_NOT_ENFORCED');
  assert.equal(f.length, 1);
  assert.equal(f[0].severity, 'warning');
  assert.match(f[0].fix, /kind: ValidatingAdmissionPolicyBinding[\s\S]*- Deny/);
});

test('an Audit-mode Kyverno policy is named in the finding', () => {
  const f = auditOf(KYVERNO.replace('Enforce', 'Audit') + goodNamespace('app')).findings.filter(
    (x) => x.code === 'PCL_AUDIT_ADMISSION_NOT_ENFORCED',
  );
  assert.deepEqual(codes(f), ['PCL_AUDIT_ADMISSION_NOT_ENFORCED ClusterPolicy//require-ambient']);
  assert.match(f[0].message, /Audit mode/);
  assert.equal(f[0].location?.line, 2);
});
