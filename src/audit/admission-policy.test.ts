/** Reading Kyverno ClusterPolicies and ValidatingAdmissionPolicies for what they enforce, not by name. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfigTexts } from '../config/load.ts';
import { analyzeAdmission, celRequiresAmbient } from './admission-policy.ts';

function verdicts(yaml: string) {
  return analyzeAdmission(loadConfigTexts([{ path: 'adm.yaml', text: yaml }]).ignored);
}

const kyverno = (action: string, pattern = 'istio.io/dataplane-mode: ambient', kinds = '[Namespace]', extra = '') => `
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-ambient}
spec:
  ${action}
  rules:
  - name: ns
    match:
      any:
      - resources:
          kinds: ${kinds}
          ${extra}
    validate:
      pattern:
        metadata:
          labels:
            ${pattern}
`;

test('Kyverno: Enforce with a pattern requiring the label enforces', () => {
  const [v] = verdicts(kyverno('validationFailureAction: Enforce'));
  assert.equal(v.enforces, true, v.reason);
});

test('Kyverno: the default (Audit), an optional anchor, a wildcard value, or another kind do not', () => {
  for (const [yaml, why] of [
    [kyverno(''), /Audit mode/],
    [kyverno('validationFailureAction: Audit'), /Audit mode/],
    [kyverno('validationFailureAction: Enforce', '=(istio.io/dataplane-mode): ambient'), /no validate rule/],
    [kyverno('validationFailureAction: Enforce', 'istio.io/dataplane-mode: "?*"'), /no validate rule/],
    [kyverno('validationFailureAction: Enforce', 'istio.io/dataplane-mode: ambient', '[Pod]'), /no validate rule/],
    [
      kyverno(
        'validationFailureAction: Enforce',
        'istio.io/dataplane-mode: ambient',
        '[Namespace]',
        'operations: [DELETE]',
      ),
      /no validate rule/,
    ],
    [
      kyverno(
        'validationFailureAction: Enforce',
        'istio.io/dataplane-mode: ambient',
        '[Namespace]',
        'names: [bookinfo]',
      ),
      /no validate rule/,
    ],
  ] as const) {
    const [v] = verdicts(yaml);
    assert.equal(v.enforces, false, yaml);
    assert.match(v.reason, why);
  }
});

test('Kyverno: rule-level validate.failureAction overrides the policy-wide action', () => {
  const yaml = kyverno('validationFailureAction: Audit').replace(
    '    validate:\n',
    '    validate:\n      failureAction: Enforce\n',
  );
  assert.equal(verdicts(yaml)[0].enforces, true);
});

const VAP = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: ambient-ns}
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE]
      resources: [namespaces]
  validations:
  - expression: "has(object.metadata.labels) && 'istio.io/dataplane-mode' in object.metadata.labels && object.metadata.labels['istio.io/dataplane-mode'] == 'ambient'"
---
`;
const binding = (actions: string, policy = 'ambient-ns') => `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: ambient-ns-binding}
spec:
  policyName: ${policy}
  validationActions: ${actions}
`;

test('ValidatingAdmissionPolicy: effective only with a binding that Denies', () => {
  assert.equal(verdicts(VAP + binding('[Deny]'))[0].enforces, true);
  assert.match(verdicts(VAP)[0].reason, /no ValidatingAdmissionPolicyBinding/);
  assert.match(verdicts(VAP + binding('[Warn, Audit]'))[0].reason, /without validationActions: \[Deny\]/);
  assert.match(verdicts(VAP + binding('[Deny]', 'other'))[0].reason, /no ValidatingAdmissionPolicyBinding/);
  assert.equal(
    verdicts(VAP.replace('resources: [namespaces]', 'resources: [pods]') + binding('[Deny]'))[0].enforces,
    false,
  );
});

test('CEL: what counts as requiring the label', () => {
  assert.equal(celRequiresAmbient(`object.metadata.labels['istio.io/dataplane-mode'] == 'ambient'`), true);
  assert.equal(celRequiresAmbient(`object.metadata.labels[?'istio.io/dataplane-mode'].orValue('') == "ambient"`), true);
  assert.equal(celRequiresAmbient(`object.metadata.labels['istio.io/dataplane-mode'] != 'ambient'`), false);
  assert.equal(celRequiresAmbient(`!(object.metadata.labels['istio.io/dataplane-mode'] == 'ambient')`), false);
  assert.equal(celRequiresAmbient(`'istio.io/dataplane-mode' in object.metadata.labels`), false);
});
