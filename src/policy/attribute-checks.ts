/** Compiles each AuthorizationPolicy field (source, operation, `when` key) into a check, tagged L4 or HTTP-only. */
import type { AuthzCondition, AuthzOperation, AuthzSource } from '../config/api-types.ts';
import type { Check } from './rule-match.ts';
import {
  ATTR_METHOD,
  ATTR_NAMESPACE,
  ATTR_PRINCIPAL,
  ATTR_SNI,
  ATTR_TRUST_DOMAIN,
  type RequestFacts,
} from './request-facts.ts';
import { anyStringMatches, compileStringMatch, type StringMatch } from './string-match.ts';
import { anyCidrContains, cidrContains, parseCidr, type CidrBlock } from '../net/ip.ts';
import { compilePathMatcher, type PathMatcher } from './path-template.ts';

/**
 * One compiled field. `attribute` is the name ztunnel's status message uses (`methods`, `request.headers[x]`);
 * `http` marks attributes ztunnel cannot enforce (istio/istio pilot/pkg/serviceregistry/ambient/authorization.go).
 *
 * Which attributes are HTTP-only: istiod's `httpOperations` / `httpSources` / `l4WhenAttributes`
 * (pilot/pkg/serviceregistry/ambient/authorization.go): hosts, notHosts, methods, notMethods, paths, notPaths,
 * remoteIpBlocks, notRemoteIpBlocks, requestPrincipals, notRequestPrincipals, and every `when` key outside
 * source.ip / source.namespace / source.principal / destination.ip / destination.port.
 *
 * Deliberate difference, decided for Portcullis: trustDomains / notTrustDomains, serviceAccounts /
 * notServiceAccounts and the `when` keys source.serviceAccount, source.trustDomain and connection.sni are
 * enforced at L4. istiod reports trustDomains as unsupported only because ztunnel's `Match` has no trust-domain
 * field; Portcullis holds the verified peer certificate (trust domain, namespace, service account) and the
 * ClientHello (SNI) at connection time, so these are connection attributes for us, not HTTP ones.
 * `ports` are L4 as in ztunnel: Portcullis knows the ServiceEntry port the caller dialled.
 */
export interface FieldCheck {
  readonly attribute: string;
  readonly http: boolean;
  readonly test: Check;
}

/** Compile-time context: the policy namespace (bare service accounts), the mesh trust domain, and problems found. */
export interface CheckContext {
  readonly policyNamespace: string;
  readonly trustDomain: string | undefined;
  /** Values that could not be compiled; each becomes part of a policy condition. */
  readonly invalid: string[];
}

const CLUSTER_LOCAL = 'cluster.local';

/**
 * Istio rewrites a principal written with the mesh trust domain or `cluster.local` to the mesh trust domain
 * (`ReplaceTrustDomainAliases`, pilot/pkg/security/trustdomain/bundle.go); a leading `*` means the trust
 * domain is not enforced and is kept as written. Portcullis has no trust-domain aliases.
 */
function rewriteTrustDomain(value: string, trustDomain: string | undefined): string {
  if (trustDomain === undefined || value.startsWith('*')) return value;
  const slash = value.indexOf('/');
  if (slash <= 0) return value;
  const td = value.slice(0, slash);
  return td === CLUSTER_LOCAL || td === trustDomain ? trustDomain + value.slice(slash) : value;
}

function strings(values: readonly string[], lowerCase = false): StringMatch[] {
  return values.map((v) => compileStringMatch(v, lowerCase));
}

function cidrs(values: readonly string[], field: string, ctx: CheckContext): CidrBlock[] {
  const out: CidrBlock[] = [];
  for (const v of values) {
    const b = parseCidr(v);
    // An unparsable block matches nothing (the webhook rejects it; this only guards unvalidated input).
    if (b === null) ctx.invalid.push(`${field}: "${v}" is not an IP address or CIDR (ignored)`);
    else out.push(b);
  }
  return out;
}

function ports(values: readonly string[], field: string, ctx: CheckContext): Set<number> {
  const out = new Set<number>();
  for (const v of values) {
    const n = /^\d{1,5}$/.test(v) ? Number(v) : NaN;
    if (Number.isInteger(n) && n <= 65535) out.add(n);
    else ctx.invalid.push(`${field}: "${v}" is not a port number (ignored)`);
  }
  return out;
}

interface ServiceAccountRef {
  readonly namespace: string;
  readonly name: string;
}

