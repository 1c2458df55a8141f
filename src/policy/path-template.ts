/** `paths` matching: Istio's exact/prefix/suffix/presence plus the `{*}` and `{**}` path templates. */
import { compileStringMatch, stringMatches } from './string-match.ts';

/** A compiled `paths` value: a predicate over the request path with its query and fragment already removed. */
export type PathMatcher = (path: string) => boolean;

/** Whether the value uses Istio's path-template operators (proto `Operation.paths`, `CheckValidPathTemplate`). */
export function isPathTemplate(value: string): boolean {
  return value.includes('{*}') || value.includes('{**}');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * Compile a path template to an anchored RegExp, once. Istio hands these to Envoy's `uri_template` matcher:
 * `{*}` matches exactly one non-empty path segment (no `/`), `{**}` matches zero or more characters
 * across segments and may only be the last operator (the webhook rejects anything else).
 */
export function compilePathTemplate(template: string): RegExp {
  let re = '^';
  let i = 0;
  while (i < template.length) {
    if (template.startsWith('{**}', i)) {
      re += '.*';
      i += 4;
    } else if (template.startsWith('{*}', i)) {
      re += '[^/]+';
      i += 3;
    } else {
      const next = template.indexOf('{', i + 1);
      const end = next < 0 ? template.length : next;
      re += escapeRegExp(template.slice(i, end));
      i = end;
    }
  }
  return new RegExp(re + '$');
}

/** Compile one `paths` / `notPaths` value. */
export function compilePathMatcher(value: string): PathMatcher {
  if (isPathTemplate(value)) {
    const re = compilePathTemplate(value);
    return (path) => re.test(path);
  }
  const m = compileStringMatch(value);
  return (path) => stringMatches(m, path);
}
