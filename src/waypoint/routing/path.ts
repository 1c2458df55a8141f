/**
 * Request paths as the waypoint authorizes, matches and forwards them (one path for all three): the request target
 * split into path and query, normalised as Istio's `meshConfig.pathNormalization` asks (Envoy's `normalize_path`,
 * `merge_slashes` and `path_with_escaped_slashes_action`), and the Gateway API's element-wise PathPrefix test.
 */
import type { PathNormalization } from '../../config/settings-types.ts';

/** A request target split for matching. `path` never contains `?` or `#`. */
export interface RequestTarget {
  readonly path: string;
  /** The query string without `?`, or '' when there is none. */
  readonly query: string;
}

export type TargetResult =
  | { readonly ok: true; readonly target: RequestTarget }
  | { readonly ok: false; readonly reason: string };

/**
 * Split an origin-form target (`/a/b?x=1`) and normalise its path. Refuses anything that is not origin-form after
 * the caller has reduced absolute-form to it, and any path that cannot be normalised safely; the fragment, which
 * clients must not send, is dropped as Envoy drops it. The query is kept byte for byte.
 */
export function parseTarget(target: string, mode: PathNormalization = 'BASE'): TargetResult {
  if (!target.startsWith('/')) {
    return { ok: false, reason: `request target "${target.slice(0, 200)}" is not an absolute path` };
  }
  let end = target.length;
  const hash = target.indexOf('#');
  if (hash >= 0) end = hash;
  const q = target.indexOf('?');
  const pathEnd = q >= 0 && q < end ? q : end;
  const path = canonicalPath(target.slice(0, pathEnd), mode);
  if (!path.ok) return path;
  return { ok: true, target: { path: path.path, query: pathEnd < end ? target.slice(pathEnd + 1, end) : '' } };
}

const UNRESERVED = /^[A-Za-z0-9._~-]$/;
// RFC 3986 §3.3 pchar (unreserved, sub-delims, ':' and '@') plus the '/' between segments; '%' is handled apart.
const PATH_CHAR = /^[A-Za-z0-9._~!$&'()*+,;=:@/-]$/;
const HEX2 = /^[0-9A-Fa-f]{2}$/;

/**
 * Normalise a path as Envoy does for Istio's modes. `NONE`: as received. `BASE` (Istio's default): percent-encoded
 * unreserved characters decoded (RFC 3986 §6.2.2.2, so `%2e%2e` is `..`), other escapes upper-cased (§6.2.2.1),
 * characters a path may not hold percent-encoded (Chromium's canonicaliser, which Envoy's `canonicalPath` uses),
 * then dot segments removed (§5.2.4). `MERGE_SLASHES`: also `//` → `/`. `DECODE_AND_MERGE_SLASHES`: also `%2F` and
 * `%5C` decoded to `/` first (Envoy `UNESCAPE_AND_FORWARD`). Refused: a malformed escape, a control character, a
 * raw backslash (servers disagree whether it separates segments, so no single normalised form exists).
 */
export function canonicalPath(
  raw: string,
  mode: PathNormalization,
): { ok: true; path: string } | { ok: false; reason: string } {
  if (mode === 'NONE') return { ok: true, path: raw };
  const fail = (why: string) => ({ ok: false as const, reason: `request path cannot be normalised safely: ${why}` });
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === '%') {
      const hex = raw.slice(i + 1, i + 3);
      if (!HEX2.test(hex)) return fail(`malformed percent-encoding "${raw.slice(i, i + 3)}" at offset ${i}`);
      const byte = Number.parseInt(hex, 16);
      const ch = String.fromCharCode(byte);
      if (UNRESERVED.test(ch)) out += ch;
      else if (mode === 'DECODE_AND_MERGE_SLASHES' && (byte === 0x2f || byte === 0x5c)) out += '/';
      else if (byte < 0x20 || byte === 0x7f) return fail(`percent-encoded control character %${hex} at offset ${i}`);
      else out += `%${hex.toUpperCase()}`;
      i += 2;
      continue;
    }
    const code = c.charCodeAt(0);
    if (code < 0x20 || code === 0x7f || code > 0xff) return fail(`control or non-Latin-1 character at offset ${i}`);
    if (c === '\\') return fail(`backslash at offset ${i}`);
    out += PATH_CHAR.test(c) ? c : `%${code.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  let path = normalizePath(out);
  if (mode === 'MERGE_SLASHES' || mode === 'DECODE_AND_MERGE_SLASHES') path = path.replace(/\/{2,}/g, '/');
  return { ok: true, path };
}

/** Remove `.` and `..` segments (RFC 3986 §5.2.4); `..` above the root stays at the root. */
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
