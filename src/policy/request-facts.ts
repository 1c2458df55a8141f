/** A request broken into the attributes policies match on, computed once per decision. */
import type { AuthzRequest } from './request.ts';
import { parseIp, type IpAddress } from '../net/ip.ts';

/** The HTTP attributes of an L7 request, normalised the way Istio/Envoy match them. */
export interface HttpFacts {
  readonly method: string;
  /** `:authority` lower-cased (hosts match case-insensitively), with any port. */
  readonly authority: string;
  /** `:authority` lower-cased without its port. */
  readonly host: string;
  /** The path without query and fragment (Envoy's `url_path` / `removeQueryAndFragment`). */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
}

/**
 * Everything a compiled matcher reads. Identity fields are null without a (well-formed) peer identity:
 * ztunnel then fails every positive principal / namespace / service-account match and passes every negative one.
 */
export interface RequestFacts {
  /** The principal without `spiffe://`, e.g. `cluster.local/ns/bookinfo/sa/x` (ztunnel `matches_principal`). */
  readonly principal: string | null;
  readonly trustDomain: string | null;
  readonly namespace: string | null;
  readonly serviceAccount: string | null;
  readonly sourceIp: IpAddress | null;
  readonly destinationIp: IpAddress | null;
  readonly destinationPort: number;
  readonly sni: string | null;
  /** null for an L4 decision. */
  readonly http: HttpFacts | null;
  /**
   * The string attributes again, indexed by the `ATTR_*` constants, so one compiled check serves every
   * string attribute without a getter call.
   */
  readonly attrs: readonly (string | null)[];
}

export const ATTR_PRINCIPAL = 0;
export const ATTR_NAMESPACE = 1;
export const ATTR_TRUST_DOMAIN = 2;
export const ATTR_SERVICE_ACCOUNT = 3;
export const ATTR_SNI = 4;
export const ATTR_METHOD = 5;

const SPIFFE_PREFIX = 'spiffe://';

/**
 * Split `spiffe://<td>/ns/<ns>/sa/<sa>` the way ztunnel's `Identity::from_str` does: exactly those five
 * segments, all non-empty. Anything else is treated as "no identity" (fail closed for ALLOW).
 */
function splitSpiffe(uri: string): { principal: string; td: string; ns: string; sa: string } | null {
  if (!uri.startsWith(SPIFFE_PREFIX)) return null;
  const principal = uri.slice(SPIFFE_PREFIX.length);
  const a = principal.indexOf('/');
  if (a <= 0 || !principal.startsWith('/ns/', a)) return null;
  const b = principal.indexOf('/', a + 4);
  if (b <= a + 4 || !principal.startsWith('/sa/', b)) return null;
  const sa = principal.slice(b + 4);
  if (sa === '' || sa.includes('/')) return null;
  return { principal, td: principal.slice(0, a), ns: principal.slice(a + 4, b), sa };
}

function stripPort(authority: string): string {
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    return close < 0 ? authority : authority.slice(0, close + 1);
  }
  const colon = authority.indexOf(':');
  return colon < 0 ? authority : authority.slice(0, colon);
}

function stripQuery(path: string): string {
  let end = path.length;
  const q = path.indexOf('?');
  if (q >= 0) end = q;
  const h = path.indexOf('#');
  if (h >= 0 && h < end) end = h;
  return end === path.length ? path : path.slice(0, end);
}

/** Compute the facts for one request. The only per-decision parsing Portcullis does. */
export function buildRequestFacts(req: AuthzRequest): RequestFacts {
  const id = req.principal === null ? null : splitSpiffe(req.principal);
  let http: HttpFacts | null = null;
  if (req.http !== undefined) {
    const authority = req.http.host.toLowerCase();
    http = {
      method: req.http.method,
      authority,
      host: stripPort(authority),
      path: stripQuery(req.http.path),
      headers: req.http.headers,
    };
  }
  const principal = id === null ? null : id.principal;
  const trustDomain = id === null ? null : id.td;
  const namespace = id === null ? null : id.ns;
  const serviceAccount = id === null ? null : id.sa;
  const sni = req.sni === undefined || req.sni === '' ? null : req.sni;
  return {
    principal,
    trustDomain,
    namespace,
    serviceAccount,
    sourceIp: parseIp(req.sourceIp),
    destinationIp: req.destinationIp === '' ? null : parseIp(req.destinationIp),
    destinationPort: req.destinationPort,
    sni,
    http,
    attrs: [principal, namespace, trustDomain, serviceAccount, sni, http === null ? null : http.method],
  };
}
