/**
 * Learn mode: Istio's dry-run semantics for a whole gateway. A policy denial (an AuthorizationPolicy layer or
 * egressPolicies) becomes an allow that still carries the denying layers, logged as `would-deny`. Refusals that
 * protect the gateway itself (private-address guard, its own ports, malformed input, faults that fail closed) are
 * never policy denials and are never touched.
 */
import type { ErrorCode } from '../errors/catalogue.ts';
import type { DecisionRecord } from '../policy/engine.ts';
import { compileEgressPolicies, type CompiledEgressPolicies } from '../policy/egress-policies.ts';

/** The only codes learn mode turns into allows: decisions an operator's policy made, not the gateway's own guards. */
export const POLICY_DENIAL_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'PCL_AUTHZ_DENIED_EXPLICIT',
  'PCL_AUTHZ_DENIED_NOT_ALLOWED',
  'PCL_EGRESS_POLICY_DENY',
  'PCL_EGRESS_NO_MATCH',
]);

/** What the access log and the UI call a decision learn mode let through. */
export const WOULD_DENY = 'would-deny';

/** The banner every surface shows while learn mode is on. */
export const LEARN_BANNER = 'LEARN MODE: policy denials are allowed and logged as would-deny; nothing is enforced';

/**
 * Apply learn mode to a decision at the point the data plane acts on it. With `learn` off, or for anything but a
 * policy denial, the record is returned unchanged. `note` receives the would-deny text (the L7 request's warnings).
 *
 * @example
 * record = applyLearnMode(snap.settings, record);
 */
export function applyLearnMode(
  settings: { readonly learn?: boolean },
  record: DecisionRecord,
  note?: string[],
): DecisionRecord {
  if (settings.learn !== true || record.decision !== 'deny' || !POLICY_DENIAL_CODES.has(record.code)) return record;
  const reason = `${WOULD_DENY}: ${record.code}: ${record.reason}`;
  note?.push(reason);
  return { decision: 'allow', code: 'PCL_LEARN_WOULD_DENY', reason, layers: record.layers };
}

/** Whether an allowed decision was let through by learn mode: it still carries the layer that denied it. */
export function isWouldDeny(decision: string, layers: readonly { readonly decision: string }[]): boolean {
  return decision === 'allow' && layers.some((l) => l.decision === 'deny');
}

const ALLOW_ALL: CompiledEgressPolicies = compileEgressPolicies([
  { matchCidrs: ['0.0.0.0/0', '::/0'], policy: 'Allow' },
]);

/**
 * The egressPolicies the data plane re-checks resolved addresses against: in learn mode they allow (the decision
 * that would have denied was already logged as would-deny); the private-address guard still applies beside them.
 */
export function egressPoliciesFor(snap: {
  readonly settings: { readonly learn?: boolean };
  readonly egressPolicies: CompiledEgressPolicies;
}): CompiledEgressPolicies {
  return snap.settings.learn === true ? ALLOW_ALL : snap.egressPolicies;
}
