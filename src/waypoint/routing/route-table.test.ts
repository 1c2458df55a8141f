/** Route matching and precedence, after the Gateway API conformance suite's ideas (header matching, path order, across routes, weights). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HTTPRoute, HTTPRouteSpec } from '../../config/api-types.ts';
import type { ServiceEntryModel } from '../../mesh/snapshot.ts';
import { pickBackend, resolveBackendRef, type HostLookup } from './backend.ts';
import { applyHeaderModifier, rewritePath } from './filters.ts';
import { compileMatch, type RouteRequest } from './match.ts';
import { firstQueryValues, normalizePath, parseTarget, pathHasPrefix, type RequestTarget } from './path.ts';

const splitTarget = (target: string): RequestTarget | null => {
  const r = parseTarget(target);
  return r.ok ? r.target : null;
};
import { buildRouteTable } from './route-table.ts';

function se(host: string, ports = [80]): ServiceEntryModel {
  return {
    key: `ServiceEntry/ns/${host}`,
    namespace: 'ns',
    name: host,
    ref: `ns/${host}`,
    hosts: [host],
    ports: ports.map((n) => ({ number: n, name: `p${n}`, protocol: 'HTTP' })),
  } as unknown as ServiceEntryModel;
}
const HOSTS = new Map(['v1.invalid', 'v2.invalid', 'v3.invalid'].map((h) => [h, se(h)]));
const lookup: HostLookup = (h) => HOSTS.get(h) ?? null;
const to = (host: string, extra: object = {}) => ({
  group: 'networking.istio.io',
  kind: 'Hostname',
  name: host,
  port: 80,
  ...extra,
});

function route(name: string, spec: HTTPRouteSpec, createdAt?: string, ns = 'ns'): HTTPRoute {
  return {
    kind: 'HTTPRoute',
    metadata: {
      namespace: ns,
      name,
      labels: {},
      annotations: {},
      ...(createdAt ? { creationTimestamp: createdAt } : {}),
    },
    spec,
  } as unknown as HTTPRoute;
}

function req(path: string, headers: Record<string, string> = {}, method = 'GET'): RouteRequest {
  const t = splitTarget(path)!;
  return {
    method,
    path: t.path,
    query: firstQueryValues(t.query),
    headers: new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
  };
}

/** The backend host a request is routed to, or 404. */
function routeOf(routes: HTTPRoute[], r: RouteRequest): string {
  const m = buildRouteTable(routes, lookup).match(r);
  if (!m) return '404';
  return m.rule.backends[0].target?.host ?? `invalid: ${m.rule.backends[0].invalid}`;
}

test('header matching (conformance HTTPRouteHeaderMatching): exact values, more headers win, unmatched → 404', () => {
  const r = route('header-matching', {
    rules: [
      { matches: [{ headers: [{ name: 'version', value: 'one' }] }], backendRefs: [to('v1.invalid')] },
      { matches: [{ headers: [{ name: 'version', value: 'two' }] }], backendRefs: [to('v2.invalid')] },
      {
        matches: [
          {
            headers: [
              { name: 'version', value: 'two' },
              { name: 'color', value: 'orange' },
            ],
          },
        ],
        backendRefs: [to('v1.invalid')],
      },
      {
        matches: [{ headers: [{ name: 'color', value: 'blue' }] }, { headers: [{ name: 'color', value: 'green' }] }],
        backendRefs: [to('v1.invalid')],
      },
      {
        matches: [{ headers: [{ name: 'color', value: 'red' }] }, { headers: [{ name: 'color', value: 'yellow' }] }],
        backendRefs: [to('v2.invalid')],
      },
    ],
  });
  const cases: [Record<string, string>, string][] = [
    [{ version: 'one' }, 'v1.invalid'],
    [{ version: 'two' }, 'v2.invalid'],
    [{ version: 'two', color: 'orange' }, 'v1.invalid'],
    [{ version: 'two', color: 'red' }, 'v2.invalid'],
    [{ color: 'blue' }, 'v1.invalid'],
    [{ color: 'green' }, 'v1.invalid'],
    [{ color: 'red' }, 'v2.invalid'],
    [{ color: 'yellow' }, 'v2.invalid'],
    [{ Version: 'one' }, 'v1.invalid'],
    [{}, '404'],
    [{ version: 'three' }, '404'],
    [{ version: 'ONE' }, '404'],
    [{ color: 'purple' }, '404'],
  ];
  for (const [h, want] of cases) assert.equal(routeOf([r], req('/', h)), want, JSON.stringify(h));
});

