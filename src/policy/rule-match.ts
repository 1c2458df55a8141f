/** The compiled shape of an AuthorizationPolicy's rules and the loop that matches them (ztunnel's `Authorization::matches`). */
import type { RequestFacts } from './request-facts.ts';

/** One compiled field test, e.g. "principal is one of ..." or "port is none of ...". */
export type Check = (f: RequestFacts) => boolean;

/**
 * One `from[]` source, one `to[]` operation or one `when[]` condition: its checks are ANDed.
 * An entry with no checks never matches: ztunnel skips an empty `Match` (rbac.rs), which is what makes a
 * DENY rule whose `to`/`when` held only HTTP attributes a no-op at L4 (istiod `hasEffectiveRules`).
 */
export type CompiledEntry = readonly Check[];

/** A rule's `from` list, `to` list, or one `when` condition: its entries are ORed. */
export type CompiledClause = readonly CompiledEntry[];

/** One rule: every clause must match. A rule with no clauses (`rules: [{}]`) always matches. */
export interface CompiledRule {
  /** Index of the rule in `spec.rules`, reported in the decision record. */
  readonly index: number;
  readonly clauses: readonly CompiledClause[];
}

function entryMatches(entry: CompiledEntry, f: RequestFacts): boolean {
  if (entry.length === 0) return false;
  for (let i = 0; i < entry.length; i++) {
    if (!entry[i](f)) return false;
  }
  return true;
}

function clauseMatches(clause: CompiledClause, f: RequestFacts): boolean {
  for (let i = 0; i < clause.length; i++) {
    if (entryMatches(clause[i], f)) return true;
  }
  return false;
}

/** Whether one compiled rule matches. */
export function ruleMatches(rule: CompiledRule, f: RequestFacts): boolean {
  const clauses = rule.clauses;
  for (let i = 0; i < clauses.length; i++) {
    if (!clauseMatches(clauses[i], f)) return false;
  }
  return true;
}

/**
 * The `spec.rules` index of the first matching rule, or -1. No rules never matches
 * (ztunnel: `if self.rules.is_empty() { return false }`; istiod/Envoy: `rbacPolicyMatchNever`).
 */
export function firstMatchingRule(rules: readonly CompiledRule[], f: RequestFacts): number {
  for (let i = 0; i < rules.length; i++) {
    if (ruleMatches(rules[i], f)) return rules[i].index;
  }
  return -1;
}

/** A check that always passes: an Envoy TCP-chain entry whose only attributes were HTTP ones. */
export const ALWAYS: Check = () => true;
