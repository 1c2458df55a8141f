/**
 * Policy `targetRef`/`targetRefs` checks from Istio's webhook (`validatePolicyTargetReference`,
 * istio/istio pkg/config/validation/validation.go): name set, no namespace, and a supported group/kind.
 */
import type { FieldPath } from '../types.ts';
import type { RuleContext } from './rule-context.ts';
import { asObject, asString } from './data-access.ts';

/** Istio `allowedTargetRefs` (1.25+): canonical group (`""` is `core`) and kind. */
const ALLOWED_TARGETS: ReadonlyArray<{ group: string; kind: string }> = [
  { group: 'core', kind: 'Service' },
  { group: 'networking.istio.io', kind: 'ServiceEntry' },
  { group: 'gateway.networking.k8s.io', kind: 'Gateway' },
  { group: 'gateway.networking.k8s.io', kind: 'GatewayClass' },
];
const ALLOWED_TEXT = `[${ALLOWED_TARGETS.map((t) => `${t.group}/${t.kind}`).join(' ')}]`;

/** Validate one PolicyTargetReference at `path`. */
export function checkPolicyTargetRef(ref: unknown, path: FieldPath, ctx: RuleContext): void {
  const target = asObject(ref);
  if (target === undefined) return;
  const name = asString(target.name) ?? '';
  const namespace = asString(target.namespace) ?? '';
  const group = asString(target.group) ?? '';
  const kind = asString(target.kind) ?? '';
  if (name === '') ctx.error([...path, 'name'], 'PCL_VALIDATION_TARGET_REF', 'targetRef name must be set');
  if (namespace !== '') {
    ctx.error(
      [...path, 'namespace'],
      'PCL_VALIDATION_TARGET_REF',
      'targetRef namespace must not be set; cross namespace referencing is not supported',
    );
  }
  const canonicalGroup = group === '' ? 'core' : group;
  if (!ALLOWED_TARGETS.some((t) => t.group === canonicalGroup && t.kind === kind)) {
    ctx.error(
      path,
      'PCL_VALIDATION_TARGET_REF',
      `targetRef must be to one of ${ALLOWED_TEXT} but was ${group}/${kind}`,
    );
  }
}
