/** Compiles an AuthorizationPolicy once into matchers for L4 (ztunnel) or L7 (waypoint) enforcement. */
import { namespaceConstraint, type NamespaceConstraint } from './namespace-filter.ts';
import type { AuthorizationPolicy, AuthzAction, AuthzRule } from '../config/api-types.ts';
import {
  compileConditionChecks,
  compileOperationChecks,
  compileSourceChecks,
  type CheckContext,
  type FieldCheck,
} from './attribute-checks.ts';
import {
  ALWAYS,
  buildPolicyMatcher,
  hasEffectiveRules,
  type Check,
  type PolicyMatcher,
  type RuleShape,
} from './rule-match.ts';
import {
  HTTP_ALLOW_RULE_BOILERPLATE,
  HTTP_AUDIT_BOILERPLATE,
  HTTP_DENY_MIXED_BOILERPLATE,
  HTTP_DENY_NO_EFFECT_BOILERPLATE,
  REASON_INVALID,
  REASON_UNSUPPORTED_VALUE,
  WAYPOINT_CONDITION_TYPE,
  ZTUNNEL_CONDITION_TYPE,
  httpAttributesMessage,
  unsupportedActionMessage,
} from './ztunnel-status.ts';

/** `l4`: the solo-ztunnel-egress class, enforced as ztunnel does. `l7`: the waypoint class, every attribute per request. */
export type EnforcementMode = 'l4' | 'l7';

export interface PolicyRef {
  namespace: string;
  name: string;
}

export interface PolicyCondition {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
}

/**
 * A policy ready to decide with. `match` and `tcpMatch` are the compiled matchers: treat them as opaque.
 */
export interface CompiledPolicy {
  readonly ref: PolicyRef;
  readonly action: AuthzAction;
  readonly dryRun: boolean;
  readonly mode: EnforcementMode;
  /** Status conditions to publish on the policy (ztunnel's UnsupportedValue warning, CUSTOM unsupported, bad values). */
  readonly conditions: PolicyCondition[];
  /** `namespace/name`, as decision records name policies. */
  readonly key: string;
  /** The rules enforced for this mode (L4: after ztunnel's conversion; L7: every attribute). */
  readonly match: PolicyMatcher;
  /**
   * L7 mode only: the rules as Envoy enforces them on a TCP filter chain, used when a decision carries no HTTP
   * request (e.g. a non-HTTP stream through a waypoint). null in L4 mode.
   */
  readonly tcpMatch: PolicyMatcher | null;
  /** The namespaces a caller must be in for this policy to possibly match (a layer's pre-filter; see namespace-filter.ts). */
  readonly namespaces: NamespaceConstraint;
  /**
   * Set on the stand-in for a policy that could not be read (failPolicy): why, naming the policy, file:line and the
   * error. Such a policy is a DENY that matches every caller, so its layers fail closed until it is fixed or deleted.
   */
  readonly invalid?: string;
}

/** The annotation that marks a policy dry-run (evaluated and recorded, never enforced). */
const DRY_RUN_ANNOTATION = 'istio.io/dry-run';

/**
 * istiod parses the annotation with Go's `strconv.ParseBool`; anything it cannot parse is logged and the
 * policy is enforced (authorization.go `convertAuthorizationPolicy`). Enforcing is also the safe side.
 */
function parseGoBool(value: string | undefined): boolean {
  return value === '1' || value === 't' || value === 'T' || value === 'true' || value === 'TRUE' || value === 'True';
}

/** A rule before any L4 conversion: clauses of entries of tagged checks. */
interface RawRule {
  readonly index: number;
  readonly clauses: readonly (readonly (readonly FieldCheck[])[])[];
}

function compileRawRule(rule: AuthzRule, index: number, ctx: CheckContext): RawRule {
  const clauses: FieldCheck[][][] = [];
  // Missing (or empty) `from`/`to` add no clause: any source / any operation (ztunnel `handleRule`).
  if (rule.to !== undefined && rule.to.length > 0) {
    clauses.push(rule.to.map((t) => compileOperationChecks(t.operation, ctx)));
  }
  if (rule.from !== undefined && rule.from.length > 0) {
    clauses.push(rule.from.map((f) => compileSourceChecks(f.source, ctx)));
  }
  // Each condition is its own clause, so all `when` entries must hold.
  for (const c of rule.when ?? []) clauses.push([compileConditionChecks(c, ctx)]);
  return { index, clauses };
}

/** How HTTP-only attributes are treated when the rule is enforced without an HTTP request. */
type HttpDrop = 'keep' | 'ztunnel' | 'envoy-tcp';

interface Conversion {
  readonly rules: RuleShape[];
  /** HTTP-only attributes found (for the ztunnel message). */
  readonly found: Set<string>;
}

/**
 * Apply the L4 conversion (istio/istio pilot/pkg/serviceregistry/ambient/authorization.go `handleRule`):
 * - ALLOW: a rule with any HTTP-only attribute is dropped entirely, so the policy allows less.
 * - DENY (and AUDIT): HTTP-only attributes are removed and the rule kept, so it denies more. An entry left with
 *   nothing is, for ztunnel, an empty Match that never matches, so that clause (and the rule) cannot match;
 *   for Envoy's TCP chain it is an empty permission that matches anything.
 */
