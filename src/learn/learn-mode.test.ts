import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ErrorCode } from '../errors/catalogue.ts';
import type { DecisionRecord } from '../policy/engine.ts';
import { compileEgressPolicies, decideUnknownDestination } from '../policy/egress-policies.ts';
import { applyLearnMode, egressPoliciesFor, isWouldDeny, POLICY_DENIAL_CODES } from './learn-mode.ts';

const deny = (code: ErrorCode): DecisionRecord => ({
  decision: 'deny',
  code,
  reason: 'explicitly denied by: istio-system/deny-default-egress',
  layers: [
    {
      layer: 'gateway',
      target: 'Gateway g',
      decision: 'deny',
      code,
      reason: 'r',
      policy: 'istio-system/deny-default-egress',
      rule: 0,
      dryRun: [],
      audit: [],
    },
  ],
});

test('learn mode: a policy denial becomes a would-deny allow that keeps its denying layer', () => {
  for (const code of POLICY_DENIAL_CODES) {
    const note: string[] = [];
    const r = applyLearnMode({ learn: true }, deny(code), note);
    assert.equal(r.decision, 'allow');
    assert.equal(r.code, 'PCL_LEARN_WOULD_DENY');
    assert.match(r.reason, new RegExp(`^would-deny: ${code}: explicitly denied by: istio-system/deny-default-egress$`));
    assert.equal(r.layers[0].decision, 'deny');
    assert.deepEqual(note, [r.reason]);
    assert.equal(isWouldDeny(r.decision, r.layers), true);
  }
});

test('learn mode: off, allows, and refusals that protect the gateway are returned unchanged', () => {
  const d = deny('PCL_AUTHZ_DENIED_EXPLICIT');
  assert.equal(applyLearnMode({}, d), d);
  assert.equal(applyLearnMode({ learn: false }, d), d);
  const allow: DecisionRecord = { decision: 'allow', code: 'PCL_AUTHZ_ALLOWED_BY_POLICY', reason: 'ok', layers: [] };
  assert.equal(applyLearnMode({ learn: true }, allow), allow);
  // The private-address guard, the gateway's own ports, faults that fail closed, malformed input: never learned.
  for (const code of [
    'PCL_DATAPLANE_PRIVATE_ADDRESS',
    'PCL_AUTHZ_DENIED_CUSTOM_UNSUPPORTED',
    'PCL_AUTHZ_DENIED_NO_LAYERS',
    'PCL_DATAPLANE_GATEWAY_NOT_SERVED',
    'PCL_DATAPLANE_DNS_FAILED',
  ] as const) {
    const r = deny(code);
    const note: string[] = [];
    assert.equal(applyLearnMode({ learn: true }, r, note), r, code);
    assert.deepEqual(note, []);
  }
  assert.equal(isWouldDeny('allow', allow.layers), false);
  assert.equal(isWouldDeny('deny', d.layers), false);
});

test('learn mode: resolved addresses are re-checked against allowing egressPolicies only while learning', () => {
  const enforced = compileEgressPolicies([{ matchCidrs: ['0.0.0.0/0', '::/0'], policy: 'Deny' }]);
  assert.equal(egressPoliciesFor({ settings: {}, egressPolicies: enforced }), enforced);
  const learning = egressPoliciesFor({ settings: { learn: true }, egressPolicies: enforced });
  assert.equal(decideUnknownDestination(learning, '93.184.216.34', 443).decision, 'allow');
  assert.equal(decideUnknownDestination(learning, '2001:4860::1', 443).decision, 'allow');
  assert.equal(decideUnknownDestination(enforced, '93.184.216.34', 443).decision, 'deny');
});

test('learn setting: `learn: true` turns it on; anything but a boolean is an error naming the line, and enforcement stays', async () => {
  const { parseSettings } = await import('../config/settings.ts');
  assert.equal(parseSettings({ path: 'portcullis.yaml', text: 'learn: true\n' }).settings.learn, true);
  assert.equal(parseSettings({ path: 'portcullis.yaml', text: 'learn: false\n' }).settings.learn, undefined);
  assert.equal(parseSettings(null).settings.learn, undefined);
  const bad = parseSettings({ path: 'portcullis.yaml', text: 'egressPolicies: []\nlearn: "yes"\n' });
  assert.equal(bad.settings.learn, undefined, 'a malformed learn setting never turns enforcement off');
  assert.equal(bad.diagnostics.length, 1);
  assert.equal(bad.diagnostics[0].code, 'PCL_SETTINGS_INVALID');
  assert.equal(bad.diagnostics[0].line, 2);
});
