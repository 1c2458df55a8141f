/**
 * The `%%source.principal%%` pseudo-header of seed 002 and the header hygiene around it. The waypoint sets it to
 * the caller's VERIFIED SPIFFE ID on every request, replacing every value the client sent (the seed's EnvoyFilter
 * does OVERWRITE_IF_EXISTS_OR_ADD), routes on it, and removes it before the request leaves (the seed's
 * `request_headers_to_remove`). No client header is ever trusted for identity.
 */
import type { HeaderList } from './routing/filters.ts';

export const SOURCE_PRINCIPAL_HEADER = '%%source.principal%%';

// RFC 9110 §7.6.1 connection-specific fields, plus the ones proxies must not forward (Envoy strips the same).
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

/** Pair up node's `rawHeaders` (`[name, value, name, value, ...]`). */
export function headerLines(rawHeaders: readonly string[]): HeaderList {
  const out: HeaderList = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) out.push([rawHeaders[i], rawHeaders[i + 1]]);
  return out;
}

/**
 * The request's headers with the principal header replaced: every client line named `%%source.principal%%`
 * (any case) is dropped and one line with the verified identity appended.
 */
export function withVerifiedPrincipal(lines: HeaderList, principal: string): HeaderList {
  const out: HeaderList = lines.filter(([n]) => n.toLowerCase() !== SOURCE_PRINCIPAL_HEADER);
  out.push([SOURCE_PRINCIPAL_HEADER, principal]);
  return out;
}

/**
 * Lower-case name → value, repeated lines joined with ',' as Envoy presents a multi-value header to route and RBAC
 * matchers.
 */
export function headerMap(lines: HeaderList): Map<string, string> {
  const out = new Map<string, string>();
  for (const [n, v] of lines) {
    const k = n.toLowerCase();
    const prev = out.get(k);
    out.set(k, prev === undefined ? v : `${prev},${v}`);
  }
  return out;
}

/** Names listed in `Connection` are hop-by-hop too (RFC 9110 §7.6.1). */
function connectionListed(lines: HeaderList): Set<string> {
  const out = new Set<string>();
  for (const [n, v] of lines) {
    if (n.toLowerCase() !== 'connection') continue;
    for (const t of v.split(',')) if (t.trim() !== '') out.add(t.trim().toLowerCase());
  }
  return out;
}

/**
 * The headers that leave for the upstream: hop-by-hop fields, `Host` (set from the route) and the principal
 * header removed. Called after the route's filters, so not even a RequestHeaderModifier can leak the identity.
 */
export function outgoingRequestHeaders(lines: HeaderList): HeaderList {
  const listed = connectionListed(lines);
  return lines.filter(([n]) => {
    const k = n.toLowerCase();
    return !HOP_BY_HOP.has(k) && !listed.has(k) && k !== 'host' && k !== SOURCE_PRINCIPAL_HEADER;
  });
}

/** The upstream response's headers without hop-by-hop fields (the server side sets its own framing). */
export function outgoingResponseHeaders(lines: HeaderList): HeaderList {
  const listed = connectionListed(lines);
  return lines.filter(([n]) => {
    const k = n.toLowerCase();
    return !HOP_BY_HOP.has(k) && !listed.has(k);
  });
}

/*
 * The same rules over node's flat `rawHeaders`, in one pass each, for requests and responses no header filter
 * touches (the common case): the list forms above allocate a pair per line and a new list per step, which was a
 * visible share of a request's CPU and garbage. Each must equal its list form (principal-header.test.ts checks).
 */

/** `headerMap(withVerifiedPrincipal(headerLines(raw), principal))` without the intermediate lists. */
export function headerMapOf(raw: readonly string[], principal: string): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i].toLowerCase();
    if (k === SOURCE_PRINCIPAL_HEADER) continue;
    const prev = out.get(k);
    out.set(k, prev === undefined ? raw[i + 1] : `${prev},${raw[i + 1]}`);
  }
  out.set(SOURCE_PRINCIPAL_HEADER, principal);
  return out;
}

/** Lower-case names listed by `Connection` lines; null when there is none (almost always). */
function listedIn(raw: readonly string[]): Set<string> | null {
  let out: Set<string> | null = null;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i];
    if (n.length !== 10 || n.toLowerCase() !== 'connection') continue;
    out ??= new Set<string>();
    for (const t of raw[i + 1].split(',')) if (t.trim() !== '') out.add(t.trim().toLowerCase());
  }
  return out;
}

/**
 * The raw `[name, value, ...]` headers a request with no RequestHeaderModifier leaves with: `Host` first, then the
 * client's lines as `outgoingRequestHeaders` keeps them, without `Content-Length` (the caller appends the framing).
 */
export function outgoingRequestRaw(raw: readonly string[], host: string): string[] {
  const listed = listedIn(raw);
  const out = ['Host', host];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i];
    const k = n.toLowerCase();
    if (HOP_BY_HOP.has(k) || k === 'host' || k === 'content-length' || k === SOURCE_PRINCIPAL_HEADER) continue;
    if (listed?.has(k)) continue;
    out.push(n, raw[i + 1]);
  }
  return out;
}

/** `flat(outgoingResponseHeaders(headerLines(raw)))` in one pass. */
export function outgoingResponseRaw(raw: readonly string[]): string[] {
  const listed = listedIn(raw);
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i];
    const k = n.toLowerCase();
    if (HOP_BY_HOP.has(k) || listed?.has(k)) continue;
    out.push(n, raw[i + 1]);
  }
  return out;
}
