/**
 * `exportTo` checks from Istio's webhook (`validateExportTo`): each entry is `.`, `*`, `~` or a namespace
 * name, none repeated, and `*` / `~` must be the only entry.
 */
import type { FieldPath } from '../types.ts';
import type { RuleContext } from './rule-context.ts';
import { asList } from './data-access.ts';
import { isDns1123Label } from './dns-name.ts';

export function checkExportTo(exportTo: unknown, path: FieldPath, ctx: RuleContext): void {
  const entries = asList(exportTo);
  if (entries === undefined) return;
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    if (typeof entry !== 'string') return;
    // "." is this namespace: naming the namespace itself as well is a duplicate (Istio compares both).
    const normalised = entry === '.' ? ctx.namespace : entry;
    if (seen.has(normalised)) {
      ctx.error([...path, i], 'PCL_VALIDATION_EXPORT_TO', `duplicate entry in exportTo: ${entry}`);
    }
    seen.add(normalised);
    if (entry !== '.' && entry !== '*' && entry !== '~' && !isDns1123Label(entry)) {
      ctx.error(
        [...path, i],
        'PCL_VALIDATION_EXPORT_TO',
        `only .,~,* or valid namespace names are allowed in exportTo, found ${entry}`,
      );
    }
    if ((entry === '*' || entry === '~') && entries.length > 1) {
      ctx.error([...path, i], 'PCL_VALIDATION_EXPORT_TO', `cannot have both ${entry} and other entries in exportTo`);
    }
  });
}
