/** Turns a policy's rules into one matcher function (ztunnel's `Authorization::matches`), specialised by shape. */
import type { RequestFacts } from './request-facts.ts';

/** One compiled field test, e.g. "principal is one of ..." or "port is none of ...". */
export type Check = (f: RequestFacts) => boolean;

/** Returns the `spec.rules` index of the first matching rule, or -1. */
export type PolicyMatcher = (f: RequestFacts) => number;

/**
 * A rule before it is turned into a function. `clauses` are ANDed: a rule's `from` list, its `to` list, and
 * each `when` condition. A clause's entries (one `source`, one `operation`, one condition) are ORed, and an
 * entry's checks are ANDed. An entry with no checks never matches: ztunnel skips an empty `Match` (rbac.rs),
 * which is what makes a DENY rule whose `to`/`when` held only HTTP attributes a no-op at L4. A rule with no
 * clauses (`rules: [{}]`) always matches.
 */
export interface RuleShape {
  /** Index of the rule in `spec.rules`, reported in the decision record. */
  readonly index: number;
  readonly clauses: readonly (readonly (readonly Check[])[])[];
}

export const ALWAYS: Check = () => true;
const NEVER: Check = () => false;
const NO_MATCH: PolicyMatcher = () => -1;

// Small shapes get their own closures: a decision touches fewer objects, which matters more than anything
// else once thousands of policies no longer fit in the CPU cache.

function allOf(checks: readonly Check[]): Check {
  if (checks.length === 0) return NEVER;
  if (checks.length === 1) return checks[0];
  if (checks.length === 2) {
    const [a, b] = checks;
    return (f) => a(f) && b(f);
  }
  const list = checks.slice();
  return (f) => {
    for (let i = 0; i < list.length; i++) if (!list[i](f)) return false;
    return true;
  };
}

function anyOf(checks: readonly Check[]): Check {
  if (checks.length === 0) return NEVER;
  if (checks.length === 1) return checks[0];
  if (checks.length === 2) {
    const [a, b] = checks;
    return (f) => a(f) || b(f);
  }
  const list = checks.slice();
  return (f) => {
    for (let i = 0; i < list.length; i++) if (list[i](f)) return true;
    return false;
  };
}

/** One function for a whole rule. */
function buildRuleCheck(rule: RuleShape): Check {
  if (rule.clauses.length === 0) return ALWAYS;
  const clauses = rule.clauses.map((clause) => anyOf(clause.map(allOf)));
  return clauses.length === 1 ? clauses[0] : (allOf(clauses) as Check);
}

/**
 * One function for a whole policy. No rules never matches (ztunnel: `if self.rules.is_empty() { return false }`;
 * istiod/Envoy: `rbacPolicyMatchNever`).
 */
export function buildPolicyMatcher(rules: readonly RuleShape[]): PolicyMatcher {
  if (rules.length === 0) return NO_MATCH;
  if (rules.length === 1) {
    const only = buildRuleCheck(rules[0]);
    const index = rules[0].index;
    return (f) => (only(f) ? index : -1);
  }
  const checks = rules.map(buildRuleCheck);
  const indexes = rules.map((r) => r.index);
  return (f) => {
    for (let i = 0; i < checks.length; i++) if (checks[i](f)) return indexes[i];
    return -1;
  };
}

/** istiod `hasEffectiveRules`: some rule whose every clause keeps at least one non-empty entry. */
export function hasEffectiveRules(rules: readonly RuleShape[]): boolean {
  return rules.some((r) => r.clauses.every((c) => c.some((e) => e.length > 0)));
}
