/**
 * Request paths as the waypoint matches and forwards them: the request target split into path and query, dot
 * segments removed (RFC 3986 §5.2.4, Envoy's `normalize_path`, on by default in Istio), and the Gateway API's
 * element-wise PathPrefix test.
 */

/** A request target split for matching. `path` never contains `?` or `#`. */
export interface RequestTarget {
  readonly path: string;
  /** The query string without `?`, or '' when there is none. */
  readonly query: string;
}

/**
 * Split an origin-form target (`/a/b?x=1`). Returns null for anything that is not origin-form after the caller
 * has reduced absolute-form to it; the fragment, which clients must not send, is dropped as Envoy drops it.
 */
export function splitTarget(target: string): RequestTarget | null {
  if (!target.startsWith('/')) return null;
  let end = target.length;
  const hash = target.indexOf('#');
  if (hash >= 0) end = hash;
  const q = target.indexOf('?');
  if (q >= 0 && q < end) return { path: normalizePath(target.slice(0, q)), query: target.slice(q + 1, end) };
  return { path: normalizePath(target.slice(0, end)), query: '' };
}

/** Remove `.` and `..` segments (RFC 3986 §5.2.4). Percent-encoded slashes stay encoded, as Envoy's default. */
export function normalizePath(path: string): string {
  if (!path.includes('/.')) return path;
  const out: string[] = [];
  const segments = path.split('/');
  // segments[0] is '' (the path starts with '/').
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i];
    const last = i === segments.length - 1;
    if (s === '.') {
      if (last) out.push('');
    } else if (s === '..') {
      out.pop();
      if (last) out.push('');
    } else out.push(s);
  }
  return '/' + out.join('/');
}

/** The PathPrefix value as matched: a trailing `/` is ignored (Gateway API; Istio trims it too). */
export function prefixValue(value: string): string {
  return value.length > 1 && value.endsWith('/') ? value.replace(/\/+$/, '') : value;
}

/**
 * Element-wise prefix match (Gateway API PathPrefix): `/abc` matches `/abc`, `/abc/`, `/abc/def`, never `/abcd`.
 * `prefix` is already passed through `prefixValue`.
 */
export function pathHasPrefix(path: string, prefix: string): boolean {
  if (prefix === '/' || prefix === '') return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path.charCodeAt(prefix.length) === 0x2f;
}

/** Parse a query string into the FIRST value of each parameter (what Envoy's query_parameter matcher reads). */
export function firstQueryValues(query: string): Map<string, string> {
  const out = new Map<string, string>();
  if (query === '') return out;
  for (const [k, v] of new URLSearchParams(query)) if (!out.has(k)) out.set(k, v);
  return out;
}
