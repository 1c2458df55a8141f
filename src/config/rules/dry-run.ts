/**
 * The `istio.io/dry-run` annotation as istiod's webhook checks it on every Istio kind (`checkDryRunAnnotation`,
 * istio/istio pkg/config/validation/validation.go): only AuthorizationPolicy may carry it, its value must be a Go
 * boolean (`strconv.ParseBool`), and only ALLOW and DENY policies support it.
 */
import type { RuleContext, SemanticRule } from './rule-context.ts';
import { asObject, asString } from './data-access.ts';

const DRY_RUN_ANNOTATION = 'istio.io/dry-run';

/** The spellings `strconv.ParseBool` accepts. */
const GO_BOOLS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False']);

function check(doc: Readonly<Record<string, unknown>>, ctx: RuleContext, allowed: boolean): void {
  const annotations = asObject(asObject(doc.metadata)?.annotations);
  const value = asString(annotations?.[DRY_RUN_ANNOTATION]);
  if (value === undefined) return;
  const path = ['metadata', 'annotations', DRY_RUN_ANNOTATION];
  const who = `${ctx.namespace}/${ctx.name}`;
  if (!allowed) {
    ctx.error(
      path,
      'PCL_VALIDATION_DRY_RUN',
      `${who} has unsupported annotation ${DRY_RUN_ANNOTATION}, please remove the annotation`,
    );
    return;
  }
  const action = asString(asObject(doc.spec)?.action) ?? 'ALLOW';
  if (action === 'ALLOW' || action === 'DENY') {
    if (!GO_BOOLS.has(value)) {
      ctx.error(
        path,
        'PCL_VALIDATION_DRY_RUN',
        `${who} has annotation ${DRY_RUN_ANNOTATION} with invalid value (${value}): strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`,
      );
    }
    return;
  }
  ctx.error(
    path,
    'PCL_VALIDATION_DRY_RUN',
    `the annotation ${DRY_RUN_ANNOTATION} currently only supports action ALLOW/DENY, found action ${action} in ${who}`,
  );
}

/** For AuthorizationPolicy: the annotation is allowed, with a boolean value, on ALLOW and DENY. */
export const dryRunAllowedRule: SemanticRule = (doc, ctx) => check(doc, ctx, true);

/** For the other Istio kinds: the annotation is refused. */
export const dryRunRefusedRule: SemanticRule = (doc, ctx) => check(doc, ctx, false);
