/**
 * A conservative pre-filter over the policies of one layer: from a policy's spec, the namespaces a caller must be in
 * for the policy to possibly match. A layer with many policies indexes them by that, and a decision only evaluates
 * the policies a caller's namespace can reach (in their original order), so a gateway with hundreds of per-team
 * policies decides in a few microseconds. It only ever skips policies that cannot match: every positive
 * `principals` / `namespaces` / `serviceAccounts` match needs the caller's SPIFFE namespace to fit.
 */
import type { AuthorizationPolicy, AuthzSource } from '../config/api-types.ts';

/** Namespaces a policy can match: exact names and name prefixes; `any` when the spec does not pin it down. */
export type NamespaceConstraint =
  | { readonly any: true }
  | { readonly any: false; readonly exact: readonly string[]; readonly prefixes: readonly string[] };

const ANY: NamespaceConstraint = Object.freeze({ any: true });

/** The namespace part of a principal pattern (`td/ns/<ns>/sa/<sa>`, `*`, prefix and suffix forms). */
function fromPrincipal(pattern: string, out: { exact: Set<string>; prefixes: Set<string> }): boolean {
  let p = pattern.startsWith('spiffe://') ? pattern.slice('spiffe://'.length) : pattern;
  if (p.startsWith('*')) return false; // suffix or presence: any namespace
  const star = p.endsWith('*');
  if (star) p = p.slice(0, -1);
  const parts = p.split('/');
  // td / "ns" / <ns> [/ "sa" / <sa>]
  if (parts.length < 3 || parts[1] !== 'ns') return false;
  if (parts.length === 3) {
    if (star) out.prefixes.add(parts[2]);
    else out.exact.add(parts[2]); // a principal that ends at the namespace matches only that exact text: no real identity
    return true;
  }
  out.exact.add(parts[2]);
  return true;
}

function fromSource(
  s: AuthzSource | undefined,
  policyNamespace: string,
  out: { exact: Set<string>; prefixes: Set<string> },
): boolean {
  if (!s) return false;
  if (s.principals && s.principals.length > 0) return s.principals.every((p) => fromPrincipal(p, out));
  if (s.namespaces && s.namespaces.length > 0) {
    return s.namespaces.every((n) => {
      if (n.startsWith('*')) return false;
      if (n.endsWith('*')) out.prefixes.add(n.slice(0, -1));
      else out.exact.add(n);
      return true;
    });
  }
  if (s.serviceAccounts && s.serviceAccounts.length > 0) {
    for (const sa of s.serviceAccounts)
      out.exact.add(sa.includes('/') ? sa.slice(0, sa.indexOf('/')) : policyNamespace);
    return true;
  }
  return false;
}

/** The constraint of a policy (CUSTOM and unusual shapes are `any`: always evaluated). */
export function namespaceConstraint(policy: AuthorizationPolicy): NamespaceConstraint {
  if ((policy.spec.action ?? 'ALLOW') === 'CUSTOM') return ANY;
  const out = { exact: new Set<string>(), prefixes: new Set<string>() };
  for (const rule of policy.spec.rules ?? []) {
    const from = rule.from ?? [];
    if (from.length === 0) return ANY;
    for (const f of from) if (!fromSource(f.source, policy.metadata.namespace, out)) return ANY;
  }
  return { any: false, exact: [...out.exact], prefixes: [...out.prefixes] };
}

/** Policies of a layer indexed by the namespaces they can match; lists hold indexes into the layer, ascending. */
export interface NamespaceIndex {
  readonly always: readonly number[];
  readonly exact: ReadonlyMap<string, readonly number[]>;
  readonly prefixes: readonly { readonly prefix: string; readonly indexes: readonly number[] }[];
}

export function buildNamespaceIndex(constraints: readonly (NamespaceConstraint | null)[]): NamespaceIndex {
  const always: number[] = [];
  const exact = new Map<string, number[]>();
  const prefixes = new Map<string, number[]>();
  constraints.forEach((c, i) => {
    if (c === null || c.any) {
      always.push(i);
      return;
    }
    for (const ns of c.exact) (exact.get(ns) ?? exact.set(ns, []).get(ns)!).push(i);
    for (const p of c.prefixes) (prefixes.get(p) ?? prefixes.set(p, []).get(p)!).push(i);
  });
  return { always, exact, prefixes: [...prefixes].map(([prefix, indexes]) => ({ prefix, indexes })) };
}

const NONE: readonly number[] = Object.freeze([]);

/** The layer's policy indexes a caller in `namespace` can match, ascending (the order decisions are made in). */
export function candidates(index: NamespaceIndex, namespace: string | null): readonly number[] {
  const ns = namespace ?? '';
  const lists: (readonly number[])[] = [index.always, index.exact.get(ns) ?? NONE];
  for (const p of index.prefixes) if (ns.startsWith(p.prefix)) lists.push(p.indexes);
  const nonEmpty = lists.filter((l) => l.length > 0);
  if (nonEmpty.length === 0) return NONE;
  if (nonEmpty.length === 1) return nonEmpty[0];
  const merged = new Set<number>();
  for (const l of nonEmpty) for (const i of l) merged.add(i);
  return [...merged].sort((a, b) => a - b);
}
