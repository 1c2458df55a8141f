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
        ctx.error([...labelsPath, key], 'PCL_VALIDATION_SELECTOR', celInvalid('string', 'wildcard not allowed in label value match'));
      }
    }
  }
  if (labels === undefined || Object.keys(labels).length === 0) {
    ctx.warn(path, 'PCL_VALIDATION_EMPTY_SELECTOR', 'workload selector specified without labels');
  }
}

/**
 * `workloadSelector.labels` of ServiceEntry and EnvoyFilter: the CRDs only forbid `*` in values
 * (`wildcard is not supported in selector`).
 */
export function checkLabelsSelector(selector: unknown, path: FieldPath, ctx: RuleContext): void {
  const labels = asObject(asObject(selector)?.labels);
  if (labels === undefined) return;
  for (const [key, value] of Object.entries(labels)) {
    if (typeof value === 'string' && value.includes('*')) {
      ctx.error([...path, 'labels', key], 'PCL_VALIDATION_SELECTOR', celInvalid('string', 'wildcard is not supported in selector'));
    }
  }
}