test('header names are case-insensitive in the route; only the first of duplicate names counts', () => {
  const r = route('dup', {
    rules: [
      {
        matches: [
          {
            headers: [
              { name: 'X-Team', value: 'a' },
              { name: 'x-team', value: 'b' },
            ],
          },
        ],
        backendRefs: [to('v1.invalid')],
      },
    ],
  });
  assert.equal(routeOf([r], req('/', { 'x-team': 'a' })), 'v1.invalid');
  assert.equal(routeOf([r], req('/', { 'x-team': 'b' })), '404');
});

test('the seed-002 principal match routes only the exact SPIFFE ID', () => {
  const r = route('app1', {
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
        backendRefs: [to('v1.invalid')],
      },
    ],
  });
  assert.equal(
    routeOf([r], req('/subject', { '%%source.principal%%': 'spiffe://cluster.local/ns/team-namespace/sa/app1' })),
    'v1.invalid',
  );
  assert.equal(
    routeOf([r], req('/subject', { '%%source.principal%%': 'spiffe://cluster.local/ns/team-namespace/sa/app2' })),
    '404',
  );
});

test('path match order (conformance HTTPRoutePathMatchOrder): Exact, then longest element-wise prefix', () => {
  const r = route('path-order', {
    rules: [
      { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [to('v3.invalid')] },
      { matches: [{ path: { type: 'PathPrefix', value: '/match' } }], backendRefs: [to('v2.invalid')] },
      { matches: [{ path: { type: 'PathPrefix', value: '/match/prefix/' } }], backendRefs: [to('v1.invalid')] },
      { matches: [{ path: { type: 'Exact', value: '/match/exact/one' } }], backendRefs: [to('v1.invalid')] },
      { matches: [{ path: { type: 'PathPrefix', value: '/match/exact' } }], backendRefs: [to('v3.invalid')] },
    ],
  });
  const cases: [string, string][] = [
    ['/match/exact/one', 'v1.invalid'],
    ['/match/exact/one/', 'v3.invalid'],
    ['/match/exact/two', 'v3.invalid'],
    ['/match/prefix/one', 'v1.invalid'],
    ['/match/prefix', 'v1.invalid'],
    ['/match/prefixed', 'v2.invalid'],
    ['/match', 'v2.invalid'],
    ['/matchX', 'v3.invalid'],
    ['/other?q=1', 'v3.invalid'],
    ['/match/x/../exact/one', 'v1.invalid'],
  ];
  for (const [p, want] of cases) assert.equal(routeOf([r], req(p)), want, p);
});

