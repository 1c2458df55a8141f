/**
 * Label-selector rules shared by several Istio kinds: the CRDs' CEL rules on `matchLabels`/`labels`
 * (no `*`, no empty key) and the webhook's "workload selector specified without labels" warning
 * (`validateWorkloadSelector`, istio/istio pkg/config/validation/validation.go).
 */
import type { FieldPath } from '../types.ts';
import type { RuleContext } from './rule-context.ts';
import { asObject } from './data-access.ts';
import { celInvalid } from './messages.ts';

/**
 * `selector.matchLabels` of AuthorizationPolicy and `workloadSelector.matchLabels` of DestinationRule:
 * key rules on the map, value rule on each entry, and the empty-selector warning.
 */
export function checkMatchLabelsSelector(selector: unknown, path: FieldPath, ctx: RuleContext): void {
  const sel = asObject(selector);
  if (sel === undefined) return;
  const labels = asObject(sel.matchLabels);
  const labelsPath = [...path, 'matchLabels'];
  if (labels !== undefined) {
    const keys = Object.keys(labels);
    if (keys.some((k) => k.includes('*'))) {
      ctx.error(labelsPath, 'PCL_VALIDATION_SELECTOR', celInvalid('object', 'wildcard not allowed in label key match'));
    }
    if (keys.some((k) => k.length === 0)) {
      ctx.error(labelsPath, 'PCL_VALIDATION_SELECTOR', celInvalid('object', 'key must not be empty'));
    }
    for (const key of keys) {
      const value = labels[key];
      if (typeof value === 'string' && value.includes('*')) {
        ctx.error(
          [...labelsPath, key],
          'PCL_VALIDATION_SELECTOR',
          celInvalid('string', 'wildcard not allowed in label value match'),
        );
      }
    }
  }
  if (labels === undefined || Object.keys(labels).length === 0) {
    ctx.warn(path, 'PCL_VALIDATION_EMPTY_SELECTOR', 'workload selector specified without labels');
  }
}

/**
 * `workloadSelector.labels` of ServiceEntry and EnvoyFilter: the CRDs forbid `*` in values (`wildcard is not
 * supported in selector`); istiod's webhook (`ValidateAlphaWorkloadSelector`) also refuses an empty key and a `*`
 * in a key, and warns about a selector without labels. Returns whether the webhook refused the selector (istiod
 * then stops validating the resource) and whether the no-labels warning applies.
 */
export function checkLabelsSelector(
  selector: unknown,
  path: FieldPath,
  ctx: RuleContext,
): { refused: boolean; empty: boolean } {
  const sel = asObject(selector);
  if (sel === undefined) return { refused: false, empty: false };
  const labels = asObject(sel.labels) ?? {};
  let refused = false;
  for (const [key, value] of Object.entries(labels)) {
    const shown = JSON.stringify(`${key}=${typeof value === 'string' ? value : ''}`);
    if (typeof value === 'string' && value.includes('*')) {
      ctx.error(
        [...path, 'labels', key],
        'PCL_VALIDATION_SELECTOR',
        celInvalid('string', 'wildcard is not supported in selector'),
      );
    } else if (key.includes('*')) {
      ctx.error([...path, 'labels', key], 'PCL_VALIDATION_SELECTOR', `wildcard is not supported in selector: ${shown}`);
      refused = true;
    }
    if (key === '') {
      ctx.error([...path, 'labels'], 'PCL_VALIDATION_SELECTOR', `empty key is not supported in selector: ${shown}`);
      refused = true;
    }
  }
  return { refused, empty: Object.keys(labels).length === 0 };
}