/** `ns/sa`, or a bare `sa` meaning the policy's namespace (istiod `stringToServiceAccountMatch`). */
function serviceAccounts(values: readonly string[], ctx: CheckContext): ServiceAccountRef[] {
  return values.map((v) => {
    const slash = v.indexOf('/');
    return slash < 0
      ? { namespace: ctx.policyNamespace, name: v }
      : { namespace: v.slice(0, slash), name: v.slice(slash + 1) };
  });
}

function anyServiceAccount(list: readonly ServiceAccountRef[], f: RequestFacts): boolean {
  for (let i = 0; i < list.length; i++) {
    if (list[i].namespace === f.namespace && list[i].name === f.serviceAccount) return true;
  }
  return false;
}

// ---- checks over one attribute; `negate` builds the notX twin: "none of" (and passes when the attribute is absent).
// Common shapes (one exact value, one block, one port) get closures that touch no list at decision time.

/** A string check over `f.attrs[attr]` (see `ATTR_*`). */
function stringCheck(attr: number, list: readonly StringMatch[], negate: boolean): Check {
  if (list.every((m) => m.kind === 0)) {
    const values = list.map((m) => m.value);
    if (values.length === 1) {
      // A non-empty literal never equals null, so absence falls out of the comparison.
      const v0 = values[0];
      return negate ? (f) => f.attrs[attr] !== v0 : (f) => f.attrs[attr] === v0;
    }
    const anyExact = (v: string | null): boolean => {
      if (v === null) return false;
      for (let i = 0; i < values.length; i++) if (values[i] === v) return true;
      return false;
    };
    return negate ? (f) => !anyExact(f.attrs[attr]) : (f) => anyExact(f.attrs[attr]);
  }
  return negate
    ? (f) => {
        const v = f.attrs[attr];
        return v === null || !anyStringMatches(list, v);
      }
    : (f) => {
        const v = f.attrs[attr];
        return v !== null && anyStringMatches(list, v);
      };
}

function sourceIpCheck(list: readonly CidrBlock[], negate: boolean): Check {
  if (list.length === 1) {
    const b = list[0];
    return negate
      ? (f) => f.sourceIp === null || !cidrContains(b, f.sourceIp)
      : (f) => f.sourceIp !== null && cidrContains(b, f.sourceIp);
  }
  return negate
    ? (f) => f.sourceIp === null || !anyCidrContains(list, f.sourceIp)
    : (f) => f.sourceIp !== null && anyCidrContains(list, f.sourceIp);
}

function destinationIpCheck(list: readonly CidrBlock[], negate: boolean): Check {
  return negate
    ? (f) => f.destinationIp === null || !anyCidrContains(list, f.destinationIp)
    : (f) => f.destinationIp !== null && anyCidrContains(list, f.destinationIp);
}

function portCheck(set: ReadonlySet<number>, negate: boolean): Check {
  const ports = [...set];
  if (ports.length === 1) {
    const p0 = ports[0];
    return negate ? (f) => f.destinationPort !== p0 : (f) => f.destinationPort === p0;
  }
  if (ports.length === 2) {
    const [p0, p1] = ports;
    return negate
      ? (f) => f.destinationPort !== p0 && f.destinationPort !== p1
      : (f) => f.destinationPort === p0 || f.destinationPort === p1;
  }
  return negate ? (f) => !set.has(f.destinationPort) : (f) => set.has(f.destinationPort);
}

function serviceAccountCheck(list: readonly ServiceAccountRef[], negate: boolean): Check {
  if (list.length === 1) {
    const { namespace, name } = list[0];
    return negate
      ? (f) => !(f.namespace === namespace && f.serviceAccount === name)
      : (f) => f.namespace === namespace && f.serviceAccount === name;
  }
  return negate
    ? (f) => f.namespace === null || !anyServiceAccount(list, f)
    : (f) => f.namespace !== null && anyServiceAccount(list, f);
}

/** hosts match `:authority` case-insensitively; the port-less host, or the full authority for `host:port` values. */
function hostCheck(list: readonly StringMatch[], negate: boolean): Check {
  const matches = (f: RequestFacts): boolean =>
    f.http !== null &&
    (anyStringMatches(list, f.http.host) ||
      (f.http.authority !== f.http.host && anyStringMatches(list, f.http.authority)));
  return negate ? (f) => !matches(f) : matches;
}

function pathCheck(list: readonly PathMatcher[], negate: boolean): Check {
  const matches = (f: RequestFacts): boolean => {
    if (f.http === null) return false;
    for (let i = 0; i < list.length; i++) if (list[i](f.http.path)) return true;
    return false;
  };
  return negate ? (f) => !matches(f) : matches;
}

