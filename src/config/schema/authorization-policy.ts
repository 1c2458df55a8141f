/**
 * AuthorizationPolicy (security.istio.io v1/v1beta1) spec, read from the CRD `authorizationpolicies.security.istio.io`
 * (istio/api, generated from security/v1beta1/authorization_policy.proto). CEL rules are in src/config/rules.
 */
import { arr, obj, str, strings } from './dsl.ts';
import type { ObjectSchema } from './dsl.ts';
import { istioWorkloadSelectorSchema, policyTargetRefSchema } from './common.ts';

const serviceAccounts = () => strings({ maxItems: 16 }, str({ maxLength: 320 }));

const sourceSchema = obj({
  principals: strings(),
  notPrincipals: strings(),
  requestPrincipals: strings(),
  notRequestPrincipals: strings(),
  namespaces: strings(),
  notNamespaces: strings(),
  serviceAccounts: serviceAccounts(),
  notServiceAccounts: serviceAccounts(),
  ipBlocks: strings(),
  notIpBlocks: strings(),
  remoteIpBlocks: strings(),
  notRemoteIpBlocks: strings(),
  trustDomains: strings(),
  notTrustDomains: strings(),
});

const operationSchema = obj({
  hosts: strings(),
  notHosts: strings(),
  ports: strings(),
  notPorts: strings(),
  methods: strings(),
  notMethods: strings(),
  paths: strings(),
  notPaths: strings(),
});

const ruleSchema = obj({
  from: arr(obj({ source: sourceSchema }), { maxItems: 512 }),
  to: arr(obj({ operation: operationSchema })),
  when: arr(obj({ key: str(), values: strings(), notValues: strings() }, { required: ['key'] })),
});

export const authorizationPolicySpec: ObjectSchema = obj({
  selector: istioWorkloadSelectorSchema,
  targetRef: policyTargetRefSchema,
  targetRefs: arr(policyTargetRefSchema, { maxItems: 16 }),
  rules: arr(ruleSchema, { maxItems: 512 }),
  action: str({ enum: ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'] }),
  provider: obj({ name: str() }),
});
