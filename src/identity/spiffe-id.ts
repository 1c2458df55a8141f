/** SPIFFE IDs as ztunnel reads them: exactly `spiffe://<td>/ns/<ns>/sa/<sa>`. */

/** A workload identity. `uri` is the canonical `spiffe://` form. */
export interface SpiffeId {
  readonly uri: string;
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** The outcome of parsing: the identity, or why the text is not one. */
export type SpiffeParseResult =
  | { readonly ok: true; readonly id: SpiffeId }
  | { readonly ok: false; readonly reason: string };

/** The rule, as quoted in every parse error message. */
export const SPIFFE_ID_RULE = 'a SPIFFE ID must be exactly spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>';

const PREFIX = 'spiffe://';
// SPIFFE ID spec §2.1: trust domain chars are lowercase letters, digits, '.', '-', '_'.
const TRUST_DOMAIN_RE = /^[a-z0-9._-]+$/;
// SPIFFE ID spec §2.2: path segment chars are letters, digits, '.', '-', '_' (and not '.' or '..').
const SEGMENT_RE = /^[A-Za-z0-9._-]+$/;

function checkSegment(what: string, value: string): string | null {
  if (value === '') return `${what} is empty`;
  if (value === '.' || value === '..') return `${what} may not be "${value}"`;
  if (!SEGMENT_RE.test(value)) return `${what} "${value}" has characters outside [A-Za-z0-9._-]`;
  return null;
}

/**
 * Parse a SPIFFE ID with ztunnel's rule (`Identity::from_str`, src/identity/manager.rs): after `spiffe://`, split on
 * `/` into exactly five parts with the literals `ns` and `sa`. Stricter than ztunnel in one way, on purpose: empty
 * parts, query strings, fragments and characters the SPIFFE spec forbids are rejected rather than carried along.
 *
 * @example parseSpiffeId('spiffe://cluster.local/ns/bookinfo/sa/productpage')
 */
export function parseSpiffeId(uri: string): SpiffeParseResult {
  const fail = (why: string): SpiffeParseResult => ({ ok: false, reason: `${SPIFFE_ID_RULE}: ${why} in "${uri}"` });
  if (!uri.startsWith(PREFIX)) return fail('it does not start with spiffe://');
  const rest = uri.slice(PREFIX.length);
  if (rest.includes('?')) return fail('a query string is not allowed');
  if (rest.includes('#')) return fail('a fragment is not allowed');
  const parts = rest.split('/');
  if (parts.length !== 5) return fail(`it has ${parts.length} path parts instead of 5`);
  const [trustDomain, nsLiteral, namespace, saLiteral, serviceAccount] = parts;
  if (trustDomain === '') return fail('the trust domain is empty');
  if (!TRUST_DOMAIN_RE.test(trustDomain)) {
    return fail(`the trust domain "${trustDomain}" has characters outside [a-z0-9._-]`);
  }
  if (nsLiteral !== 'ns') return fail(`the second part is "${nsLiteral}", not "ns"`);
  if (saLiteral !== 'sa') return fail(`the fourth part is "${saLiteral}", not "sa"`);
  const bad = checkSegment('the namespace', namespace) ?? checkSegment('the service account', serviceAccount);
  if (bad !== null) return fail(bad);
  return { ok: true, id: { uri, trustDomain, namespace, serviceAccount } };
}

/** Build the canonical SPIFFE ID of a service account. Throws if the parts do not make a valid ID. */
export function formatSpiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  const uri = `${PREFIX}${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
  const parsed = parseSpiffeId(uri);
  if (!parsed.ok) throw new TypeError(parsed.reason);
  return uri;
}

/**
 * Parse an identity given on a command line or in a test: a full SPIFFE ID, or the `namespace/serviceaccount`
 * shorthand completed with `trustDomain`.
 */
export function parseIdentityArg(arg: string, trustDomain: string): SpiffeParseResult {
  if (arg.startsWith(PREFIX)) return parseSpiffeId(arg);
  const parts = arg.split('/');
  if (parts.length !== 2) {
    return {
      ok: false,
      reason: `${SPIFFE_ID_RULE} (or the short form <namespace>/<service-account>): cannot read "${arg}"`,
    };
  }
  return parseSpiffeId(`${PREFIX}${trustDomain}/ns/${parts[0]}/sa/${parts[1]}`);
}
