/**
 * AuthorizationPolicy semantics: the CRD's CEL rules and istiod's `ValidateAuthorizationPolicy` webhook
 * (istio/istio pkg/config/validation/validation.go, pkg/config/security/security.go).
 */
import type { FieldPath } from '../types.ts';
import type { RuleContext, SemanticRule } from './rule-context.ts';
import { asList, asObject, asString, has, listLength, stringList, type Data } from './data-access.ts';
import { checkIpOrCidr } from '../../net/ip-syntax.ts';
import { celInvalid } from './messages.ts';
import { checkPolicyTargetRef } from './target-ref.ts';
import { checkMatchLabelsSelector } from './workload-selector.ts';

const SOURCE_FIELDS = [
  'principals',
  'notPrincipals',
  'requestPrincipals',
  'notRequestPrincipals',
  'namespaces',
  'notNamespaces',
  'serviceAccounts',
  'notServiceAccounts',
  'ipBlocks',
  'notIpBlocks',
  'remoteIpBlocks',
  'notRemoteIpBlocks',
  'trustDomains',
  'notTrustDomains',
] as const;
const OPERATION_FIELDS = [
  'hosts',
  'notHosts',
  'ports',
  'notPorts',
  'methods',
  'notMethods',
  'paths',
  'notPaths',
] as const;
const IP_FIELDS = ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks'] as const;
/** Source fields that ztunnel/Envoy can evaluate on a plain TCP connection (the webhook's `tcpRulesInFrom`). */
const TCP_SOURCE_FIELDS = [
  'principals',
  'notPrincipals',
  'namespaces',
  'notNamespaces',
  'ipBlocks',
  'notIpBlocks',
  'remoteIpBlocks',
  'notRemoteIpBlocks',
  'serviceAccounts',
  'notServiceAccounts',
  'trustDomains',
  'notTrustDomains',
] as const;
/** Source fields CUSTOM (ext-authz) policies cannot use: the webhook's "not supported with CUSTOM action". */
const CUSTOM_FORBIDDEN_SOURCE_FIELDS = [
  'namespaces',
  'notNamespaces',
  'serviceAccounts',
  'notServiceAccounts',
  'trustDomains',
  'notTrustDomains',
  'principals',
  'notPrincipals',
  'requestPrincipals',
  'notRequestPrincipals',
] as const;
const CUSTOM_FORBIDDEN_KEYS = ['source.namespace', 'source.serviceAccount', 'source.trustDomain', 'source.principal'];

const RULES_MEANINGLESS =
  'action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request';
const HTTP_ONLY_DENY_WARNING =
  'configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the use of only HTTP attributes in a DENY rule; it is recommended to explicitly specify the port';

export const authorizationPolicyRule: SemanticRule = (doc, ctx) => {
  const spec = asObject(doc.spec);
  if (spec === undefined) return;
  checkTargetSelection(spec, ctx);
  const action = asString(spec.action) ?? 'ALLOW';
  checkAction(spec, action, ctx);
  asList(spec.rules)?.forEach((rule, i) => checkRule(rule, ['spec', 'rules', i], action, ctx));
};

/** CEL: at most one of selector / targetRef / targetRefs (presence, as `has()` sees it). */
function checkTargetSelection(spec: Data, ctx: RuleContext): void {
  const set = ['selector', 'targetRef', 'targetRefs'].filter((k) => has(spec, k)).length;
  if (set > 1)
    ctx.error(
      ['spec'],
      'PCL_VALIDATION_SELECTOR',
      celInvalid('object', 'only one of targetRefs or selector can be set'),
    );
  checkMatchLabelsSelector(spec.selector, ['spec', 'selector'], ctx);
  if (has(spec, 'targetRef')) checkTargetRef(spec.targetRef, ['spec', 'targetRef'], ctx);
  asList(spec.targetRefs)?.forEach((ref, i) => checkTargetRef(ref, ['spec', 'targetRefs', i], ctx));
}

function checkTargetRef(ref: unknown, path: FieldPath, ctx: RuleContext): void {
  checkPolicyTargetRef(ref, path, ctx);
  // A GatewayClass-targeted policy only attaches from the root namespace (pilot/pkg/model/policyattachment.go);
  // istiod reports it in status rather than rejecting it, so this is a warning.
  const target = asObject(ref);
  if (asString(target?.kind) === 'GatewayClass' && ctx.namespace !== ctx.settings.rootNamespace) {
    ctx.warn(
      path,
      'PCL_VALIDATION_AUTHZ_SCOPE',
      `AuthorizationPolicy must be in the root namespace \`${ctx.settings.rootNamespace}\` when referencing a GatewayClass`,
    );
  }
}

