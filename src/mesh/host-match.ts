/**
 * The two small name rules the data plane, the waypoint and the compiler share: a ServiceEntry host pattern match
 * and Istio's `credentialName` syntax. Kept apart from the compiler so its readers import only these.
 */

/** Is `host` matched by a ServiceEntry host pattern (exact, or `*.suffix` wildcard)? */
export function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase();
  if (p === h) return true;
  if (p.startsWith('*.')) return h.endsWith(p.slice(1)) && h.length > p.length - 1;
  if (p === '*') return true;
  return false;
}

/**
 * `credentialName` as Istio reads it (pilot/pkg/model/credentials): `name` (in `defaultNamespace`, the proxy's),
 * `namespace/name`, `kubernetes://name`, `kubernetes://namespace/name`.
 */
export function parseCredentialName(
  value: string,
  defaultNamespace: string,
): { namespace: string; name: string } | { error: string } {
  let v = value;
  if (v.startsWith('kubernetes://')) v = v.slice('kubernetes://'.length);
  else if (v.includes('://')) return { error: `credentialName "${value}": only kubernetes:// secrets are supported` };
  const parts = v.split('/');
  if (parts.length === 1 && parts[0] !== '') return { namespace: defaultNamespace, name: parts[0] };
  if (parts.length === 2 && parts[0] !== '' && parts[1] !== '') return { namespace: parts[0], name: parts[1] };
  return { error: `credentialName "${value}" must be "name" or "namespace/name"` };
}