function headerCheck(name: string, list: readonly StringMatch[], negate: boolean): Check {
  const get = (f: RequestFacts): string | null => (f.http === null ? null : (f.http.headers[name] ?? null));
  return negate
    ? (f) => {
        const v = get(f);
        return v === null || !anyStringMatches(list, v);
      }
    : (f) => {
        const v = get(f);
        return v !== null && anyStringMatches(list, v);
      };
}

/**
 * Attributes from JWT validation (`requestPrincipals`, `request.auth.*`). Portcullis does not validate JWTs
 * (no RequestAuthentication support), so every request has "no request principal": like Envoy with no
 * `request.auth` metadata, a positive match never succeeds and a negative one always passes.
 */
function absentAttributeCheck(negate: boolean): Check {
  return negate ? () => true : () => false;
}

function has(list: readonly string[] | undefined): list is readonly string[] {
  return list !== undefined && list.length > 0;
}

/** Compile one `from[].source`. An empty or missing source yields no checks (never matches). */
export function compileSourceChecks(s: AuthzSource | undefined, ctx: CheckContext): FieldCheck[] {
  const out: FieldCheck[] = [];
  if (s === undefined) return out;
  const principals = (vs: readonly string[]) => strings(vs.map((v) => rewriteTrustDomain(v, ctx.trustDomain)));
  if (has(s.principals))
    out.push({
      attribute: 'principals',
      http: false,
      test: stringCheck(ATTR_PRINCIPAL, principals(s.principals), false),
    });
  if (has(s.notPrincipals))
    out.push({
      attribute: 'notPrincipals',
      http: false,
      test: stringCheck(ATTR_PRINCIPAL, principals(s.notPrincipals), true),
    });
  if (has(s.namespaces))
    out.push({ attribute: 'namespaces', http: false, test: stringCheck(ATTR_NAMESPACE, strings(s.namespaces), false) });
  if (has(s.notNamespaces))
    out.push({
      attribute: 'notNamespaces',
      http: false,
      test: stringCheck(ATTR_NAMESPACE, strings(s.notNamespaces), true),
    });
  if (has(s.serviceAccounts))
    out.push({
      attribute: 'serviceAccounts',
      http: false,
      test: serviceAccountCheck(serviceAccounts(s.serviceAccounts, ctx), false),
    });
  if (has(s.notServiceAccounts))
    out.push({
      attribute: 'notServiceAccounts',
      http: false,
      test: serviceAccountCheck(serviceAccounts(s.notServiceAccounts, ctx), true),
    });
  if (has(s.trustDomains))
    out.push({
      attribute: 'trustDomains',
      http: false,
      test: stringCheck(ATTR_TRUST_DOMAIN, strings(s.trustDomains), false),
    });
  if (has(s.notTrustDomains))
    out.push({
      attribute: 'notTrustDomains',
      http: false,
      test: stringCheck(ATTR_TRUST_DOMAIN, strings(s.notTrustDomains), true),
    });
  if (has(s.ipBlocks))
    out.push({ attribute: 'ipBlocks', http: false, test: sourceIpCheck(cidrs(s.ipBlocks, 'ipBlocks', ctx), false) });
  if (has(s.notIpBlocks))
    out.push({
      attribute: 'notIpBlocks',
      http: false,
      test: sourceIpCheck(cidrs(s.notIpBlocks, 'notIpBlocks', ctx), true),
    });
  // remote.ip is the original client behind trusted proxies (XFF / PROXY protocol). Portcullis trusts no
  // proxy hops, so the remote address is the peer address.
  if (has(s.remoteIpBlocks))
    out.push({
      attribute: 'remoteIpBlocks',
      http: true,
      test: sourceIpCheck(cidrs(s.remoteIpBlocks, 'remoteIpBlocks', ctx), false),
    });
  if (has(s.notRemoteIpBlocks))
    out.push({
      attribute: 'notRemoteIpBlocks',
      http: true,
      test: sourceIpCheck(cidrs(s.notRemoteIpBlocks, 'notRemoteIpBlocks', ctx), true),
    });
  if (has(s.requestPrincipals))
    out.push({ attribute: 'requestPrincipals', http: true, test: absentAttributeCheck(false) });
  if (has(s.notRequestPrincipals))
    out.push({ attribute: 'notRequestPrincipals', http: true, test: absentAttributeCheck(true) });
  return out;
}

