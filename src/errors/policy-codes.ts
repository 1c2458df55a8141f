/** Error codes owned by the policy layer. Codes are stable: never rename one, only add. */
import { defineCodes } from './define.ts';

export const policyCodes = defineCodes({
  // ---- AuthorizationPolicy decisions (one per outcome of Istio's evaluation order) ----
  PCL_AUTHZ_ALLOWED_NO_POLICIES: {
    summary: 'Allowed: no enforced ALLOW policy targets this layer ("no allow policies, allow").',
    fix: 'Nothing to do if intended. To make this target default-deny, add an ALLOW policy (an ALLOW with `rules: []` denies everything) or set egressGateway.defaultDeny.',
  },
  PCL_AUTHZ_ALLOWED_BY_POLICY: {
    summary: 'Allowed: an ALLOW policy matched and no DENY policy did.',
    fix: 'Nothing to do if intended; the record names the policy and rule that allowed the connection.',
  },
  PCL_AUTHZ_DENIED_EXPLICIT: {
    httpStatus: 401,
    summary: 'Denied: a DENY policy matched ("explicitly denied by: ns/name").',
    fix: 'Check the named DENY policy and rule. DENY always wins over ALLOW; narrow the DENY rule if this source should pass.',
  },
  PCL_AUTHZ_DENIED_NOT_ALLOWED: {
    httpStatus: 401,
    summary:
      'Denied: ALLOW policies exist for this layer, but none matched ("allow policies exist, but none allowed").',
    fix: "Add or widen an ALLOW policy on this layer (Gateway or ServiceEntry) for the caller's namespace, principal or port. Both layers must allow.",
  },
  PCL_AUTHZ_DENIED_CUSTOM_UNSUPPORTED: {
    httpStatus: 401,
    summary:
      'Denied: a CUSTOM (external authorization) policy targets this layer, and Portcullis does not support CUSTOM; the layer fails closed.',
    fix: 'Remove the CUSTOM policy or replace it with ALLOW/DENY policies; Portcullis has no ext-authz provider support.',
  },
  PCL_AUTHZ_INVALID_POLICY: {
    httpStatus: 401,
    summary:
      'Denied: an AuthorizationPolicy that could attach to this layer is invalid and has no last good version, so the layer denies every connection and request until it is fixed or deleted (fail closed).',
    fix: 'Fix the error named in the reason (file:line and field), or delete the policy; `portcullis status` lists every configuration error.',
  },
  PCL_AUTHZ_DENIED_NO_LAYERS: {
    httpStatus: 401,
    summary: 'Denied: there was no authorization layer to evaluate, so the decision fails closed.',
    fix: 'This is a bug in the caller: every egress decision evaluates at least the Gateway layer. Report it with the request.',
  },
  // ---- egressPolicies (destinations no ServiceEntry declares; seed 000 layer 03) ----
  PCL_EGRESS_POLICY_DENY: {
    httpStatus: 401,
    summary:
      'Denied: the destination is not declared by any ServiceEntry and the longest matching egressPolicies CIDR says Deny.',
    fix: 'Declare the destination with a ServiceEntry bound to the egress Gateway, or add a narrower egressPolicies entry with policy: Allow.',
  },
  PCL_EGRESS_POLICY_ALLOW: {
    summary:
      'Allowed: the destination is not declared by any ServiceEntry and the longest matching egressPolicies CIDR says Allow.',
    fix: 'Nothing to do if intended. Unknown destinations bypass AuthorizationPolicy; prefer a ServiceEntry so identity-based policy applies.',
  },
  PCL_EGRESS_NO_MATCH: {
    httpStatus: 401,
    summary:
      'Denied: the destination is not declared by any ServiceEntry and no egressPolicies CIDR matches its address (or it has none).',
    fix: 'Declare the destination with a ServiceEntry, or add an egressPolicies entry covering its address.',
  },
  PCL_EGRESS_POLICY_INVALID_CIDR: {
    summary: 'An egressPolicies matchCidrs value is not an IP address or CIDR.',
    fix: 'Write each matchCidrs value as an IPv4 or IPv6 CIDR such as 10.0.0.0/8 or ::/0.',
  },
});