function checkAction(spec: Data, action: string, ctx: RuleContext): void {
  // The webhook tests `Rules == nil`: an absent list, not an explicit `rules: []`.
  const rulesAbsent = spec.rules === undefined || spec.rules === null;
  const provider = asObject(spec.provider);
  if (action === 'CUSTOM') {
    if (rulesAbsent) ctx.error(['spec', 'rules'], 'PCL_VALIDATION_AUTHZ_ACTION', `CUSTOM ${RULES_MEANINGLESS}`);
    else if ((asString(provider?.name) ?? '') === '') {
      ctx.error(['spec', 'provider', 'name'], 'PCL_VALIDATION_AUTHZ_ACTION', '`provider.name` must not be empty');
    }
  } else if (has(spec, 'provider')) {
    ctx.error(
      ['spec', 'provider'],
      'PCL_VALIDATION_AUTHZ_ACTION',
      `\`provider\` must not be with non CUSTOM action, found ${action}`,
    );
  }
  if (action === 'DENY' && rulesAbsent)
    ctx.error(['spec', 'rules'], 'PCL_VALIDATION_AUTHZ_ACTION', `DENY ${RULES_MEANINGLESS}`);
}

function checkRule(ruleValue: unknown, path: FieldPath, action: string, ctx: RuleContext): void {
  const index = path[path.length - 1];
  const rule = asObject(ruleValue);
  if (rule === undefined) {
    ctx.error(path, 'PCL_VALIDATION_AUTHZ_RULE', `\`rule\` must not be nil, found at rule ${index}`);
    return;
  }
  let fromExists = false;
  let toExists = false;
  let tcpInFrom = false;
  let tcpInTo = false;

  const from = asList(rule.from);
  if (from !== undefined && from.length === 0) {
    ctx.error([...path, 'from'], 'PCL_VALIDATION_AUTHZ_RULE', `\`from\` must not be empty, found at rule ${index}`);
  }
  from?.forEach((entry, j) => {
    const source = asObject(asObject(entry)?.source);
    const entryPath = [...path, 'from', j];
    if (source === undefined) {
      ctx.error(
        [...entryPath, 'source'],
        'PCL_VALIDATION_AUTHZ_RULE',
        `\`from.source\` must not be nil, found at rule ${index}`,
      );
      return;
    }
    fromExists = true;
    checkSource(source, [...entryPath, 'source'], index, ctx);
    if (TCP_SOURCE_FIELDS.some((f) => has(source, f))) tcpInFrom = true;
  });

  const to = asList(rule.to);
  if (to !== undefined && to.length === 0) {
    ctx.error([...path, 'to'], 'PCL_VALIDATION_AUTHZ_RULE', `\`to\` must not be empty, found at rule ${index}`);
  }
  to?.forEach((entry, j) => {
    const operation = asObject(asObject(entry)?.operation);
    const entryPath = [...path, 'to', j];
    if (operation === undefined) {
      ctx.error(
        [...entryPath, 'operation'],
        'PCL_VALIDATION_AUTHZ_RULE',
        `\`to.operation\` must not be nil, found at rule ${index}`,
      );
      return;
    }
    toExists = true;
    checkOperation(operation, [...entryPath, 'operation'], index, ctx);
    if (has(operation, 'ports') || has(operation, 'notPorts')) tcpInTo = true;
  });

  asList(rule.when)?.forEach((condition, k) => checkCondition(condition, [...path, 'when', k], ctx));

  if (action === 'CUSTOM') checkCustomRule(rule, path, ctx);

  // Same condition as the webhook: a DENY rule whose only attributes are HTTP ones matches every TCP connection.
  if (action === 'DENY' && ((fromExists && !toExists && !tcpInFrom) || (toExists && !tcpInTo))) {
    ctx.warn(path, 'PCL_VALIDATION_HTTP_ONLY_DENY', HTTP_ONLY_DENY_WARNING);
  }
}

