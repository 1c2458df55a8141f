/** Layer 4: Pod Security enforcement on workload namespaces, and hostNetwork pods and templates. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { auditOf, codes, goodNamespace, pod } from '../../test/support/audit-fixtures.ts';

const layer4 = (m: string) => auditOf(m).findings.filter((f) => f.layer === 4);

test('baseline and restricted enforce; privileged, warn-only and none do not', () => {
  const ns = (name: string, labels: string) =>
    `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${name}, labels: {istio.io/dataplane-mode: ambient${labels}}}\n---\n`;
  const f = layer4(
    ns('a', ', pod-security.kubernetes.io/enforce: baseline') +
      ns('b', ', pod-security.kubernetes.io/enforce: restricted') +
      ns('c', ', pod-security.kubernetes.io/enforce: privileged') +
      ns('d', ', pod-security.kubernetes.io/warn: restricted') +
      ns('e', ''),
  );
  assert.deepEqual(codes(f), [
    'PCL_AUDIT_PSA_MISSING Namespace//c',
    'PCL_AUDIT_PSA_MISSING Namespace//d',
    'PCL_AUDIT_PSA_MISSING Namespace//e',
  ]);
  assert.match(f[0].message, /"privileged", which admits hostNetwork pods/);
  assert.match(f[0].fix, /pod-security\.kubernetes\.io\/enforce: restricted/);
});

test('hostNetwork pods and templates in workload namespaces are errors, located at the field', () => {
  const deployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: agent, namespace: app}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      hostNetwork: true
      containers: [{name: c, image: busybox}]
---
`;
  const text =
    goodNamespace('app') +
    deployment +
    pod('app', 'raw', {}, 'hostNetwork: true\n  containers: [{name: c, image: busybox}]') +
    pod('kube-system', 'sys', {}, 'hostNetwork: true');
  const f = layer4(text);
  assert.deepEqual(codes(f), [
    'PCL_AUDIT_HOST_NETWORK_POD Deployment/app/agent',
    'PCL_AUDIT_HOST_NETWORK_POD Pod/app/raw',
  ]);
  const lines = text.split('\n');
  assert.match(lines[f[0].location!.line - 1], /^\s+hostNetwork: true$/, 'the hostNetwork line of the template');
  assert.match(lines[f[1].location!.line - 1], /^\s+hostNetwork: true$/, 'the hostNetwork line of the pod');
  assert.match(f[0].fix, /template:\n\s+spec:\n\s+hostNetwork: false/);
});
