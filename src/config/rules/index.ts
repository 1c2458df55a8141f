/** The registry of semantic rules per kind: Istio's webhook checks and the CRDs' CEL rules. */
import type { SemanticRule } from './rule-context.ts';
import { authorizationPolicyRule } from './authorization-policy.ts';
import { destinationRuleRule } from './destination-rule.ts';
import { dryRunAllowedRule, dryRunRefusedRule } from './dry-run.ts';
import { envoyFilterRule } from './envoy-filter.ts';
import { gatewayRule } from './gateway.ts';
import { httpRouteRule } from './http-route.ts';
import { serviceEntryRule } from './service-entry.ts';

/**
 * Kind → rules, run by the loader on each document that passed structural (schema) validation.
 * GatewayClass has no rule: its only CEL rule (`controllerName` is immutable) compares with a previous
 * version, which a file-based configuration does not have.
 */
export const SEMANTIC_RULES: Readonly<Record<string, readonly SemanticRule[]>> = {
  // istiod's webhook checks the dry-run annotation first, on every Istio kind (validateMetadata).
  AuthorizationPolicy: [dryRunAllowedRule, authorizationPolicyRule],
  ServiceEntry: [dryRunRefusedRule, serviceEntryRule],
  DestinationRule: [dryRunRefusedRule, destinationRuleRule],
  EnvoyFilter: [dryRunRefusedRule, envoyFilterRule],
  Gateway: [gatewayRule],
  HTTPRoute: [httpRouteRule],
};
