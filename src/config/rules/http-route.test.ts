/** HTTPRoute CEL rules and Istio's backendRef/parentRef checks. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { httpRouteRule } from './http-route.ts';
import { runRules } from '../../../test/support/fake-rule-context.ts';

function run(spec: unknown) {
  const doc = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'r', namespace: 'ns' },
    spec,
  };
  return runRules([httpRouteRule], doc);
}
const seParent = { group: 'networking.istio.io', kind: 'ServiceEntry', name: 'se' };
const svc = { name: 'svc', port: 80 };
const route = (rule: Record<string, unknown>) => ({ parentRefs: [seParent], rules: [rule] });
const pathMatch = (type: string, value: string) => ({ matches: [{ path: { type, value } }], backendRefs: [svc] });

describe('httpRouteRule rejects', () => {
  const cases: ReadonlyArray<{ name: string; spec: unknown; code: string; path: string; message: string }> = [
    {
      name: 'relative Exact path',
      spec: route(pathMatch('Exact', 'api')),
      code: 'PCL_VALIDATION_HTTP_ROUTE_MATCH',
      path: 'spec.rules[0].matches[0].path',
      message: "value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']",
    },
    {
      name: 'PathPrefix with //',
      spec: route(pathMatch('PathPrefix', '/a//b')),
      code: 'PCL_VALIDATION_HTTP_ROUTE_MATCH',
      path: 'spec.rules[0].matches[0].path',
      message: "must not contain '//'",
    },
    {
      name: 'PathPrefix ending in /..',
      spec: route(pathMatch('PathPrefix', '/a/..')),
      code: 'PCL_VALIDATION_HTTP_ROUTE_MATCH',
      path: 'spec.rules[0].matches[0].path',
      message: "must not end with '/..'",
    },
    {
      name: 'path with %2F',
      spec: route(pathMatch('Exact', '/a%2Fb')),
      code: 'PCL_VALIDATION_HTTP_ROUTE_MATCH',
      path: 'spec.rules[0].matches[0].path',
      message: "must not contain '%2F'",
    },
    {
      name: 'path with a space',
      spec: route(pathMatch('Exact', '/a b')),
      code: 'PCL_VALIDATION_HTTP_ROUTE_MATCH',
      path: 'spec.rules[0].matches[0].path',
      message: 'must only contain valid characters',
    },
    {
      name: 'RequestRedirect with URLRewrite',
      spec: route({
        filters: [
          { type: 'RequestRedirect', requestRedirect: { hostname: 'a' } },
          { type: 'URLRewrite', urlRewrite: { hostname: 'b' } },
        ],
      }),
      code: 'PCL_VALIDATION_HTTP_ROUTE_FILTER',
      path: 'spec.rules[0].filters',
      message: 'May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both',
    },
    {
      name: 'RequestRedirect with backendRefs',
      spec: route({ filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https' } }], backendRefs: [svc] }),
      code: 'PCL_VALIDATION_HTTP_ROUTE_FILTER',
      path: 'spec.rules[0]',
      message: 'RequestRedirect filter must not be used together with backendRefs',
    },
    {
      name: 'filter type without its field',
      spec: route({ filters: [{ type: 'RequestHeaderModifier' }], backendRefs: [svc] }),
      code: 'PCL_VALIDATION_HTTP_ROUTE_FILTER',
      path: 'spec.rules[0].filters[0]',
      message: 'filter.requestHeaderModifier must be specified for RequestHeaderModifier filter.type',
    },
    {
      name: 'field of another filter type',
      spec: route({
        filters: [{ type: 'URLRewrite', urlRewrite: {}, requestMirror: { backendRef: svc } }],
        backendRefs: [svc],
      }),
      code: 'PCL_VALIDATION_HTTP_ROUTE_FILTER',
      path: 'spec.rules[0].filters[0]',
      message: 'filter.requestMirror must be nil if the filter.type is not RequestMirror',
    },
    {
      name: 'repeated header modifier in a backendRef',
      spec: route({
        backendRefs: [
          {
            ...svc,
            filters: [
              { type: 'RequestHeaderModifier', requestHeaderModifier: {} },
              { type: 'RequestHeaderModifier', requestHeaderModifier: {} },
            ],
          },
        ],
      }),
      code: 'PCL_VALIDATION_HTTP_ROUTE_FILTER',
      path: 'spec.rules[0].backendRefs[0].filters',
      message: 'RequestHeaderModifier filter cannot be repeated',
    },
    {
      name: 'ReplacePrefixMatch with an Exact match',
      spec: route({
        matches: [{ path: { type: 'Exact', value: '/a' } }],
        filters: [
          { type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/b' } } },
        ],
        backendRefs: [svc],
      }),
      code: 'PCL_VALIDATION_HTTP_ROUTE_RULE',
      path: 'spec.rules[0]',
      message:
        'When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified',
    },
    {
      name: 'ReplaceFullPath type without the field',
      spec: route({
        filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplaceFullPath' } } }],
        backendRefs: [svc],
      }),
      code: 'PCL_VALIDATION_HTTP_ROUTE_FILTER',
      path: 'spec.rules[0].filters[0].urlRewrite.path',
      message: "replaceFullPath must be specified when type is set to 'ReplaceFullPath'",
    },
    {
      name: 'CORS * with other origins',
      spec: route({ filters: [{ type: 'CORS', cors: { allowOrigins: ['*', 'https://a.com'] } }], backendRefs: [svc] }),
      code: 'PCL_VALIDATION_HTTP_ROUTE_FILTER',
      path: 'spec.rules[0].filters[0].cors.allowOrigins',
      message: "AllowOrigins cannot contain '*' alongside other origins",
    },
    {
      name: 'mirror fraction above 1',
      spec: route({
        filters: [
          { type: 'RequestMirror', requestMirror: { backendRef: svc, fraction: { numerator: 3, denominator: 2 } } },
        ],
        backendRefs: [svc],
      }),
      code: 'PCL_VALIDATION_HTTP_ROUTE_FILTER',
      path: 'spec.rules[0].filters[0].requestMirror.fraction',
      message: 'numerator must be less than or equal to denominator',
    },
    {
      name: 'Service backend without port',
      spec: route({ backendRefs: [{ name: 'svc' }] }),
      code: 'PCL_VALIDATION_HTTP_ROUTE_BACKEND_REF',
      path: 'spec.rules[0].backendRefs[0]',
      message: 'Must have port for Service reference',
    },
    {
      name: 'Hostname backend with a namespace',
      spec: route({
        backendRefs: [{ group: 'networking.istio.io', kind: 'Hostname', name: 'a.invalid', namespace: 'x', port: 443 }],
      }),
      code: 'PCL_VALIDATION_HTTP_ROUTE_BACKEND_REF',
      path: 'spec.rules[0].backendRefs[0].namespace',
      message: 'namespace may not be set with Hostname type',
    },
    {
      name: 'Hostname backend without port',
      spec: route({ backendRefs: [{ group: 'networking.istio.io', kind: 'Hostname', name: 'a.invalid' }] }),
      code: 'PCL_VALIDATION_HTTP_ROUTE_BACKEND_REF',
      path: 'spec.rules[0].backendRefs[0]',
      message: 'port is required in backendRef',
    },
    {
      name: 'unsupported backend kind',
      spec: route({ backendRefs: [{ group: 'example.com', kind: 'Bucket', name: 'b', port: 1 }] }),
      code: 'PCL_VALIDATION_HTTP_ROUTE_BACKEND_REF',
      path: 'spec.rules[0].backendRefs[0]',
      message: 'referencing unsupported backendRef: group "example.com" kind "Bucket"',
    },
    {
      name: 'backendRequest longer than request',
      spec: route({ backendRefs: [svc], timeouts: { request: '10s', backendRequest: '20s' } }),
      code: 'PCL_VALIDATION_HTTP_ROUTE_RULE',
      path: 'spec.rules[0].timeouts',
      message: 'backendRequest timeout cannot be longer than request timeout',
    },
    {
      name: 'same parent twice without sectionName',
      spec: { parentRefs: [seParent, seParent], rules: [{ backendRefs: [svc] }] },
      code: 'PCL_VALIDATION_HTTP_ROUTE_PARENT_REF',
      path: 'spec.parentRefs',
      message: 'sectionName must be unique when parentRefs includes 2 or more references to the same parent',
    },
    {
      name: 'same parent with and without sectionName',
      spec: { parentRefs: [{ name: 'g' }, { name: 'g', sectionName: 'http' }], rules: [{ backendRefs: [svc] }] },
      code: 'PCL_VALIDATION_HTTP_ROUTE_PARENT_REF',
      path: 'spec.parentRefs',
      message: 'sectionName must be specified when parentRefs includes 2 or more references to the same parent',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const ctx = run(c.spec);
      assert.ok(
        ctx.errors.some((e) => e.code === c.code && e.path === c.path && e.message.includes(c.message)),
        JSON.stringify(ctx.errors, null, 1),
      );
    });
  }

  it('rejects more than 128 matches in total', () => {
    const matches = Array.from({ length: 60 }, (_, i) => ({ path: { type: 'Exact', value: `/p${i}` } }));
    const ctx = run({ rules: [{ matches }, { matches }, { matches: matches.slice(0, 9) }] });
    assert.equal(ctx.errors[0]?.path, 'spec.rules');
    assert.match(
      ctx.errors[0]?.message ?? '',
      /the total number of matches across all rules in a route must be less than 128/,
    );
    assert.deepEqual(run({ rules: [{ matches }, { matches }, { matches: matches.slice(0, 8) }] }).errors, []);
  });
});

describe('httpRouteRule accepts', () => {
  const cases: ReadonlyArray<readonly [string, unknown]> = [
    [
      'the seed 002 route (principal header, Hostname backend)',
      {
        hostnames: ['my-nginx.foo.bar'],
        parentRefs: [{ ...seParent, name: 'nginx-mesh-external-se', namespace: 'istio-egress' }],
        rules: [
          {
            matches: [
              {
                headers: [
                  {
                    type: 'Exact',
                    name: '%%source.principal%%',
                    value: 'spiffe://cluster.local/ns/team-namespace/sa/app1',
                  },
                ],
              },
            ],
            backendRefs: [
              {
                group: 'networking.istio.io',
                kind: 'Hostname',
                name: 'app1.team-namespace.my-nginx.foo.bar.invalid',
                port: 443,
              },
            ],
          },
        ],
      },
    ],
    [
      'a rule without matches using ReplacePrefixMatch (defaults to one PathPrefix /)',
      route({
        filters: [
          { type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v2' } } },
        ],
        backendRefs: [svc],
      }),
    ],
    ['a RegularExpression path with characters Exact would refuse', route(pathMatch('RegularExpression', '^/a b.*'))],
    [
      'a Gateway parent twice with distinct sectionNames',
      {
        parentRefs: [
          { name: 'g', sectionName: 'a' },
          { name: 'g', sectionName: 'b' },
        ],
        rules: [{ backendRefs: [svc] }],
      },
    ],
    [
      'a request timeout of 0s (disabled) with a backend timeout',
      route({ backendRefs: [svc], timeouts: { request: '0s', backendRequest: '5s' } }),
    ],
    [
      'a redirect without backends',
      route({ filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', statusCode: 301 } }] }),
    ],
  ];
  for (const [name, spec] of cases) it(name, () => assert.deepEqual(run(spec).errors, []));

  it('warns, without failing, about a parent kind Istio cannot attach to', () => {
    const ctx = run({
      parentRefs: [{ group: 'example.com', kind: 'Mesh', name: 'm' }],
      rules: [{ backendRefs: [svc] }],
    });
    assert.deepEqual(ctx.errors, []);
    assert.equal(ctx.warnings[0]?.code, 'PCL_VALIDATION_HTTP_ROUTE_PARENT_REF');
    assert.equal(ctx.warnings[0]?.message, 'unsupported parent: group "example.com" kind "Mesh"');
  });
});
