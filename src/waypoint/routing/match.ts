/**
 * One HTTPRouteMatch compiled into a predicate (path AND headers AND query AND method), with the facts the
 * Gateway API precedence orders matches by. Compiled once per snapshot; matching does no parsing.
 */
import type { HTTPRouteMatch } from '../../config/api-types.ts';
import { pathHasPrefix, prefixValue } from './path.ts';

/** The request as route matching sees it. */
export interface RouteRequest {
  readonly method: string;
  /** Normalised path without query. */
  readonly path: string;
  /** First value of each query parameter. */
  readonly query: ReadonlyMap<string, string>;
  /** Lower-case header name → value (repeated headers joined with ',', as Envoy presents them to matchers). */
  readonly headers: ReadonlyMap<string, string>;
}

export type PathKind = 'Exact' | 'PathPrefix' | 'RegularExpression';

export interface CompiledMatch {
  readonly pathKind: PathKind;
  /** The path value as matched (PathPrefix with its trailing `/` removed). */
  readonly pathValue: string;
  readonly hasMethod: boolean;
  readonly headerCount: number;
  readonly queryCount: number;
  test(req: RouteRequest): boolean;
}

type ValueTest = (value: string | undefined) => boolean;

/**
 * Gateway API RegularExpression matches are implementation-specific; Istio hands them to Envoy's RE2 `safe_regex`,
 * which must match the whole value. JavaScript RegExp is close enough for the RE2 subset; anchored the same way.
 */
function fullMatch(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

function valueTest(type: string | undefined, value: string): ValueTest {
  if (type === 'RegularExpression') {
    const re = fullMatch(value);
    return (v) => v !== undefined && re.test(v);
  }
  return (v) => v === value;
}

/** The path part of a match; absent means PathPrefix `/`. */
function pathTest(kind: PathKind, value: string): (path: string) => boolean {
  if (kind === 'Exact') return (p) => p === value;
  if (kind === 'RegularExpression') {
    const re = fullMatch(value);
    return (p) => re.test(p);
  }
  return (p) => pathHasPrefix(p, value);
}

/**
 * Compile one match. Throws on an invalid regular expression (the route table records it and the match never
 * applies). Header names compare case-insensitively; when a match lists the same header or query name twice,
 * only the first entry counts (Gateway API HTTPHeaderMatch / HTTPQueryParamMatch).
 */
export function compileMatch(m: HTTPRouteMatch): CompiledMatch {
  const pathKind: PathKind = m.path?.type ?? 'PathPrefix';
  const raw = m.path?.value ?? '/';
  const pathValue = pathKind === 'PathPrefix' ? prefixValue(raw) : raw;
  const path = pathTest(pathKind, pathValue);

  const headerTests: { name: string; test: ValueTest }[] = [];
  const seenHeaders = new Set<string>();
  for (const h of m.headers ?? []) {
    const name = h.name.toLowerCase();
    if (seenHeaders.has(name)) continue;
    seenHeaders.add(name);
    headerTests.push({ name, test: valueTest(h.type, h.value) });
  }
  const queryTests: { name: string; test: ValueTest }[] = [];
  const seenQuery = new Set<string>();
  for (const q of m.queryParams ?? []) {
    // Query parameter names are compared exactly (Gateway API: "case-sensitive, exact string match").
    if (seenQuery.has(q.name)) continue;
    seenQuery.add(q.name);
    queryTests.push({ name: q.name, test: valueTest(q.type, q.value) });
  }
  const method = m.method;

  return {
    pathKind,
    pathValue,
    hasMethod: method !== undefined,
    headerCount: headerTests.length,
    queryCount: queryTests.length,
    test(req: RouteRequest): boolean {
      if (method !== undefined && req.method !== method) return false;
      if (!path(req.path)) return false;
      for (const h of headerTests) if (!h.test(req.headers.get(h.name))) return false;
      for (const q of queryTests) if (!q.test(req.query.get(q.name))) return false;
      return true;
    },
  };
}
