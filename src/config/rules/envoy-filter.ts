/**
 * EnvoyFilter semantics: the CRD's CEL rules (networking.istio.io EnvoyFilter v1alpha3). Portcullis accepts
 * EnvoyFilters but does not apply them; it still rejects what the API server would reject.
 */
import type { SemanticRule } from './rule-context.ts';
import { asList, asNumber, asObject, asString, has } from './data-access.ts';
import { celInvalid } from './messages.ts';
import { checkLabelsSelector } from './workload-selector.ts';

export const envoyFilterRule: SemanticRule = (doc, ctx) => {
  const spec = asObject(doc.spec);
  if (spec === undefined) return;
  const code = 'PCL_VALIDATION_ENVOY_FILTER';
  if (has(spec, 'workloadSelector') && has(spec, 'targetRefs')) {
    ctx.error(['spec'], code, celInvalid('object', 'only one of targetRefs or workloadSelector can be set'));
  }
  checkLabelsSelector(spec.workloadSelector, ['spec', 'workloadSelector'], ctx);
  asList(spec.targetRefs)?.forEach((ref, i) => {
    const namespace = asString(asObject(ref)?.namespace);
    if (namespace !== undefined && namespace.length !== 0) {
      ctx.error(
        ['spec', 'targetRefs', i, 'namespace'],
        code,
        celInvalid('string', 'cross namespace referencing is not currently supported'),
      );
    }
  });
  asList(spec.configPatches)?.forEach((patch, i) => {
    const match = asObject(asObject(patch)?.match);
    if (match === undefined) return;
    const path = ['spec', 'configPatches', i, 'match'];
    // `match.waypoint` is the WAYPOINT context's match and only it; every other context uses listener/cluster/...
    const isWaypointContext = asString(match.context) === 'WAYPOINT';
    if (isWaypointContext !== has(match, 'waypoint')) {
      ctx.error(path, code, celInvalid('object', 'only support waypointMatch when context is WAYPOINT'));
    }
    const portNumber = asNumber(asObject(match.waypoint)?.portNumber);
    if (portNumber !== undefined && !(portNumber > 0 && portNumber <= 65535)) {
      ctx.error([...path, 'waypoint', 'portNumber'], code, celInvalid('integer', 'port must be between 1-65535'));
    }
  });
};