function checkSource(source: Data, path: FieldPath, index: string | number, ctx: RuleContext): void {
  // CEL on `source`: has()-based, so even an empty list counts.
  const hasServiceAccounts = has(source, 'serviceAccounts') || has(source, 'notServiceAccounts');
  const hasOthers = ['principals', 'notPrincipals', 'namespaces', 'notNamespaces'].some((f) => has(source, f));
  if (hasServiceAccounts && hasOthers) {
    ctx.error(
      path,
      'PCL_VALIDATION_AUTHZ_RULE',
      celInvalid('object', 'Cannot set serviceAccounts with namespaces or principals'),
    );
  }
  if (SOURCE_FIELDS.every((f) => listLength(source[f]) === 0)) {
    ctx.error(path, 'PCL_VALIDATION_AUTHZ_RULE', `\`from.source\` must not be empty, found at rule ${index}`);
  }
  for (const field of SOURCE_FIELDS) checkEmptyValues(source[field], [...path, field], field, ctx);
  for (const field of IP_FIELDS) {
    stringList(source[field]).forEach((value, k) => {
      const problem = value === '' ? undefined : checkIpOrCidr(value);
      if (problem !== undefined) ctx.error([...path, field, k], 'PCL_VALIDATION_AUTHZ_VALUE', problem);
    });
  }
  for (const field of ['serviceAccounts', 'notServiceAccounts'] as const) {
    stringList(source[field]).forEach((value, k) => {
      const problem = value === '' ? undefined : checkServiceAccount(value);
      if (problem !== undefined)
        ctx.error([...path, field, k], 'PCL_VALIDATION_AUTHZ_VALUE', `${problem}, found in ${field}`);
    });
  }
  for (const field of ['trustDomains', 'notTrustDomains'] as const) {
    stringList(source[field]).forEach((value, k) => {
      const problem = value === '' ? undefined : checkTrustDomain(value);
      if (problem !== undefined)
        ctx.error([...path, field, k], 'PCL_VALIDATION_AUTHZ_VALUE', `${problem}, found in ${field}`);
    });
  }
}

function checkOperation(operation: Data, path: FieldPath, index: string | number, ctx: RuleContext): void {
  if (OPERATION_FIELDS.every((f) => listLength(operation[f]) === 0)) {
    ctx.error(path, 'PCL_VALIDATION_AUTHZ_RULE', `\`to.operation\` must not be empty, found at rule ${index}`);
  }
  for (const field of OPERATION_FIELDS) checkEmptyValues(operation[field], [...path, field], field, ctx);
  for (const field of ['ports', 'notPorts'] as const) {
    stringList(operation[field]).forEach((value, k) => {
      if (value !== '' && !isPort(value)) ctx.error([...path, field, k], 'PCL_VALIDATION_AUTHZ_VALUE', badPort(value));
    });
  }
  for (const field of ['paths', 'notPaths'] as const) {
    stringList(operation[field]).forEach((value, k) => {
      if (!isSupportedPathTemplate(value)) {
        ctx.error(
          [...path, field, k],
          'PCL_VALIDATION_AUTHZ_VALUE',
          `invalid or unsupported path template, found in ${field}`,
        );
      }
    });
  }
}

function checkCondition(value: unknown, path: FieldPath, ctx: RuleContext): void {
  const condition = asObject(value);
  if (condition === undefined) return;
  const key = asString(condition.key) ?? '';
  if (key === '') {
    ctx.error([...path, 'key'], 'PCL_VALIDATION_AUTHZ_CONDITION', '`key` must not be empty');
    return;
  }
  if (listLength(condition.values) === 0 && listLength(condition.notValues) === 0) {
    ctx.error(
      path,
      'PCL_VALIDATION_AUTHZ_CONDITION',
      `at least one of \`values\` or \`notValues\` must be set for key ${key}`,
    );
    return;
  }
  const keyProblem = checkConditionKey(key);
  if (keyProblem !== undefined) {
    ctx.error([...path, 'key'], 'PCL_VALIDATION_AUTHZ_CONDITION', keyProblem);
    return;
  }
  for (const field of ['values', 'notValues'] as const) {
    const label = field === 'values' ? 'value' : 'notValue';
    stringList(condition[field]).forEach((v, k) => {
      const problem = v === '' ? `empty value not allowed, found in ${key}` : checkConditionValue(key, v);
      if (problem !== undefined) {
        ctx.error(
          [...path, field, k],
          'PCL_VALIDATION_AUTHZ_CONDITION',
          `invalid \`${label}\` for \`key\` ${key}: ${problem}`,
        );
      }
    });
  }
}

/** CUSTOM (ext-authz) cannot see identity attributes: the webhook rejects them. */
function checkCustomRule(rule: Data, path: FieldPath, ctx: RuleContext): void {
  asList(rule.from)?.forEach((entry, j) => {
    const source = asObject(asObject(entry)?.source);
    if (source === undefined) return;
    for (const field of CUSTOM_FORBIDDEN_SOURCE_FIELDS) {
      if (listLength(source[field]) > 0) {
        ctx.error(
          [...path, 'from', j, 'source', field],
          'PCL_VALIDATION_AUTHZ_ACTION',
          `${field} is currently not supported with CUSTOM action`,
        );
      }
    }
  });
  asList(rule.when)?.forEach((condition, k) => {
    const key = asString(asObject(condition)?.key) ?? '';
    if (CUSTOM_FORBIDDEN_KEYS.includes(key) || key.startsWith('request.auth.')) {
      ctx.error(
        [...path, 'when', k, 'key'],
        'PCL_VALIDATION_AUTHZ_ACTION',
        `${key} is currently not supported with CUSTOM action`,
      );
    }
  });
}

