/** EnvoyFilter CEL rules. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { envoyFilterRule } from './envoy-filter.ts';
import { runRules } from '../../../test/support/fake-rule-context.ts';

function run(spec: unknown) {
  const doc = {
    apiVersion: 'networking.istio.io/v1alpha3',
    kind: 'EnvoyFilter',
    metadata: { name: 'ef', namespace: 'ns' },
    spec,
  };
  return runRules([envoyFilterRule], doc);
}
const gatewayRef = { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'egress-waypoint' };

describe('envoyFilterRule', () => {
  it('rejects waypoint match outside the WAYPOINT context', () => {
    const ctx = run({
      configPatches: [{ applyTo: 'HTTP_FILTER', match: { context: 'SIDECAR_INBOUND', waypoint: {} } }],
    });
    assert.equal(
      ctx.errors[0]?.text,
      'spec.configPatches[0].match: Invalid value: "object": only support waypointMatch when context is WAYPOINT',
    );
    assert.equal(ctx.errors[0]?.code, 'PCL_VALIDATION_ENVOY_FILTER');
  });

  it('rejects the WAYPOINT context without a waypoint match', () => {
    const ctx = run({ configPatches: [{ match: { context: 'WAYPOINT', listener: {} } }] });
    assert.equal(ctx.errors[0]?.path, 'spec.configPatches[0].match');
  });

  it('rejects a waypoint port out of range', () => {
    const ctx = run({ configPatches: [{ match: { context: 'WAYPOINT', waypoint: { portNumber: 65536 } } }] });
    assert.equal(
      ctx.errors[0]?.text,
      'spec.configPatches[0].match.waypoint.portNumber: Invalid value: "integer": port must be between 1-65535',
    );
  });

  it('rejects targetRefs with workloadSelector, and cross-namespace targetRefs', () => {
    const ctx = run({
      targetRefs: [{ ...gatewayRef, namespace: 'other' }],
      workloadSelector: { labels: { app: 'a' } },
    });
    assert.deepEqual(
      ctx.errors.map((e) => e.text),
      [
        'spec: Invalid value: "object": only one of targetRefs or workloadSelector can be set',
        'spec.targetRefs[0].namespace: Invalid value: "string": cross namespace referencing is not currently supported',
      ],
    );
  });

  it('rejects a wildcard selector value', () => {
    const ctx = run({ workloadSelector: { labels: { app: 'a*' } } });
    assert.equal(ctx.errors[0]?.message, 'Invalid value: "string": wildcard is not supported in selector');
  });

  it('accepts seed 002 shapes: targetRefs with GATEWAY context, no context, and WAYPOINT with waypoint: {}', () => {
    const ctx = run({
      targetRefs: [gatewayRef],
      configPatches: [
        {
          applyTo: 'NETWORK_FILTER',
          match: { context: 'GATEWAY', listener: { filterChain: { filter: { name: 'hcm' } } } },
        },
        { applyTo: 'CLUSTER', match: { context: 'WAYPOINT', waypoint: {} } },
        { applyTo: 'HTTP_FILTER', match: { listener: {} } },
        { applyTo: 'CLUSTER', patch: { operation: 'ADD' } },
      ],
    });
    assert.deepEqual(ctx.errors, []);
  });
});
