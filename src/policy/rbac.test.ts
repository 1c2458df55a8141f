/** ztunnel's src/rbac.rs and src/state.rs unit tests (`mod tests`), expressed as AuthorizationPolicies. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthorizationPolicySpec, AuthzRule } from '../config/api-types.ts';
import { compileAuthorizationPolicy, type EnforcementMode } from './compile.ts';
import { decideLayer, type LayerInput } from './engine.ts';
import type { AuthzRequest } from './request.ts';
import { authzPolicy, PLAINTEXT_CONN, TLS_CONN, TLS_CONN_ALT } from '../../test/support/policy-fixtures.ts';

const MODES: readonly EnforcementMode[] = ['l4', 'l7'];

/** Whether a single-policy ALLOW matches: with one enforced ALLOW, the layer allows exactly when it matches. */
function allowMatches(rules: AuthzRule[] | undefined, req: AuthzRequest, mode: EnforcementMode): boolean {
  const spec: AuthorizationPolicySpec = { action: 'ALLOW' };
  if (rules !== undefined) spec.rules = rules;
  const p = compileAuthorizationPolicy(authzPolicy('ns1', 'p', spec), mode);
  return decideLayer({ layer: 'gateway', target: 'Gateway ns1/gw', policies: [p] }, req).decision === 'allow';
}

// rbac_empty_policy: [[[RbacMatch{}]]] → false; [[[]]] → true; [[]] → true; [] → false (plaintext conn).
const EMPTY_POLICY_CASES: { name: string; rules: AuthzRule[] | undefined; want: boolean }[] = [
  {
    name: '[[[RbacMatch{}]]]: a source with no fields is an empty Match, skipped',
    rules: [{ from: [{ source: {} }] }],
    want: false,
  },
  { name: '[[[RbacMatch{}]]]: a from entry with no source', rules: [{ from: [{}] }], want: false },
  { name: '[[[]]]: a clause with no matches (from: [])', rules: [{ from: [] }], want: true },
  { name: '[[]]: a rule with no clauses (rules: [{}])', rules: [{}], want: true },
  { name: '[]: no rules (rules: [])', rules: [], want: false },
  { name: '[]: rules absent', rules: undefined, want: false },
];
for (const mode of MODES) {
  for (const c of EMPTY_POLICY_CASES) {
    test(`rbac_empty_policy [${mode}] ${c.name}`, () => {
      assert.equal(allowMatches(c.rules, PLAINTEXT_CONN, mode), c.want);
    });
  }
}

test('rbac_nesting: clause1 = ns a OR ns b, clause2 = port 80', () => {
  const rules: AuthzRule[] = [
    {
      from: [{ source: { namespaces: ['a'] } }, { source: { namespaces: ['b'] } }],
      to: [{ operation: { ports: ['80'] } }],
    },
  ];
  const conn = (ns: string, port: number, dst = '127.0.0.2'): AuthzRequest => ({
    principal: `spiffe://td/ns/${ns}/sa/account`,
    sourceIp: '127.0.0.1',
    destinationIp: dst,
    destinationPort: port,
  });
  for (const mode of MODES) {
    assert.equal(allowMatches(rules, conn('a', 80), mode), true, 'ns a:80');
    assert.equal(allowMatches(rules, conn('b', 80), mode), true, 'ns b:80');
    // ztunnel's "dst_network remote" case: nothing about the destination beyond the port is consulted.
    assert.equal(allowMatches(rules, conn('b', 80, '10.99.0.1'), mode), true, 'ns b:80, other destination');
    assert.equal(allowMatches(rules, conn('bad', 80), mode), false, 'ns bad');
    assert.equal(allowMatches(rules, conn('b', 12345), mode), false, 'ns b port 12345');
  }
});

test('rbac_multi_rule: two rules [ns a], [ns b] are ORed', () => {
  const rules: AuthzRule[] = [
    { from: [{ source: { namespaces: ['a'] } }] },
    { from: [{ source: { namespaces: ['b'] } }] },
  ];
  const conn = (ns: string): AuthzRequest => ({ ...TLS_CONN, principal: `spiffe://td/ns/${ns}/sa/account` });
  for (const mode of MODES) {
    assert.equal(allowMatches(rules, conn('a'), mode), true);
    assert.equal(allowMatches(rules, conn('b'), mode), true);
    assert.equal(allowMatches(rules, conn('bad'), mode), false);
  }
});