/** Compile one `to[].operation`. */
export function compileOperationChecks(o: AuthzOperation | undefined, ctx: CheckContext): FieldCheck[] {
  const out: FieldCheck[] = [];
  if (o === undefined) return out;
  if (has(o.hosts)) out.push({ attribute: 'hosts', http: true, test: hostCheck(strings(o.hosts, true), false) });
  if (has(o.notHosts))
    out.push({ attribute: 'notHosts', http: true, test: hostCheck(strings(o.notHosts, true), true) });
  if (has(o.ports)) out.push({ attribute: 'ports', http: false, test: portCheck(ports(o.ports, 'ports', ctx), false) });
  if (has(o.notPorts))
    out.push({ attribute: 'notPorts', http: false, test: portCheck(ports(o.notPorts, 'notPorts', ctx), true) });
  if (has(o.methods))
    out.push({ attribute: 'methods', http: true, test: stringCheck(ATTR_METHOD, strings(o.methods), false) });
  if (has(o.notMethods))
    out.push({ attribute: 'notMethods', http: true, test: stringCheck(ATTR_METHOD, strings(o.notMethods), true) });
  if (has(o.paths))
    out.push({ attribute: 'paths', http: true, test: pathCheck(o.paths.map(compilePathMatcher), false) });
  if (has(o.notPaths))
    out.push({ attribute: 'notPaths', http: true, test: pathCheck(o.notPaths.map(compilePathMatcher), true) });
  return out;
}

const HEADER_KEY = /^request\.headers\[(.+)\]$/;

/** Build the (values, notValues) checks of one `when` key; returns whether the key is HTTP-only. */
function conditionBuilder(
  key: string,
  ctx: CheckContext,
): { http: boolean; build: (values: readonly string[], negate: boolean) => Check } {
  switch (key) {
    case 'source.ip':
      return { http: false, build: (vs, neg) => sourceIpCheck(cidrs(vs, key, ctx), neg) };
    case 'remote.ip':
      return { http: true, build: (vs, neg) => sourceIpCheck(cidrs(vs, key, ctx), neg) };
    case 'source.namespace':
      return { http: false, build: (vs, neg) => stringCheck(ATTR_NAMESPACE, strings(vs), neg) };
    case 'source.principal':
      return {
        http: false,
        build: (vs, neg) =>
          stringCheck(ATTR_PRINCIPAL, strings(vs.map((v) => rewriteTrustDomain(v, ctx.trustDomain))), neg),
      };
    case 'source.serviceAccount':
      return { http: false, build: (vs, neg) => serviceAccountCheck(serviceAccounts(vs, ctx), neg) };
    case 'source.trustDomain':
      return { http: false, build: (vs, neg) => stringCheck(ATTR_TRUST_DOMAIN, strings(vs), neg) };
    case 'destination.ip':
      return { http: false, build: (vs, neg) => destinationIpCheck(cidrs(vs, key, ctx), neg) };
    case 'destination.port':
      return { http: false, build: (vs, neg) => portCheck(ports(vs, key, ctx), neg) };
    case 'connection.sni':
      return { http: false, build: (vs, neg) => stringCheck(ATTR_SNI, strings(vs), neg) };
    default: {
      const header = HEADER_KEY.exec(key);
      if (header !== null) {
        // Header names are case-insensitive; the data plane hands them over lower-cased.
        const name = header[1].toLowerCase();
        return { http: true, build: (vs, neg) => headerCheck(name, strings(vs), neg) };
      }
      if (!key.startsWith('request.auth.') && !key.startsWith('experimental.envoy.filters.')) {
        ctx.invalid.push(`when: unknown attribute "${key}" (never matches its values)`);
      }
      // request.auth.* needs JWT validation, which Portcullis does not do; experimental Envoy filter
      // metadata does not exist here. Both behave as an absent attribute.
      return { http: true, build: (_vs, neg) => absentAttributeCheck(neg) };
    }
  }
}

/** Compile one `when[]` condition: `values` (any of) AND `notValues` (none of). */
export function compileConditionChecks(c: AuthzCondition, ctx: CheckContext): FieldCheck[] {
  const out: FieldCheck[] = [];
  const b = conditionBuilder(c.key, ctx);
  if (has(c.values)) out.push({ attribute: c.key, http: b.http, test: b.build(c.values, false) });
  if (has(c.notValues)) out.push({ attribute: c.key, http: b.http, test: b.build(c.notValues, true) });
  // A condition with neither list (the webhook rejects it) still names its attribute for the L4 report.
  if (out.length === 0 && b.http) out.push({ attribute: c.key, http: true, test: absentAttributeCheck(false) });
  return out;
}
