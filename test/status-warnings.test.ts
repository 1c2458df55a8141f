/** `portcullis status`: unresolved policy targets and unattached policies are warnings; invalid resources fail closed. */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { configFrom, runCli } from './support/cli.ts';
import { DENY_REVIEWS_TYPO } from './support/policy-fixtures.ts';

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));

function config(extra: Record<string, string>): string {
  const c = configFrom('seed-000', {
    files: ['gateway.yaml', 'serviceentry.yaml', 'namespace.yaml', 'portcullis.yaml', 'default-deny.yaml'],
    extra,
  });
  cleanups.push(c.cleanup);
  return c.dir;
}

const TARGETS_NOTHING = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-missing, namespace: bookinfo}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: no-such-entry}]
  action: ALLOW
  rules: [{from: [{source: {namespaces: [bookinfo]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: selector-only, namespace: bookinfo}
spec:
  selector: {matchLabels: {app: reviews}}
  action: DENY
  rules: [{from: [{source: {namespaces: [default]}}]}]
`;

test('an unresolved target and an unattached policy are warnings: exit 0, or 1 with --fail-on warning', async () => {
  const dir = config({ 'policies.yaml': TARGETS_NOTHING });
  const r = await runCli(['status', '--config', dir]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^Policy warnings:$/m);
  assert.match(
    r.stdout,
    /policies\.yaml:\d+ AuthorizationPolicy bookinfo\/allow-missing \(unresolved-target\): TargetNotFound: /,
  );
  assert.match(
    r.stdout,
    /policies\.yaml:\d+ AuthorizationPolicy bookinfo\/selector-only \(unattached\): NoTargetRefs: /,
  );
  assert.match(
    r.stdout,
    /^\d+ resources, 0 errors, [2-9]\d* warnings \(1 unresolved policy targets, 1 unattached policies\)$/m,
  );
  const strict = await runCli(['status', '--config', dir, '--fail-on', 'warning']);
  assert.equal(strict.code, 1);
  const json = JSON.parse((await runCli(['status', '--config', dir, '-o', 'json'])).stdout);
  assert.deepEqual([json.summary.unresolvedTargets, json.summary.unattachedPolicies], [1, 1]);
  const bad = await runCli(['status', '--config', dir, '--fail-on', 'info']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--fail-on must be one of error, warning \(got "info"\)/);
});

test('an invalid policy is an error (exit 1) and is listed with what fails closed', async () => {
  const dir = config({ 'deny-reviews.yaml': DENY_REVIEWS_TYPO });
  const r = await runCli(['status', '--config', dir]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^Fails closed \(invalid, no last good version\):$/m);
  assert.match(
    r.stdout,
    /deny-reviews\.yaml:\d+ AuthorizationPolicy istio-system\/deny-reviews-egress: it targets Gateway ztunnel-egress: every connection and request through Gateway istio-system\/ztunnel-egress is denied/,
  );
});