test('precedence across routes: prefix length > method > headers > query > oldest > namespace/name > rule order', () => {
  const longPrefix = route('a-long', {
    rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/p/q' } }], backendRefs: [to('v1.invalid')] }],
  });
  const method = route('b-method', {
    rules: [
      { matches: [{ path: { type: 'PathPrefix', value: '/p' }, method: 'GET' }], backendRefs: [to('v2.invalid')] },
    ],
  });
  const headers = route('c-headers', {
    rules: [
      {
        matches: [
          {
            path: { type: 'PathPrefix', value: '/p' },
            headers: [
              { name: 'a', value: '1' },
              { name: 'b', value: '2' },
            ],
          },
        ],
        backendRefs: [to('v3.invalid')],
      },
    ],
  });
  const all = [headers, method, longPrefix];
  assert.equal(routeOf(all, req('/p/q/r', { a: '1', b: '2' })), 'v1.invalid', 'longest prefix first');
  assert.equal(routeOf(all, req('/p/x', { a: '1', b: '2' })), 'v2.invalid', 'a method match beats header matches');
  assert.equal(routeOf(all, req('/p/x', { a: '1', b: '2' }, 'POST')), 'v3.invalid');

  const oneHeader = route('d', {
    rules: [{ matches: [{ headers: [{ name: 'a', value: '1' }] }], backendRefs: [to('v1.invalid')] }],
  });
  const twoQuery = route('e', {
    rules: [
      {
        matches: [
          {
            queryParams: [
              { name: 'x', value: '1' },
              { name: 'y', value: '2' },
            ],
          },
        ],
        backendRefs: [to('v2.invalid')],
      },
    ],
  });
  assert.equal(
    routeOf([twoQuery, oneHeader], req('/?x=1&y=2', { a: '1' })),
    'v1.invalid',
    'headers before query params',
  );
  assert.equal(routeOf([twoQuery, oneHeader], req('/?x=1&y=2')), 'v2.invalid');
  assert.equal(routeOf([twoQuery, oneHeader], req('/?x=1&y=3')), '404');

  const same = (name: string, host: string, at?: string, ns = 'ns') =>
    route(
      name,
      { rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/same' } }], backendRefs: [to(host)] }] },
      at,
      ns,
    );
  assert.equal(
    routeOf(
      [same('z-old', 'v1.invalid', '2024-01-01T00:00:00Z'), same('a-new', 'v2.invalid', '2025-01-01T00:00:00Z')],
      req('/same'),
    ),
    'v1.invalid',
    'the oldest route wins',
  );
  assert.equal(
    routeOf(
      [same('b', 'v1.invalid', '2024-01-01T00:00:00Z'), same('a', 'v2.invalid', '2024-01-01T00:00:00Z')],
      req('/same'),
    ),
    'v2.invalid',
    'then namespace/name alphabetically',
  );
  assert.equal(
    routeOf(
      [same('a', 'v1.invalid', '2024-01-01T00:00:00Z', 'zz'), same('z', 'v2.invalid', '2024-01-01T00:00:00Z', 'aa')],
      req('/same'),
    ),
    'v2.invalid',
    'the namespace sorts before the name',
  );
  const twoRules = route('rules', {
    rules: [
      { matches: [{ path: { type: 'PathPrefix', value: '/same' } }], backendRefs: [to('v3.invalid')] },
      { matches: [{ path: { type: 'PathPrefix', value: '/same' } }], backendRefs: [to('v1.invalid')] },
    ],
  });
  assert.equal(routeOf([twoRules], req('/same')), 'v3.invalid', 'then the first rule');
});

test('query parameters, methods and regular expressions', () => {
  const r = route('misc', {
    rules: [
      { matches: [{ queryParams: [{ name: 'animal', value: 'whale' }] }], backendRefs: [to('v1.invalid')] },
      { matches: [{ path: { type: 'RegularExpression', value: '/v[0-9]+/items' } }], backendRefs: [to('v2.invalid')] },
      {
        matches: [{ headers: [{ type: 'RegularExpression', name: 'x-env', value: 'prod|staging' }], method: 'DELETE' }],
        backendRefs: [to('v3.invalid')],
      },
    ],
  });
  assert.equal(routeOf([r], req('/?animal=whale')), 'v1.invalid');
  assert.equal(routeOf([r], req('/?animal=dolphin&animal=whale')), '404', 'only the first value counts');
  assert.equal(routeOf([r], req('/v12/items')), 'v2.invalid');
  assert.equal(routeOf([r], req('/v12/items/x')), '404', 'regular expressions match the whole path');
  assert.equal(routeOf([r], req('/', { 'x-env': 'staging' }, 'DELETE')), 'v3.invalid');
  assert.equal(routeOf([r], req('/', { 'x-env': 'prod-eu' }, 'DELETE')), '404');
  assert.equal(routeOf([r], req('/', { 'x-env': 'prod' }, 'GET')), '404');
});

test('a rule without matches matches every path; an invalid regex is reported and never matches', () => {
  const t = buildRouteTable(
    [
      route('bad', {
        rules: [{ matches: [{ path: { type: 'RegularExpression', value: '(' } }], backendRefs: [to('v1.invalid')] }],
      }),
      route('catch-all', { rules: [{ backendRefs: [to('v2.invalid')] }] }),
    ],
    lookup,
  );
  assert.equal(t.errors.length, 1);
  assert.match(t.errors[0], /ns\/bad rules\[0\]\.matches\[0\]/);
  assert.equal(t.match(req('/anything'))?.rule.route, 'ns/catch-all');
});

test('backendRefs: Hostname needs a port and no namespace, the host must be declared, the port too', () => {
  assert.equal(
    resolveBackendRef(to('v1.invalid', { namespace: 'x' }), 'ns', lookup).invalid,
    'namespace may not be set with Hostname type',
  );
  assert.equal(
    resolveBackendRef({ group: 'networking.istio.io', kind: 'Hostname', name: 'v1.invalid' }, 'ns', lookup).invalid,
    'port is required in backendRef',
  );
  assert.match(resolveBackendRef(to('nope.invalid'), 'ns', lookup).invalid!, /backend\(nope\.invalid\) not found/);
  assert.match(resolveBackendRef(to('v1.invalid', { port: 443 }), 'ns', lookup).invalid!, /port 443 is not declared/);
  assert.match(
    resolveBackendRef({ group: 'x.io', kind: 'Thing', name: 'a', port: 1 }, 'ns', lookup).invalid!,
    /unsupported backendRef: group "x.io" kind "Thing"/,
  );
  const ok = resolveBackendRef(to('V1.invalid'), 'ns', lookup);
  assert.equal(ok.target?.host, 'v1.invalid');
  assert.equal(ok.target?.port.number, 80);
});

test('weights are proportional; weight 0 never gets traffic; all zero → no backend', () => {
  const rule = buildRouteTable(
    [
      route('w', {
        rules: [
          {
            backendRefs: [
              to('v1.invalid', { weight: 1 }),
              to('v2.invalid', { weight: 3 }),
              to('v3.invalid', { weight: 0 }),
            ],
          },
        ],
      }),
    ],
    lookup,
  ).entries[0].rule;
  const counts = new Map<string, number>();
  for (let i = 0; i < 1000; i++) {
    const b = pickBackend(rule.backends, i / 1000)!;
    counts.set(b.target!.host, (counts.get(b.target!.host) ?? 0) + 1);
  }
  assert.deepEqual(Object.fromEntries(counts), { 'v1.invalid': 250, 'v2.invalid': 750 });
  const zero = buildRouteTable([route('z', { rules: [{ backendRefs: [to('v1.invalid', { weight: 0 })] }] })], lookup)
    .entries[0].rule;
  assert.equal(pickBackend(zero.backends, 0.5), null);
  assert.equal(pickBackend([], 0.5), null);
});

test('filters: header modifier (remove, set, add) and the URLRewrite path table of the Gateway API', () => {
  const out = applyHeaderModifier(
    [
      ['X-A', '1'],
      ['x-a', '2'],
      ['X-Gone', 'x'],
      ['Keep', 'k'],
    ],
    { set: [{ name: 'x-a', value: 'set' }], add: [{ name: 'X-Added', value: 'y' }], remove: ['x-gone'] },
  );
  assert.deepEqual(out, [
    ['Keep', 'k'],
    ['x-a', 'set'],
    ['X-Added', 'y'],
  ]);
  const prefix = (p: string) => compileMatch({ path: { type: 'PathPrefix', value: p } });
  const rp = (path: string, p: string, to: string) =>
    rewritePath(path, prefix(p), { type: 'ReplacePrefixMatch', replacePrefixMatch: to });
  assert.equal(rp('/foo/bar', '/foo', '/xyz'), '/xyz/bar');
  assert.equal(rp('/foo/bar', '/foo', '/xyz/'), '/xyz/bar');
  assert.equal(rp('/foo/bar', '/foo/', '/xyz'), '/xyz/bar');
  assert.equal(rp('/foo/', '/foo', '/xyz'), '/xyz/');
  assert.equal(rp('/foo', '/foo', '/xyz'), '/xyz');
  assert.equal(rp('/foo/', '/foo', '/'), '/');
  assert.equal(rp('/foo', '/foo', '/'), '/');
  assert.equal(rp('/foo/bar', '/foo', '/'), '/bar');
  assert.equal(rp('/x', '/', '/api'), '/api/x');
  assert.equal(rewritePath('/a/b', prefix('/a'), { type: 'ReplaceFullPath', replaceFullPath: '/full' }), '/full');
});

test('paths: dot segments removed, element-wise prefixes, query split off', () => {
  assert.equal(normalizePath('/a/./b/../c'), '/a/c');
  assert.equal(normalizePath('/a/..'), '/');
  assert.equal(normalizePath('/../../etc'), '/etc');
  assert.equal(pathHasPrefix('/abc', '/abc'), true);
  assert.equal(pathHasPrefix('/abc/def', '/abc'), true);
  assert.equal(pathHasPrefix('/abcd', '/abc'), false);
  assert.deepEqual(splitTarget('/x?y=1#f'), { path: '/x', query: 'y=1' });
  assert.equal(splitTarget('*'), null);
  assert.equal(splitTarget('x/y'), null);
});