// rbac_test! table: a single-rule ALLOW with one field; expected result for plaintext, tls, tls_alt.
const FIELD_CASES: { name: string; rule: AuthzRule; want: [boolean, boolean, boolean] }[] = [
  { name: 'namespaces', rule: { from: [{ source: { namespaces: ['namespace'] } }] }, want: [false, true, false] },
  { name: 'not_namespaces', rule: { from: [{ source: { notNamespaces: ['namespace'] } }] }, want: [true, false, true] },
  {
    name: 'service_accounts',
    rule: { from: [{ source: { serviceAccounts: ['namespace/account'] } }] },
    want: [false, true, false],
  },
  {
    name: 'not_service_accounts',
    rule: { from: [{ source: { notServiceAccounts: ['namespace/account'] } }] },
    want: [true, false, true],
  },
  {
    name: 'principals',
    rule: { from: [{ source: { principals: ['td/ns/namespace/sa/account'] } }] },
    want: [false, true, false],
  },
  {
    name: 'not_principals',
    rule: { from: [{ source: { notPrincipals: ['td/ns/namespace/sa/account'] } }] },
    want: [true, false, true],
  },
  { name: 'source_ips', rule: { from: [{ source: { ipBlocks: ['127.0.0.1/32'] } }] }, want: [true, true, false] },
  {
    name: 'not_source_ips',
    rule: { from: [{ source: { notIpBlocks: ['127.0.0.1/32'] } }] },
    want: [false, false, true],
  },
  {
    name: 'source_ips (when source.ip)',
    rule: { when: [{ key: 'source.ip', values: ['127.0.0.1/32'] }] },
    want: [true, true, false],
  },
  {
    name: 'not_source_ips (when source.ip)',
    rule: { when: [{ key: 'source.ip', notValues: ['127.0.0.1/32'] }] },
    want: [false, false, true],
  },
  {
    name: 'destination_ips',
    rule: { when: [{ key: 'destination.ip', values: ['127.0.0.2/32'] }] },
    want: [true, true, false],
  },
  {
    name: 'not_destination_ips',
    rule: { when: [{ key: 'destination.ip', notValues: ['127.0.0.2/32'] }] },
    want: [false, false, true],
  },
  {
    name: 'cidr_range',
    rule: { when: [{ key: 'destination.ip', values: ['127.0.0.1/24'] }] },
    want: [true, true, true],
  },
  { name: 'destination_ports', rule: { to: [{ operation: { ports: ['8080'] } }] }, want: [true, true, false] },
  { name: 'not_destination_ports', rule: { to: [{ operation: { notPorts: ['8080'] } }] }, want: [false, false, true] },
  {
    name: 'destination_ports (when destination.port)',
    rule: { when: [{ key: 'destination.port', values: ['8080'] }] },
    want: [true, true, false],
  },
  {
    name: 'not_destination_ports (when destination.port)',
    rule: { when: [{ key: 'destination.port', notValues: ['8080'] }] },
    want: [false, false, true],
  },
  {
    name: 'namespaces (when source.namespace)',
    rule: { when: [{ key: 'source.namespace', values: ['namespace'] }] },
    want: [false, true, false],
  },
  {
    name: 'not_namespaces (when source.namespace)',
    rule: { when: [{ key: 'source.namespace', notValues: ['namespace'] }] },
    want: [true, false, true],
  },
  {
    name: 'principals (when source.principal)',
    rule: { when: [{ key: 'source.principal', values: ['td/ns/namespace/sa/account'] }] },
    want: [false, true, false],
  },
  {
    name: 'not_principals (when source.principal)',
    rule: { when: [{ key: 'source.principal', notValues: ['td/ns/namespace/sa/account'] }] },
    want: [true, false, true],
  },
];
const CONNS: [string, AuthzRequest][] = [
  ['plaintext', PLAINTEXT_CONN],
  ['tls', TLS_CONN],
  ['tls_alt', TLS_CONN_ALT],
];
for (const mode of MODES) {
  for (const c of FIELD_CASES) {
    test(`rbac ${c.name} [${mode}]`, () => {
      CONNS.forEach(([connName, conn], i) => {
        assert.equal(allowMatches([c.rule], conn, mode), c.want[i], `${c.name} on ${connName}`);
      });
    });
  }
}

// ---- src/state.rs ----
const deny = (name: string, principal: string, annotations: Record<string, string> = {}) =>
  authzPolicy(
    'ns1',
    name,
    { action: 'DENY', rules: [{ from: [{ source: { principals: [principal] } }] }] },
    annotations,
  );
const allow = (name: string, principal: string, annotations: Record<string, string> = {}) =>
  authzPolicy(
    'ns1',
    name,
    { action: 'ALLOW', rules: [{ from: [{ source: { principals: [principal] } }] }] },
    annotations,
  );
const DRY = { 'istio.io/dry-run': 'true' };
const who = (sa: string): AuthzRequest => ({
  ...PLAINTEXT_CONN,
  principal: `spiffe://cluster.local/ns/default/sa/${sa}`,
});

