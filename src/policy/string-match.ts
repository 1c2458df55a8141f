/** Istio's four string matches (exact, `abc*` prefix, `*abc` suffix, `*` presence), compiled once. */

/** 0 exact, 1 prefix, 2 suffix, 3 presence: ztunnel's `StringMatch` variants (src/rbac.rs). */
export type StringMatchKind = 0 | 1 | 2 | 3;

export interface StringMatch {
  readonly kind: StringMatchKind;
  readonly value: string;
}

/**
 * Compile one AuthorizationPolicy string the way istiod does for ztunnel (`stringToMatch`,
 * pilot/pkg/serviceregistry/ambient/authorization.go) and Envoy (`StringMatcherWithPrefix`):
 * `*` → presence, a leading `*` → suffix, a trailing `*` → prefix, anything else → exact.
 * `lowerCase` is for case-insensitive fields (hosts): the caller lower-cases the input too.
 */
export function compileStringMatch(pattern: string, lowerCase = false): StringMatch {
  const p = lowerCase ? pattern.toLowerCase() : pattern;
  if (p === '*') return { kind: 3, value: '' };
  if (p.startsWith('*')) return { kind: 2, value: p.slice(1) };
  if (p.endsWith('*')) return { kind: 1, value: p.slice(0, -1) };
  return { kind: 0, value: p };
}

/** Whether `s` satisfies one compiled match. Presence means "not empty" (proto `Rule` comment). */
export function stringMatches(m: StringMatch, s: string): boolean {
  switch (m.kind) {
    case 0:
      return s === m.value;
    case 1:
      return s.startsWith(m.value);
    case 2:
      return s.endsWith(m.value);
    default:
      return s.length > 0;
  }
}

/** Whether any of the compiled matches accepts `s` (list items are ORed). */
export function anyStringMatches(list: readonly StringMatch[], s: string): boolean {
  for (let i = 0; i < list.length; i++) {
    if (stringMatches(list[i], s)) return true;
  }
  return false;
}
