/**
 * The HTTPRoute filters the waypoint applies: RequestHeaderModifier, ResponseHeaderModifier and URLRewrite
 * (hostname, ReplaceFullPath, ReplacePrefixMatch), on a header list that keeps the client's order and case.
 */
import type { HTTPHeaderFilter, HTTPRouteFilter } from '../../config/api-types.ts';
import type { CompiledMatch } from './match.ts';

/** Header lines in order: `[name, value]`, names as written. */
export type HeaderList = [string, string][];

/**
 * Apply a header modifier in Envoy's order (`HeaderParser::evaluateHeaders`: remove first, then set, then add).
 * Names compare case-insensitively; `set` replaces every existing line of that name.
 */
export function applyHeaderModifier(headers: HeaderList, f: HTTPHeaderFilter): HeaderList {
  let out = headers;
  if (f.remove && f.remove.length > 0) {
    const gone = new Set(f.remove.map((n) => n.toLowerCase()));
    out = out.filter(([n]) => !gone.has(n.toLowerCase()));
  }
  for (const s of f.set ?? []) {
    const lower = s.name.toLowerCase();
    out = out.filter(([n]) => n.toLowerCase() !== lower);
    out.push([s.name, s.value]);
  }
  for (const a of f.add ?? []) out.push([a.name, a.value]);
  return out;
}

/** What a URLRewrite changes, resolved for one request. */
export interface Rewrite {
  readonly hostname: string | null;
  readonly path: string | null;
}

/**
 * Compute the rewritten path (Gateway API HTTPPathModifier). ReplacePrefixMatch replaces the matched prefix
 * element-wise: prefix `/foo`, replacement `/xyz`: `/foo/bar` → `/xyz/bar`, `/foo` → `/xyz`; replacement `/`:
 * `/foo/bar` → `/bar`, `/foo` → `/`. Returns null when the filter does not apply (ReplacePrefixMatch needs a
 * PathPrefix match, which the CRD's CEL rules already require).
 */
export function rewritePath(
  path: string,
  match: CompiledMatch,
  mod: NonNullable<NonNullable<HTTPRouteFilter['urlRewrite']>['path']>,
): string | null {
  if (mod.type === 'ReplaceFullPath') return mod.replaceFullPath ?? '/';
  if (match.pathKind !== 'PathPrefix') return null;
  const prefix = match.pathValue === '/' ? '' : match.pathValue;
  const rest = path.slice(prefix.length);
  const replacement = (mod.replacePrefixMatch ?? '/').replace(/\/+$/, '');
  const out = replacement + rest;
  return out === '' ? '/' : out.startsWith('/') ? out : `/${out}`;
}

/** Resolve the rule's URLRewrite filter (if any) for a request path. */
export function urlRewriteFor(filters: readonly HTTPRouteFilter[], path: string, match: CompiledMatch): Rewrite {
  const f = filters.find((x) => x.type === 'URLRewrite')?.urlRewrite;
  if (!f) return { hostname: null, path: null };
  return { hostname: f.hostname ?? null, path: f.path ? rewritePath(path, match, f.path) : null };
}

/** Apply every filter of a type, in order. */
export function applyModifiers(
  headers: HeaderList,
  filters: readonly HTTPRouteFilter[],
  type: 'RequestHeaderModifier' | 'ResponseHeaderModifier',
): HeaderList {
  let out = headers;
  for (const f of filters) {
    if (f.type !== type) continue;
    const mod = type === 'RequestHeaderModifier' ? f.requestHeaderModifier : f.responseHeaderModifier;
    if (mod) out = applyHeaderModifier(out, mod);
  }
  return out;
}
