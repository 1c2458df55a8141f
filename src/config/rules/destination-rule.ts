/**
 * DestinationRule semantics: the CRD's CEL rules (durations >= 1ms, selector labels) and istiod's webhook
 * checks Portcullis acts on: `agent.ValidateTLS` for client TLS and the load-balancer warmup ranges
 * (istio/istio pkg/config/validation/agent/validation.go and validation.go `validateLoadBalancer`).
 */
import type { FieldPath } from '../types.ts';
import type { RuleContext, SemanticRule } from './rule-context.ts';
import { asList, asNumber, asObject, asString, has, type Data } from './data-access.ts';
import { ONE_MILLISECOND, parseDuration } from './duration.ts';
import { celInvalid, invalidValue } from './messages.ts';
import { checkMatchLabelsSelector } from './workload-selector.ts';
import { checkWildcardDomain } from './dns-name.ts';

/** Duration fields of a TrafficPolicy that carry `duration(self) >= duration('1ms')` in the CRD. */
const DURATION_FIELDS: ReadonlyArray<readonly string[]> = [
  ['connectionPool', 'http', 'http2KeepAlive', 'interval'],
  ['connectionPool', 'http', 'http2KeepAlive', 'timeout'],
  ['connectionPool', 'http', 'idleTimeout'],
  ['connectionPool', 'tcp', 'connectTimeout'],
  ['connectionPool', 'tcp', 'maxConnectionDuration'],
  ['connectionPool', 'tcp', 'tcpKeepalive', 'interval'],
  ['connectionPool', 'tcp', 'tcpKeepalive', 'time'],
  ['loadBalancer', 'warmup', 'duration'],
  ['loadBalancer', 'warmupDurationSecs'],
  ['outlierDetection', 'baseEjectionTime'],
  ['outlierDetection', 'interval'],
];

const CONFIGMAP_PREFIX = 'configmap://';

export const destinationRuleRule: SemanticRule = (doc, ctx) => {
  const spec = asObject(doc.spec);
  if (spec === undefined) return;
  // istiod's ValidateDestinationRule: `agent.ValidateWildcardDomain(rule.Host)` ("empty domain name not allowed").
  const hostProblem = checkWildcardDomain(asString(spec.host) ?? '');
  if (hostProblem !== undefined) ctx.error(['spec', 'host'], 'PCL_VALIDATION_DESTINATION_RULE_HOST', hostProblem);
  checkMatchLabelsSelector(spec.workloadSelector, ['spec', 'workloadSelector'], ctx);
  checkTrafficPolicy(spec.trafficPolicy, ['spec', 'trafficPolicy'], true, ctx);
  asList(spec.subsets)?.forEach((subset, i) => {
    checkTrafficPolicy(asObject(subset)?.trafficPolicy, ['spec', 'subsets', i, 'trafficPolicy'], true, ctx);
  });
};

function checkTrafficPolicy(value: unknown, path: FieldPath, withPortLevel: boolean, ctx: RuleContext): void {
  const policy = asObject(value);
  if (policy === undefined) return;
  for (const fieldPath of DURATION_FIELDS) checkDurationField(policy, path, fieldPath, ctx);
  checkWarmup(asObject(asObject(policy.loadBalancer)?.warmup), [...path, 'loadBalancer', 'warmup'], ctx);
  if (has(policy, 'tls')) checkClientTls(asObject(policy.tls), [...path, 'tls'], ctx);
  if (withPortLevel) {
    asList(policy.portLevelSettings)?.forEach((entry, i) =>
      checkTrafficPolicy(entry, [...path, 'portLevelSettings', i], false, ctx),
    );
  }
}

function checkDurationField(policy: Data, base: FieldPath, fieldPath: readonly string[], ctx: RuleContext): void {
  let node: unknown = policy;
  for (const key of fieldPath) node = asObject(node)?.[key];
  const text = asString(node);
  if (text === undefined) return;
  const nanos = parseDuration(text);
  if (nanos === undefined || nanos < ONE_MILLISECOND) {
    ctx.error(
      [...base, ...fieldPath],
      'PCL_VALIDATION_DESTINATION_RULE_TRAFFIC_POLICY',
      celInvalid('string', 'must be a valid duration greater than 1ms'),
    );
  }
}

/** Warmup: `minimumPercent` within 0-100 (CRD bounds and webhook), `aggression` >= 1 (webhook). */
function checkWarmup(warmup: Data | undefined, path: FieldPath, ctx: RuleContext): void {
  if (warmup === undefined) return;
  const code = 'PCL_VALIDATION_DESTINATION_RULE_TRAFFIC_POLICY';
  const minimumPercent = asNumber(warmup.minimumPercent);
  if (minimumPercent !== undefined && (minimumPercent < 0 || minimumPercent > 100)) {
    ctx.error(
      [...path, 'minimumPercent'],
      code,
      invalidValue(minimumPercent, 'minimumPercent must be between 0 and 100'),
    );
  }
  const aggression = asNumber(warmup.aggression);
  if (aggression !== undefined && aggression < 1) {
    ctx.error(
      [...path, 'aggression'],
      code,
      invalidValue(aggression, 'aggression should be greater than or equal to 1'),
    );
  }
}

/** Istio `agent.ValidateTLS` for a ClientTLSSettings block. */
function checkClientTls(tls: Data | undefined, path: FieldPath, ctx: RuleContext): void {
  if (tls === undefined) return;
  const code = 'PCL_VALIDATION_DESTINATION_RULE_TLS';
  const mode = asString(tls.mode) ?? 'DISABLE';
  const set = (field: string) => (asString(tls[field]) ?? '') !== '';
  const credentialName = asString(tls.credentialName) ?? '';
  // `subjectAltNames != nil` in Go: present, even as an empty list.
  const sanSet = has(tls, 'subjectAltNames');

  if (credentialName.startsWith(CONFIGMAP_PREFIX)) {
    const rest = credentialName.slice(CONFIGMAP_PREFIX.length);
    const slash = rest.indexOf('/');
    const namespace = slash < 0 ? ctx.namespace : rest.slice(0, slash);
    const name = slash < 0 ? rest : rest.slice(slash + 1);
    if (name === '' || name.includes('/')) {
      ctx.error(
        [...path, 'credentialName'],
        code,
        `invalid configmap:// credentialName: ${JSON.stringify(credentialName)} is not configmap://[namespace/]name`,
      );
    } else if (namespace !== ctx.namespace || ctx.namespace === '') {
      ctx.error(
        [...path, 'credentialName'],
        code,
        `invalid configmap:// credentialName: namespace must match the configuration namespace ${JSON.stringify(ctx.namespace)}`,
      );
    }
  }

  if (tls.insecureSkipVerify === true) {
    if (mode === 'SIMPLE' && (set('caCertificates') || credentialName !== '' || sanSet)) {
      ctx.error(
        path,
        code,
        'cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true',
      );
    }
    if (mode === 'MUTUAL' && (set('caCertificates') || sanSet)) {
      ctx.error(path, code, 'cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true');
    }
  }

  if ((mode === 'SIMPLE' || mode === 'MUTUAL') && credentialName !== '') {
    if (set('clientCertificate') || set('caCertificates') || set('privateKey') || set('caCrl')) {
      ctx.error(path, code, 'cannot specify client certificates or CA certificate or CA CRL If credentialName is set');
    }
    return;
  }
  if (mode === 'MUTUAL') {
    if (!set('clientCertificate'))
      ctx.error([...path, 'clientCertificate'], code, 'client certificate required for mutual tls');
    if (!set('privateKey')) ctx.error([...path, 'privateKey'], code, 'private key required for mutual tls');
  }
}