/** Istio `security.CheckEmptyValues`, reported once per list at the first empty item. */
function checkEmptyValues(list: unknown, path: FieldPath, name: string, ctx: RuleContext): void {
  const index = stringList(list).indexOf('');
  if (index >= 0)
    ctx.error([...path, index], 'PCL_VALIDATION_AUTHZ_VALUE', `empty value not allowed, found in ${name}`);
}

/** Go `strconv.ParseUint(port, 10, 32)` then `<= 65535`: plain decimal digits only. */
function isPort(value: string): boolean {
  return /^[0-9]+$/.test(value) && Number(value) <= 65535;
}

function badPort(value: string): string {
  return `bad port (${value}): must be an integer between 0 and 65535`;
}

/**
 * Istio `security.CheckServiceAccount`: `sa` (the policy's namespace) or `ns/sa`, no wildcard, at most 320
 * characters, both parts non-empty.
 */
function checkServiceAccount(value: string): string | undefined {
  if (value.includes('*')) return `wildcard is not allowed in service account ${JSON.stringify(value)}`;
  if (value.length > 320) return `service account ${JSON.stringify(value)} is longer than 320 characters`;
  const parts = value.split('/');
  if (parts.length > 2)
    return `service account ${JSON.stringify(value)} must be in the form <name> or <namespace>/<name>`;
  if (parts.some((p) => p === ''))
    return `service account ${JSON.stringify(value)} must have a non-empty namespace and name`;
  return undefined;
}

/** Trust domain match values: at most one `*`, only at the start or end, and never a `/`. */
function checkTrustDomain(value: string): string | undefined {
  if (value.includes('/')) return `trust domain ${JSON.stringify(value)} must not contain '/'`;
  const stars = value.split('*').length - 1;
  if (stars > 1) return `trust domain ${JSON.stringify(value)} may contain at most one '*'`;
  if (stars === 1 && !value.startsWith('*') && !value.endsWith('*')) {
    return `trust domain ${JSON.stringify(value)} may only have '*' at the start or the end`;
  }
  return undefined;
}

/**
 * Istio `CheckValidPathTemplate`: a path using `{*}`/`{**}` may not also use named variables, `{}`, or bare
 * `*`/`**` segments.
 */
function isSupportedPathTemplate(path: string): boolean {
  if (!path.includes('{*}') && !path.includes('{**}')) return true;
  return !/\/\{\w+=\*\*?\}|\{\w*\}|\/\*\*?|\*\*?\//.test(path);
}

/** Istio `security.ValidateAttribute`, the key part: which `when` keys the webhook accepts. */
function checkConditionKey(key: string): string | undefined {
  const exact = [
    'source.ip',
    'remote.ip',
    'source.namespace',
    'source.principal',
    'source.serviceAccount',
    'source.trustDomain',
    'request.auth.principal',
    'request.auth.audiences',
    'request.auth.presenter',
    'destination.ip',
    'destination.port',
    'connection.sni',
  ];
  if (exact.includes(key)) return undefined;
  if (
    key.startsWith('request.headers') ||
    key.startsWith('request.auth.claims') ||
    key.startsWith('experimental.envoy.filters.')
  ) {
    const open = key.indexOf('[');
    return key.endsWith(']') && open > 0 && open < key.length - 2
      ? undefined
      : `bad key (${key}): should have format a[b]`;
  }
  if (key === 'destination.namespace') return `attribute ${key} is replaced by the metadata.namespace`;
  if (key.startsWith('destination.labels')) return `attribute ${key} is replaced by the workload selector`;
  if (key === 'destination.name' || key === 'destination.user')
    return `deprecated attribute ${key}: only supported in v1alpha1`;
  return `unknown attribute: ${key}`;
}

/** Istio `security.ValidateAttribute`, the value part for keys whose values have a syntax. */
function checkConditionValue(key: string, value: string): string | undefined {
  switch (key) {
    case 'source.ip':
    case 'remote.ip':
    case 'destination.ip':
      return checkIpOrCidr(value);
    case 'destination.port':
      return isPort(value) ? undefined : badPort(value);
    case 'source.serviceAccount':
      return checkServiceAccount(value);
    default:
      return undefined;
  }
}
