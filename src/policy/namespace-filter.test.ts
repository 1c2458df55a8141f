/**
 * The namespace pre-filter only skips policies that cannot match: over many random layers and requests, deciding with
 * it gives exactly the record deciding without it gives (same decision, code, reason, policy, rule, dry-run, audit).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuthzSource, AuthzRule } from '../config/api-types.ts';
import { compileAuthorizationPolicy, type CompiledPolicy } from './compile.ts';
import { decideLayerWith } from './engine.ts';
import { candidates, buildNamespaceIndex, namespaceConstraint } from './namespace-filter.ts';
import { buildRequestFacts } from './request-facts.ts';
import { authzPolicy } from '../../test/support/policy-fixtures.ts';

/** A small deterministic PRNG so a failure is reproducible from its seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

const NAMESPACES = ['a', 'ab', 'team-x', 'team-y', 'b', ''];
const SAS = ['s1', 's2'];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

function source(r: () => number, ns: string): AuthzSource {
  switch (Math.floor(r() * 9)) {
    case 0:
      return { principals: [`cluster.local/ns/${pick(r, NAMESPACES)}/sa/${pick(r, SAS)}`] };
    case 1:
      return { principals: ['cluster.local/ns/team-*', `spiffe://cluster.local/ns/${pick(r, NAMESPACES)}/sa/*`] };
    case 2:
      return { principals: ['*/sa/s1'] };
    case 3:
      return { namespaces: [pick(r, NAMESPACES) || 'a', 'team*'] };
    case 4:
      return { namespaces: ['*'] };
    case 5:
      return { serviceAccounts: [`${pick(r, NAMESPACES) || 'b'}/${pick(r, SAS)}`, pick(r, SAS)] };
    case 6:
      return { notNamespaces: [pick(r, NAMESPACES) || 'a'] };
    case 7:
      return { ipBlocks: ['10.0.0.0/8'], principals: [`cluster.local/ns/${ns}/sa/s2`] };
    default:
      return { notPrincipals: ['cluster.local/ns/a/sa/s1'] };
  }
}

function rule(r: () => number, ns: string): AuthzRule {
  const shape = Math.floor(r() * 5);
  if (shape === 0) return {};
  if (shape === 1) return { to: [{ operation: { ports: ['443'] } }] };
  const from = Array.from({ length: 1 + Math.floor(r() * 2) }, () => ({ source: source(r, ns) }));
  return shape === 2 ? { from, to: [{ operation: { ports: [pick(r, ['443', '80'])] } }] } : { from };
}

function layer(r: () => number): CompiledPolicy[] {
  const n = 9 + Math.floor(r() * 20);
  return Array.from({ length: n }, (_, i) => {
    const ns = pick(r, ['istio-system', 'a', 'team-x']);
    const action = pick(r, ['ALLOW', 'ALLOW', 'ALLOW', 'DENY', 'AUDIT', 'CUSTOM'] as const);
    const rules = Array.from({ length: Math.floor(r() * 3) }, () => rule(r, ns));
    const annotations: Record<string, string> = r() < 0.1 ? { 'istio.io/dry-run': 'true' } : {};
    const spec = action === 'CUSTOM' ? { action, provider: { name: 'x' }, rules } : { action, rules };
    return compileAuthorizationPolicy(authzPolicy(ns, `p${i}`, spec, annotations), 'l4');
  });
}

test('deciding with the namespace pre-filter equals deciding without it (random layers and callers)', () => {
  const r = rng(20261123);
  let skippedSome = 0;
  for (let round = 0; round < 300; round++) {
    const policies = layer(r);
    const input = { layer: 'gateway' as const, target: 'Gateway test/g', policies };
    for (let q = 0; q < 12; q++) {
      const ns = pick(r, NAMESPACES);
      const principal = ns === '' ? null : `spiffe://cluster.local/ns/${ns}/sa/${pick(r, SAS)}`;
      const f = buildRequestFacts({
        principal,
        sourceIp: pick(r, ['10.1.2.3', '192.168.0.1']),
        destinationIp: '240.240.0.1',
        destinationPort: pick(r, [443, 80]),
      });
      const fast = decideLayerWith(input, f, true);
      const slow = decideLayerWith(input, f, false);
      assert.deepEqual(fast, slow, `round ${round} query ${q} namespace "${ns}"`);
      const idx = buildNamespaceIndex(policies.map((p) => (p.dryRun ? null : p.namespaces)));
      if (candidates(idx, principal === null ? null : ns).length < policies.length) skippedSome++;
    }
  }
  assert.ok(skippedSome > 100, `the filter must actually skip policies in this test (${skippedSome} times)`);
});

test('namespace constraints read from principals, namespaces and serviceAccounts', () => {
  const c = (rules: AuthzRule[]) => namespaceConstraint(authzPolicy('home', 'p', { rules }));
  assert.deepEqual(c([{ from: [{ source: { principals: ['cluster.local/ns/a/sa/x', 'spiffe://td/ns/team-*'] } }] }]), {
    any: false,
    exact: ['a'],
    prefixes: ['team-'],
  });
  assert.deepEqual(c([{ from: [{ source: { namespaces: ['b', 'c*'] } }] }]), {
    any: false,
    exact: ['b'],
    prefixes: ['c'],
  });
  assert.deepEqual(c([{ from: [{ source: { serviceAccounts: ['x/sa', 'sa'] } }] }]), {
    any: false,
    exact: ['x', 'home'],
    prefixes: [],
  });
  assert.deepEqual(c([{ from: [{ source: { principals: ['*'] } }] }]), { any: true });
  assert.deepEqual(c([{ from: [{ source: { namespaces: ['*-prod'] } }] }]), { any: true });
  assert.deepEqual(c([{ from: [{ source: { notNamespaces: ['a'] } }] }]), { any: true });
  assert.deepEqual(c([{ to: [{ operation: { ports: ['443'] } }] }]), { any: true });
  assert.deepEqual(c([]), { any: false, exact: [], prefixes: [] });
});
