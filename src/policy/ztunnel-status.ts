/** ztunnel's AuthorizationPolicy status wording, verbatim, for policies enforced in L4 mode. */

/** Condition type istiod writes for policies it converts for ztunnel. */
export const ZTUNNEL_CONDITION_TYPE = 'ZtunnelAccepted';
/** Condition type for policies enforced at L7 (istiod's waypoint policy condition, istio/istio pilot/pkg/model/service.go). */
export const WAYPOINT_CONDITION_TYPE = 'WaypointAccepted';
export const REASON_UNSUPPORTED_VALUE = 'UnsupportedValue';
export const REASON_INVALID = 'Invalid';

// istiod pilot/pkg/serviceregistry/ambient/authorization.go: httpRuleFmt and its three boilerplates.
const HTTP_RULE_PREFIX = 'ztunnel does not support HTTP attributes (found: ';
const HTTP_RULE_MIDDLE = '). In ambient mode you must use a waypoint proxy to enforce HTTP rules. ';
export const HTTP_ALLOW_RULE_BOILERPLATE =
  'Within an ALLOW policy, rules matching HTTP attributes are omitted. This will be more restrictive than requested.';
export const HTTP_DENY_MIXED_BOILERPLATE =
  'DENY policy with HTTP attributes is enforced without the HTTP rules. This will be more restrictive than requested.';
export const HTTP_DENY_NO_EFFECT_BOILERPLATE =
  'After omitting unsupported HTTP attributes, this DENY policy has no enforceable rules at ztunnel and will have no effect. ' +
  'Deploy a waypoint proxy and use a targetRef to enforce this policy.';
/** ztunnel has no AUDIT; Portcullis records AUDIT matches at L4 with the DENY-style conversion (Envoy's TCP rule). */
export const HTTP_AUDIT_BOILERPLATE = 'AUDIT policy with HTTP attributes is recorded without the HTTP rules.';

/**
 * The full `UnsupportedValue` message: the found attributes sorted (Go's `sets.SortedList`, byte order) and
 * joined with ", ", then the sentence for the action.
 */
export function httpAttributesMessage(found: Iterable<string>, boilerplate: string): string {
  const sorted = [...found].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return HTTP_RULE_PREFIX + sorted.join(', ') + HTTP_RULE_MIDDLE + boilerplate;
}

/** istiod's message for an action ztunnel does not support (`ztunnel does not support the %s action`). */
export function unsupportedActionMessage(action: string): string {
  return `ztunnel does not support the ${action} action`;
}
