/**
 * Test-only helpers: minimal AuthorizationPolicy resources, ztunnel's rbac.rs connection fixtures, YAML loading, and
 * the typo a new user makes in a DENY policy.
 */
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { AuthorizationPolicy, AuthorizationPolicySpec } from '../../src/config/api-types.ts';
import type { SourcePos } from '../../src/config/types.ts';
import type { AuthzRequest } from '../../src/policy/request.ts';

/** Build a minimal AuthorizationPolicy resource, as the config loader would after validation. */
export function authzPolicy(
  namespace: string,
  name: string,
  spec: AuthorizationPolicySpec,
  annotations: Record<string, string> = {},
): AuthorizationPolicy {
  const source: SourcePos = { file: 'test.yaml', line: 1, column: 1 };
  return {
    kind: 'AuthorizationPolicy',
    apiVersion: 'security.istio.io/v1',
    metadata: { name, namespace, labels: {}, annotations },
    spec,
    raw: { spec },
    source,
    posOf: () => source,
    key: `AuthorizationPolicy/${namespace}/${name}`,
  };
}

/** Load every AuthorizationPolicy in a YAML file into minimal resources. */
export function loadPoliciesFromYaml(file: string): AuthorizationPolicy[] {
  const out: AuthorizationPolicy[] = [];
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const obj = doc.toJS() as {
      kind?: string;
      metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> };
      spec?: AuthorizationPolicySpec;
    } | null;
    if (obj === null || obj.kind !== 'AuthorizationPolicy' || obj.metadata?.name === undefined) continue;
    out.push(
      authzPolicy(
        obj.metadata.namespace ?? 'default',
        obj.metadata.name,
        obj.spec ?? {},
        obj.metadata.annotations ?? {},
      ),
    );
  }
  return out;
}

// ztunnel src/rbac.rs test fixtures (`mod tests`).
/** `plaintext_conn`: 127.0.0.1:1234 → 127.0.0.2:8080, no identity. */
export const PLAINTEXT_CONN: AuthzRequest = {
  principal: null,
  sourceIp: '127.0.0.1',
  destinationIp: '127.0.0.2',
  destinationPort: 8080,
};
/** `tls_conn`: the same addresses, identity spiffe://td/ns/namespace/sa/account. */
export const TLS_CONN: AuthzRequest = { ...PLAINTEXT_CONN, principal: 'spiffe://td/ns/namespace/sa/account' };
/** `tls_conn_alt`: 127.0.0.3:1234 → 127.0.0.4:9090, identity spiffe://td-alt/ns/ns-alt/sa/sa-alt. */
export const TLS_CONN_ALT: AuthzRequest = {
  principal: 'spiffe://td-alt/ns/ns-alt/sa/sa-alt',
  sourceIp: '127.0.0.3',
  destinationIp: '127.0.0.4',
  destinationPort: 9090,
};

/**
 * A DENY policy for bookinfo-reviews on seed 000's egress Gateway with `principals` misspelt `principles`: refused by
 * validation, so it must fail closed (deny the layer) instead of disappearing and letting reviews out.
 */
export const DENY_REVIEWS_TYPO = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-reviews-egress, namespace: istio-system}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: ztunnel-egress}]
  action: DENY
  rules:
    - from:
        - source:
            principles: ["cluster.local/ns/bookinfo/sa/bookinfo-reviews"]
`;