test('assert_rbac_logic_deny_allow: dry-run wildcards have no effect; DENY before ALLOW', () => {
  const policies = [
    authzPolicy('ns1', 'dry-run-allow-all', { action: 'ALLOW', rules: [{}] }, DRY),
    authzPolicy('ns1', 'dry-run-deny-all', { action: 'DENY', rules: [{}] }, DRY),
    allow('foo', 'cluster.local/ns/default/sa/defaultacct'),
    deny('deny', 'cluster.local/ns/default/sa/denyacct'),
  ].map((p) => compileAuthorizationPolicy(p, 'l4'));
  const layer: LayerInput = { layer: 'serviceentry', target: 'ServiceEntry ns1/se', policies };

  // Workload 2: another target with no policies at all.
  const other = decideLayer({ layer: 'serviceentry', target: 'ServiceEntry ns2/se', policies: [] }, who('defaultacct'));
  assert.equal(other.decision, 'allow');
  assert.equal(other.reason, 'no allow policies, allow');
  assert.equal(other.code, 'PCL_AUTHZ_ALLOWED_NO_POLICIES');

  const ok = decideLayer(layer, who('defaultacct'));
  assert.equal(ok.decision, 'allow');
  assert.equal(ok.code, 'PCL_AUTHZ_ALLOWED_BY_POLICY');
  assert.equal(ok.policy, 'ns1/foo');
  assert.equal(ok.rule, 0);

  const notAllowed = decideLayer(layer, who('not-defaultacct'));
  assert.equal(notAllowed.decision, 'deny');
  assert.equal(notAllowed.code, 'PCL_AUTHZ_DENIED_NOT_ALLOWED');
  assert.equal(notAllowed.reason, 'allow policies exist, but none allowed');
  assert.equal(notAllowed.policy, null);

  const denied = decideLayer(layer, who('denyacct'));
  assert.equal(denied.decision, 'deny');
  assert.equal(denied.code, 'PCL_AUTHZ_DENIED_EXPLICIT');
  assert.equal(denied.reason, 'explicitly denied by: ns1/deny');
  assert.equal(denied.policy, 'ns1/deny');
  assert.equal(denied.rule, 0);
  // The dry-run wildcard DENY matched and was recorded, but did not decide.
  assert.ok(
    denied.dryRun.some(
      (d) => d.policy === 'ns1/dry-run-deny-all' && d.matched && d.message === 'dry-run: deny policy match',
    ),
  );
});

test('assert_rbac_with_dest_workload_info: no policies → allow', () => {
  const r = decideLayer({ layer: 'gateway', target: 'Gateway ns1/gw', policies: [] }, TLS_CONN);
  assert.equal(r.decision, 'allow');
  assert.equal(r.policy, null);
  assert.deepEqual(r.dryRun, []);
});

test('assert_rbac_dry_run_with_real_policies: real decision unchanged, dry-run matches recorded', () => {
  const policies = [
    deny('deny', 'cluster.local/ns/default/sa/denyacct'),
    authzPolicy(
      'ns1',
      'dry-run-deny',
      {
        action: 'DENY',
        rules: [
          {
            from: [
              {
                source: {
                  principals: ['cluster.local/ns/default/sa/defaultacct', 'cluster.local/ns/default/sa/denyacct'],
                },
              },
            ],
          },
        ],
      },
      DRY,
    ),
    allow('allow', 'cluster.local/ns/default/sa/defaultacct'),
    allow('dry-run-allow', 'cluster.local/ns/default/sa/defaultacct', DRY),
  ].map((p) => compileAuthorizationPolicy(p, 'l4'));
  const r = decideLayer({ layer: 'serviceentry', target: 'ServiceEntry ns1/se', policies }, who('defaultacct'));
  assert.equal(r.decision, 'allow');
  assert.equal(r.policy, 'ns1/allow');
  assert.deepEqual(r.dryRun, [
    { policy: 'ns1/dry-run-deny', action: 'DENY', matched: true, message: 'dry-run: deny policy match' },
    { policy: 'ns1/dry-run-allow', action: 'ALLOW', matched: true, message: 'dry-run: allow policy match' },
  ]);
});

test('dry-run ALLOW alone does not count as an ALLOW policy; a non-matching one is recorded', () => {
  const p = compileAuthorizationPolicy(allow('dry-run-allow', 'cluster.local/ns/default/sa/other', DRY), 'l4');
  const r = decideLayer({ layer: 'gateway', target: 'Gateway ns1/gw', policies: [p] }, who('defaultacct'));
  assert.equal(r.decision, 'allow');
  assert.equal(r.code, 'PCL_AUTHZ_ALLOWED_NO_POLICIES');
  assert.deepEqual(r.dryRun, [
    { policy: 'ns1/dry-run-allow', action: 'ALLOW', matched: false, message: 'dry-run: allow policy did not match' },
  ]);
});

test('dry-run annotation follows Go ParseBool; unparsable values enforce the policy', () => {
  const mk = (v: string) =>
    compileAuthorizationPolicy(
      authzPolicy('ns1', 'p', { action: 'DENY', rules: [{}] }, { 'istio.io/dry-run': v }),
      'l4',
    );
  for (const v of ['true', 'True', 'TRUE', 't', 'T', '1']) assert.equal(mk(v).dryRun, true, v);
  for (const v of ['false', '0', 'f', 'yes', '']) assert.equal(mk(v).dryRun, false, v);
});
