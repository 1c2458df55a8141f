/** AuthorizationPolicy rules: cases in the spirit of Istio's TestValidateAuthorizationPolicy table. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { authorizationPolicyRule } from './authorization-policy.ts';
import { runRules } from '../../../test/support/fake-rule-context.ts';

function policy(spec: unknown, namespace = 'foo'): Record<string, unknown> {
  return { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'p', namespace }, spec };
}

function run(spec: unknown, namespace?: string) {
  return runRules([authorizationPolicyRule], policy(spec, namespace));
}

interface Rejecting {
  readonly name: string;
  readonly spec: unknown;
  readonly code: string;
  readonly path: string;
  readonly message: string;
}

const gatewayRef = { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'egress' };
const from = (source: unknown) => ({ rules: [{ from: [{ source }] }] });
const to = (operation: unknown) => ({ rules: [{ to: [{ operation }] }] });
const when = (condition: unknown) => ({ rules: [{ when: [condition] }] });

const rejecting: readonly Rejecting[] = [
  {
    name: 'selector and targetRefs together',
    spec: { selector: { matchLabels: { app: 'a' } }, targetRefs: [gatewayRef] },
    code: 'PCL_VALIDATION_SELECTOR',
    path: 'spec',
    message: 'only one of targetRefs or selector can be set',
  },
  {
    name: 'targetRef and targetRefs together',
    spec: { targetRef: gatewayRef, targetRefs: [gatewayRef] },
    code: 'PCL_VALIDATION_SELECTOR',
    path: 'spec',
    message: 'only one of targetRefs or selector can be set',
  },
  {
    name: 'wildcard selector value',
    spec: { selector: { matchLabels: { app: 'a*' } } },
    code: 'PCL_VALIDATION_SELECTOR',
    path: 'spec.selector.matchLabels.app',
    message: 'wildcard not allowed in label value match',
  },
  {
    name: 'wildcard selector key',
    spec: { selector: { matchLabels: { 'a*': 'b' } } },
    code: 'PCL_VALIDATION_SELECTOR',
    path: 'spec.selector.matchLabels',
    message: 'wildcard not allowed in label key match',
  },
  {
    name: 'empty selector key',
    spec: { selector: { matchLabels: { '': 'b' } } },
    code: 'PCL_VALIDATION_SELECTOR',
    path: 'spec.selector.matchLabels',
    message: 'key must not be empty',
  },
  {
    name: 'targetRef to an HTTPRoute',
    spec: { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'r' }] },
    code: 'PCL_VALIDATION_TARGET_REF',
    path: 'spec.targetRefs[0]',
    message:
      'targetRef must be to one of [core/Service networking.istio.io/ServiceEntry gateway.networking.k8s.io/Gateway gateway.networking.k8s.io/GatewayClass] but was gateway.networking.k8s.io/HTTPRoute',
  },
  {
    name: 'targetRef to a Gateway in the wrong group',
    spec: { targetRefs: [{ group: 'networking.istio.io', kind: 'Gateway', name: 'g' }] },
    code: 'PCL_VALIDATION_TARGET_REF',
    path: 'spec.targetRefs[0]',
    message: 'targetRef must be to one of',
  },
  {
    name: 'targetRef across namespaces',
    spec: { targetRefs: [{ ...gatewayRef, namespace: 'other' }] },
    code: 'PCL_VALIDATION_TARGET_REF',
    path: 'spec.targetRefs[0].namespace',
    message: 'targetRef namespace must not be set; cross namespace referencing is not supported',
  },
  {
    name: 'targetRef without name',
    spec: { targetRef: { group: 'networking.istio.io', kind: 'ServiceEntry', name: '' } },
    code: 'PCL_VALIDATION_TARGET_REF',
    path: 'spec.targetRef.name',
    message: 'targetRef name must be set',
  },
  {
    name: 'DENY without rules',
    spec: { action: 'DENY' },
    code: 'PCL_VALIDATION_AUTHZ_ACTION',
    path: 'spec.rules',
    message: 'DENY action without `rules` is meaningless',
  },
  {
    name: 'CUSTOM without rules',
    spec: { action: 'CUSTOM', provider: { name: 'ext' } },
    code: 'PCL_VALIDATION_AUTHZ_ACTION',
    path: 'spec.rules',
    message: 'CUSTOM action without `rules` is meaningless',
  },
  {
    name: 'CUSTOM without provider name',
    spec: { action: 'CUSTOM', rules: [{}] },
    code: 'PCL_VALIDATION_AUTHZ_ACTION',
    path: 'spec.provider.name',
    message: '`provider.name` must not be empty',
  },
  {
    name: 'provider with ALLOW',
    spec: { provider: { name: 'ext' }, rules: [{}] },
    code: 'PCL_VALIDATION_AUTHZ_ACTION',
    path: 'spec.provider',
    message: '`provider` must not be with non CUSTOM action, found ALLOW',
  },
  {
    name: 'CUSTOM with principals',
    spec: { action: 'CUSTOM', provider: { name: 'ext' }, ...from({ principals: ['a'] }) },
    code: 'PCL_VALIDATION_AUTHZ_ACTION',
    path: 'spec.rules[0].from[0].source.principals',
    message: 'principals is currently not supported with CUSTOM action',
  },
  {
    name: 'CUSTOM with request.auth claims',
    spec: { action: 'CUSTOM', provider: { name: 'ext' }, ...when({ key: 'request.auth.claims[iss]', values: ['x'] }) },
    code: 'PCL_VALIDATION_AUTHZ_ACTION',
    path: 'spec.rules[0].when[0].key',
    message: 'request.auth.claims[iss] is currently not supported with CUSTOM action',
  },
  {
    name: 'explicitly empty from',
    spec: { rules: [{ from: [] }] },
    code: 'PCL_VALIDATION_AUTHZ_RULE',
    path: 'spec.rules[0].from',
    message: '`from` must not be empty, found at rule 0',
  },
  {
    name: 'from without source',
    spec: { rules: [{ from: [{}] }] },
    code: 'PCL_VALIDATION_AUTHZ_RULE',
    path: 'spec.rules[0].from[0].source',
    message: '`from.source` must not be nil, found at rule 0',
  },
  {
    name: 'empty source',
    spec: from({}),
    code: 'PCL_VALIDATION_AUTHZ_RULE',
    path: 'spec.rules[0].from[0].source',
    message: '`from.source` must not be empty, found at rule 0',
  },
  {
    name: 'explicitly empty to',
    spec: { rules: [{ to: [] }] },
    code: 'PCL_VALIDATION_AUTHZ_RULE',
    path: 'spec.rules[0].to',
    message: '`to` must not be empty, found at rule 0',
  },
  {
    name: 'empty operation',
    spec: to({}),
    code: 'PCL_VALIDATION_AUTHZ_RULE',
    path: 'spec.rules[0].to[0].operation',
    message: '`to.operation` must not be empty, found at rule 0',
  },
  {
    name: 'null rule',
    spec: { rules: [null] },
    code: 'PCL_VALIDATION_AUTHZ_RULE',
    path: 'spec.rules[0]',
    message: '`rule` must not be nil, found at rule 0',
  },
  {
    name: 'serviceAccounts with namespaces',
    spec: from({ serviceAccounts: ['ns/sa'], namespaces: ['ns'] }),
    code: 'PCL_VALIDATION_AUTHZ_RULE',
    path: 'spec.rules[0].from[0].source',
    message: 'Cannot set serviceAccounts with namespaces or principals',
  },
  {
    name: 'notServiceAccounts with notPrincipals',
    spec: from({ notServiceAccounts: ['ns/sa'], notPrincipals: ['p'] }),
    code: 'PCL_VALIDATION_AUTHZ_RULE',
    path: 'spec.rules[0].from[0].source',
    message: 'Cannot set serviceAccounts with namespaces or principals',
  },
  {
    name: 'empty principal',
    spec: from({ principals: ['a', ''] }),
    code: 'PCL_VALIDATION_AUTHZ_VALUE',
    path: 'spec.rules[0].from[0].source.principals[1]',
    message: 'empty value not allowed, found in principals',
  },
  {
    name: 'empty host',
    spec: to({ hosts: [''] }),
    code: 'PCL_VALIDATION_AUTHZ_VALUE',
    path: 'spec.rules[0].to[0].operation.hosts[0]',
    message: 'empty value not allowed, found in hosts',
  },
  {
    name: 'bad ipBlock',
    spec: from({ ipBlocks: ['1.2.3.4.5'] }),
    code: 'PCL_VALIDATION_AUTHZ_VALUE',
    path: 'spec.rules[0].from[0].source.ipBlocks[0]',
    message: 'bad IP address (1.2.3.4.5)',
  },
  {
    name: 'bad remoteIpBlocks CIDR',
    spec: from({ remoteIpBlocks: ['10.0.0.0/33'] }),
    code: 'PCL_VALIDATION_AUTHZ_VALUE',
    path: 'spec.rules[0].from[0].source.remoteIpBlocks[0]',
    message: 'bad CIDR range (10.0.0.0/33)',
  },
  {
    name: 'port above 65535',
    spec: to({ ports: ['65536'] }),
    code: 'PCL_VALIDATION_AUTHZ_VALUE',
    path: 'spec.rules[0].to[0].operation.ports[0]',
    message: 'bad port (65536)',
  },
  {
    name: 'negative notPort',
    spec: to({ notPorts: ['-1'] }),
    code: 'PCL_VALIDATION_AUTHZ_VALUE',
    path: 'spec.rules[0].to[0].operation.notPorts[0]',
    message: 'bad port (-1)',
  },
  {
    name: 'wildcard service account',
    spec: from({ serviceAccounts: ['ns/*'] }),
    code: 'PCL_VALIDATION_AUTHZ_VALUE',
    path: 'spec.rules[0].from[0].source.serviceAccounts[0]',
    message: 'wildcard is not allowed in service account',
  },
  {
    name: 'service account with two slashes',
    spec: from({ serviceAccounts: ['a/b/c'] }),
    code: 'PCL_VALIDATION_AUTHZ_VALUE',
    path: 'spec.rules[0].from[0].source.serviceAccounts[0]',
    message: 'must be in the form <name> or <namespace>/<name>',
  },
  {
    name: 'service account with empty namespace',
    spec: from({ notServiceAccounts: ['/sa'] }),
    code: 'PCL_VALIDATION_AUTHZ_VALUE',
    path: 'spec.rules[0].from[0].source.notServiceAccounts[0]',
    message: 'must have a non-empty namespace and name',
  },
  {
    name: 'trust domain with a middle wildcard',
    spec: from({ trustDomains: ['a*b'] }),
    code: 'PCL_VALIDATION_AUTHZ_VALUE',
    path: 'spec.rules[0].from[0].source.trustDomains[0]',
    message: "may only have '*' at the start or the end",
  },
  {
    name: 'trust domain with a slash',
    spec: from({ notTrustDomains: ['td/x'] }),
    code: 'PCL_VALIDATION_AUTHZ_VALUE',
    path: 'spec.rules[0].from[0].source.notTrustDomains[0]',
    message: "must not contain '/'",
  },
  {
    name: 'trust domain with two wildcards',
    spec: from({ trustDomains: ['*td*'] }),
    code: 'PCL_VALIDATION_AUTHZ_VALUE',
    path: 'spec.rules[0].from[0].source.trustDomains[0]',
    message: "may contain at most one '*'",
  },
  {
    name: 'path template with a named variable',
    spec: to({ paths: ['/{*}/foo/{bar}'] }),
    code: 'PCL_VALIDATION_AUTHZ_VALUE',
    path: 'spec.rules[0].to[0].operation.paths[0]',
    message: 'invalid or unsupported path template, found in paths',
  },
  {
    name: 'path template mixed with a bare wildcard',
    spec: to({ notPaths: ['/{**}/*'] }),
    code: 'PCL_VALIDATION_AUTHZ_VALUE',
    path: 'spec.rules[0].to[0].operation.notPaths[0]',
    message: 'invalid or unsupported path template, found in notPaths',
  },
  {
    name: 'when with empty key',
    spec: when({ key: '', values: ['a'] }),
    code: 'PCL_VALIDATION_AUTHZ_CONDITION',
    path: 'spec.rules[0].when[0].key',
    message: '`key` must not be empty',
  },
  {
    name: 'when without values',
    spec: when({ key: 'source.ip' }),
    code: 'PCL_VALIDATION_AUTHZ_CONDITION',
    path: 'spec.rules[0].when[0]',
    message: 'at least one of `values` or `notValues` must be set for key source.ip',
  },
  {
    name: 'when with unknown key',
    spec: when({ key: 'source.color', values: ['red'] }),
    code: 'PCL_VALIDATION_AUTHZ_CONDITION',
    path: 'spec.rules[0].when[0].key',
    message: 'unknown attribute: source.color',
  },
  {
    name: 'when with destination.namespace',
    spec: when({ key: 'destination.namespace', values: ['ns'] }),
    code: 'PCL_VALIDATION_AUTHZ_CONDITION',
    path: 'spec.rules[0].when[0].key',
    message: 'attribute destination.namespace is replaced by the metadata.namespace',
  },
  {
    name: 'when with destination.labels',
    spec: when({ key: 'destination.labels[app]', values: ['a'] }),
    code: 'PCL_VALIDATION_AUTHZ_CONDITION',
    path: 'spec.rules[0].when[0].key',
    message: 'attribute destination.labels[app] is replaced by the workload selector',
  },
  {
    name: 'when with destination.user',
    spec: when({ key: 'destination.user', values: ['u'] }),
    code: 'PCL_VALIDATION_AUTHZ_CONDITION',
    path: 'spec.rules[0].when[0].key',
    message: 'deprecated attribute destination.user: only supported in v1alpha1',
  },
  {
    name: 'when with a header key lacking a name',
    spec: when({ key: 'request.headers[]', values: ['a'] }),
    code: 'PCL_VALIDATION_AUTHZ_CONDITION',
    path: 'spec.rules[0].when[0].key',
    message: 'bad key (request.headers[]): should have format a[b]',
  },
  {
    name: 'when with a bad source.ip value',
    spec: when({ key: 'source.ip', values: ['1.2.3'] }),
    code: 'PCL_VALIDATION_AUTHZ_CONDITION',
    path: 'spec.rules[0].when[0].values[0]',
    message: 'invalid `value` for `key` source.ip: bad IP address (1.2.3)',
  },
  {
    name: 'when with a bad destination.port notValue',
    spec: when({ key: 'destination.port', notValues: ['http'] }),
    code: 'PCL_VALIDATION_AUTHZ_CONDITION',
    path: 'spec.rules[0].when[0].notValues[0]',
    message: 'invalid `notValue` for `key` destination.port: bad port (http)',
  },
  {
    name: 'when with an empty value',
    spec: when({ key: 'source.namespace', values: [''] }),
    code: 'PCL_VALIDATION_AUTHZ_CONDITION',
    path: 'spec.rules[0].when[0].values[0]',
    message: 'empty value not allowed, found in source.namespace',
  },
];

describe('authorizationPolicyRule rejects', () => {
  for (const c of rejecting) {
    it(c.name, () => {
      const ctx = run(c.spec);
      const match = ctx.errors.find((e) => e.code === c.code && e.path === c.path && e.message.includes(c.message));
      assert.ok(
        match,
        `expected ${c.code} at ${c.path} containing ${JSON.stringify(c.message)}; got ${JSON.stringify(ctx.errors, null, 1)}`,
      );
    });
  }
});

describe('authorizationPolicyRule accepts', () => {
  const accepting: ReadonlyArray<readonly [string, unknown]> = [
    ['the allow-nothing policy', {}],
    ['ALLOW with rules: [] (deny-all)', { targetRefs: [gatewayRef], action: 'ALLOW', rules: [] }],
    ['DENY with an empty rule', { action: 'DENY', rules: [{}] }],
    ['DENY with an explicit empty list (the webhook only rejects an absent one)', { action: 'DENY', rules: [] }],
    [
      'CUSTOM with a provider',
      { action: 'CUSTOM', provider: { name: 'ext' }, rules: [{ to: [{ operation: { paths: ['/admin'] } }] }] },
    ],
    [
      'targetRef to a ServiceEntry',
      { targetRefs: [{ group: 'networking.istio.io', kind: 'ServiceEntry', name: 'se' }] },
    ],
    ['targetRef to a core Service with group ""', { targetRefs: [{ group: '', kind: 'Service', name: 's' }] }],
    ['targetRef to a Service with group core', { targetRef: { group: 'core', kind: 'Service', name: 's' } }],
    [
      'serviceAccounts, principals and namespaces in separate sources',
      {
        rules: [
          {
            from: [
              { source: { serviceAccounts: ['ns/sa', 'sa'] } },
              { source: { principals: ['p'] } },
              { source: { namespaces: ['n'] } },
            ],
          },
        ],
      },
    ],
    ['IPv6 ipBlocks', from({ ipBlocks: ['2001:db8::1', '2001:db8::/32'] })],
    ['port 0 (Istio allows 0-65535)', to({ ports: ['0', '65535'] })],
    ['path templates', to({ paths: ['/path/{*}', '/{**}/end', '/a/{*}/b/{**}'] })],
    ['trust domain prefix and suffix wildcards', from({ trustDomains: ['*.local', 'cluster*', '*'] })],
    ['nested claims', when({ key: 'request.auth.claims[a][b]', values: ['x'] })],
    ['source.serviceAccount condition', when({ key: 'source.serviceAccount', values: ['ns/sa'] })],
    ['DENY with ports', { action: 'DENY', rules: [{ to: [{ operation: { ports: ['80'], paths: ['/x'] } }] }] }],
  ];
  for (const [name, spec] of accepting) {
    it(name, () => {
      const ctx = run(spec);
      assert.deepEqual(ctx.errors, []);
    });
  }
});

describe('authorizationPolicyRule warnings', () => {
  it('warns about a DENY rule with only HTTP attributes, in Istio words', () => {
    const ctx = run({ action: 'DENY', rules: [{ to: [{ operation: { methods: ['GET'] } }] }] });
    assert.deepEqual(ctx.errors, []);
    assert.equal(ctx.warnings.length, 1);
    assert.equal(ctx.warnings[0].code, 'PCL_VALIDATION_HTTP_ONLY_DENY');
    assert.equal(ctx.warnings[0].path, 'spec.rules[0]');
    assert.match(
      ctx.warnings[0].message,
      /^configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the use of only HTTP attributes in a DENY rule; it is recommended to explicitly specify the port$/,
    );
  });

  it('warns about a DENY rule whose source is only requestPrincipals', () => {
    const ctx = run({ action: 'DENY', ...from({ requestPrincipals: ['iss/sub'] }) });
    assert.equal(ctx.warnings[0]?.code, 'PCL_VALIDATION_HTTP_ONLY_DENY');
  });

  it('does not warn when the DENY rule names a TCP source attribute', () => {
    const ctx = run({ action: 'DENY', ...from({ namespaces: ['default'] }) });
    assert.deepEqual(ctx.warnings, []);
  });

  it('does not warn for the same HTTP-only rule in an ALLOW policy', () => {
    const ctx = run({ rules: [{ to: [{ operation: { methods: ['GET'] } }] }] });
    assert.deepEqual(ctx.warnings, []);
  });

  it('warns about a selector without labels', () => {
    const ctx = run({ selector: {} });
    assert.deepEqual(ctx.errors, []);
    assert.equal(ctx.warnings[0]?.code, 'PCL_VALIDATION_EMPTY_SELECTOR');
    assert.equal(ctx.warnings[0]?.message, 'workload selector specified without labels');
  });

  it('warns about a GatewayClass target outside the root namespace, but not inside it', () => {
    const spec = { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'GatewayClass', name: 'istio-waypoint' }] };
    const outside = run(spec, 'team');
    assert.equal(outside.warnings[0]?.code, 'PCL_VALIDATION_AUTHZ_SCOPE');
    assert.match(outside.warnings[0]?.message ?? '', /root namespace `istio-system`/);
    assert.deepEqual(run(spec, 'istio-system').findings, []);
  });
});