function convert(raw: readonly RawRule[], action: AuthzAction, drop: HttpDrop): Conversion {
  const rules: RuleShape[] = [];
  const found = new Set<string>();
  for (const r of raw) {
    if (drop === 'keep') {
      rules.push({ index: r.index, clauses: r.clauses.map((c) => c.map((e) => e.map((fc) => fc.test))) });
      continue;
    }
    let ruleHasHttp = false;
    for (const c of r.clauses) {
      for (const e of c) {
        for (const fc of e) {
          if (fc.http) {
            ruleHasHttp = true;
            found.add(fc.attribute);
          }
        }
      }
    }
    if (ruleHasHttp && action === 'ALLOW') continue;
    const clauses = r.clauses.map((c) =>
      c.map((e): Check[] => {
        const kept: Check[] = [];
        for (const fc of e) if (!fc.http) kept.push(fc.test);
        if (kept.length === 0 && e.length > 0 && drop === 'envoy-tcp') return [ALWAYS];
        return kept;
      }),
    );
    rules.push({ index: r.index, clauses });
  }
  return { rules, found };
}

function policyKey(ref: PolicyRef): string {
  return `${ref.namespace}/${ref.name}`;
}

/**
 * Compile one AuthorizationPolicy for a mode. Never throws: problems become conditions, and a value that
 * cannot be compiled matches nothing.
 *
 * @example
 * const p = compileAuthorizationPolicy(policy, 'l4', { trustDomain: settings.trustDomain });
 * decideLayer({ layer: 'gateway', target: 'Gateway istio-system/ztunnel-egress', policies: [p] }, req);
 */
export function compileAuthorizationPolicy(
  policy: AuthorizationPolicy,
  mode: EnforcementMode,
  opts: { trustDomain?: string } = {},
): CompiledPolicy {
  const ref: PolicyRef = { namespace: policy.metadata.namespace, name: policy.metadata.name };
  const action: AuthzAction = policy.spec.action ?? 'ALLOW';
  const dryRun = parseGoBool(policy.metadata.annotations?.[DRY_RUN_ANNOTATION]);
  const conditionType = mode === 'l4' ? ZTUNNEL_CONDITION_TYPE : WAYPOINT_CONDITION_TYPE;
  const conditions: PolicyCondition[] = [];
  const base = { ref, action, dryRun, mode, conditions, key: policyKey(ref), namespaces: namespaceConstraint(policy) };

  if (action === 'CUSTOM') {
    // No ext-authz in Portcullis: the policy is rejected and its target fails closed (see engine.ts).
    conditions.push({
      type: conditionType,
      status: 'False',
      reason: REASON_UNSUPPORTED_VALUE,
      message:
        mode === 'l4'
          ? unsupportedActionMessage('CUSTOM')
          : 'Portcullis does not support the CUSTOM action (no external authorization providers); its target denies every request.',
    });
    return { ...base, match: buildPolicyMatcher([]), tcpMatch: null };
  }

  const ctx: CheckContext = { policyNamespace: ref.namespace, trustDomain: opts.trustDomain, invalid: [] };
  const raw = (policy.spec.rules ?? []).map((r, i) => compileRawRule(r, i, ctx));

  let match: PolicyMatcher;
  let tcpMatch: PolicyMatcher | null = null;
  if (mode === 'l4') {
    const conv = convert(raw, action, 'ztunnel');
    const rules = conv.rules;
    match = buildPolicyMatcher(rules);
    if (conv.found.size > 0) {
      let boilerplate: string;
      if (action === 'ALLOW') boilerplate = HTTP_ALLOW_RULE_BOILERPLATE;
      else if (action === 'AUDIT') boilerplate = HTTP_AUDIT_BOILERPLATE;
      else boilerplate = hasEffectiveRules(rules) ? HTTP_DENY_MIXED_BOILERPLATE : HTTP_DENY_NO_EFFECT_BOILERPLATE;
      // Accepted with a warning: the policy is bound and enforced, only partially (istiod `Binding.Bound`).
      conditions.push({
        type: ZTUNNEL_CONDITION_TYPE,
        status: 'True',
        reason: REASON_UNSUPPORTED_VALUE,
        message: httpAttributesMessage(conv.found, boilerplate),
      });
    }
  } else {
    match = buildPolicyMatcher(convert(raw, action, 'keep').rules);
    tcpMatch = buildPolicyMatcher(convert(raw, action, 'envoy-tcp').rules);
  }

  if (ctx.invalid.length > 0) {
    conditions.push({
      type: conditionType,
      status: 'False',
      reason: REASON_INVALID,
      message: `invalid values: ${ctx.invalid.join('; ')}`,
    });
  }
  return { ...base, match, tcpMatch };
}

/**
 * An ALLOW policy with no rules: it never matches, so its layer denies everything no other ALLOW permits.
 * This is seed 000's default-deny (`action: ALLOW`, `rules: []`), applied when `egressGateway.defaultDeny` is true.
 */
export function denyAllPolicy(ref: PolicyRef, mode: EnforcementMode): CompiledPolicy {
  return {
    ref: { namespace: ref.namespace, name: ref.name },
    action: 'ALLOW',
    dryRun: false,
    mode,
    conditions: [],
    key: policyKey(ref),
    match: buildPolicyMatcher([]),
    tcpMatch: mode === 'l7' ? buildPolicyMatcher([]) : null,
    // No rules: it matches nobody, in any namespace (it still counts as an ALLOW policy of its layer).
    namespaces: { any: false, exact: [], prefixes: [] },
  };
}

/**
 * The stand-in for an AuthorizationPolicy that is invalid and has no last good version: a DENY matching every
 * connection and request, decided as `PCL_AUTHZ_INVALID_POLICY` with `reason`. Dropping the policy instead could
 * widen access (a typo in a DENY lets its callers out; dropping a layer's only ALLOW turns it into "allow all").
 */
export function failPolicy(ref: PolicyRef, mode: EnforcementMode, reason: string): CompiledPolicy {
  const always: PolicyMatcher = () => 0;
  const base = denyAllPolicy(ref, mode);
  return {
    ...base,
    action: 'DENY',
    match: always,
    tcpMatch: mode === 'l7' ? always : null,
    namespaces: { any: true },
    invalid: reason,
  };
}
