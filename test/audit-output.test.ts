/** `portcullis audit` output formats (JSON, SARIF 2.1.0, table), malformed manifests, and bad flags. */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { run } from '../src/cli/audit-command.ts';
import { EXAMPLES, runCli } from './support/cli.ts';

const COMPLETE = join(import.meta.dirname, 'fixtures', 'audit', 'complete');
const cleanups: string[] = [];
after(() => cleanups.forEach((d) => rmSync(d, { recursive: true, force: true })));

function withExtra(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-audit-out-'));
  cleanups.push(dir);
  cpSync(COMPLETE, dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

async function runAudit(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  });
  return { code, stdout, stderr };
}

const BROKEN = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: broken\n  namespace: bookinfo\nspec: [unclosed\n';
const HOST_NETWORK =
  'apiVersion: v1\nkind: Pod\nmetadata: {name: node-agent, namespace: bookinfo}\nspec:\n  hostNetwork: true\n  containers: [{name: c, image: busybox}]\n';

test('JSON has exactly the documented keys', async () => {
  const dir = withExtra({ 'node-agent.yaml': HOST_NETWORK });
  const r = await runAudit(['--config', dir, '-o', 'json']);
  assert.equal(r.code, 1);
  const json = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(json), ['findings', 'reachability']);
  assert.ok(json.findings.length > 0);
  for (const f of json.findings) {
    assert.deepEqual(Object.keys(f), ['code', 'layer', 'severity', 'resource', 'message', 'fix']);
    assert.deepEqual(Object.keys(f.resource), ['kind', 'namespace', 'name']);
    assert.ok([1, 2, 3, 4, 5, 'config'].includes(f.layer));
    assert.ok(['error', 'warning', 'info'].includes(f.severity));
  }
  for (const row of json.reachability) {
    assert.deepEqual(Object.keys(row), ['identity', 'destinations', 'bypass']);
    assert.match(row.identity, /^spiffe:\/\/cluster\.local\/ns\/[^/]+\/sa\/[^/]+$/);
  }
  assert.deepEqual(json.reachability.find((r: { identity: string }) => r.identity.endsWith('/sa/default')).bypass, [4]);
});

test('SARIF 2.1.0: schema, driver rules with catalogue help, results with level and file:line locations', async () => {
  const dir = withExtra({ 'node-agent.yaml': HOST_NETWORK });
  const r = await runAudit(['--config', dir, '-o', 'sarif']);
  assert.equal(r.code, 1);
  const sarif = JSON.parse(r.stdout);
  assert.equal(sarif.version, '2.1.0');
  assert.match(sarif.$schema, /sarif-2\.1\.0/);
  const run0 = sarif.runs[0];
  assert.equal(run0.tool.driver.name, 'portcullis');
  const rules = run0.tool.driver.rules as { id: string; shortDescription: { text: string }; help: { text: string } }[];
  const rule = rules.find((x) => x.id === 'PCL_AUDIT_HOST_NETWORK_POD');
  assert.ok(rule, 'a rule per finding code');
  assert.match(rule.help.text, /hostNetwork: false/);
  assert.ok(rule.shortDescription.text.length > 0);
  assert.ok(run0.results.length > 0);
  for (const res of run0.results) {
    assert.equal(typeof res.ruleId, 'string');
    assert.equal(rules[res.ruleIndex].id, res.ruleId);
    assert.ok(['error', 'warning', 'note'].includes(res.level));
    assert.equal(typeof res.message.text, 'string');
    assert.ok(Array.isArray(res.locations) && res.locations.length === 1);
  }
  const hostNet = run0.results.find((x: { ruleId: string }) => x.ruleId === 'PCL_AUDIT_HOST_NETWORK_POD');
  assert.equal(hostNet.level, 'error');
  const phys = hostNet.locations[0].physicalLocation;
  assert.equal(phys.artifactLocation.uri, `${dir}/node-agent.yaml`);
  assert.equal(phys.region.startLine, 5, 'the hostNetwork line');
  assert.equal(hostNet.locations[0].logicalLocations[0].fullyQualifiedName, 'Pod/bookinfo/node-agent');
});

test('malformed manifests do not stop the audit: the broken file is a finding, the rest still audits', async () => {
  const dir = withExtra({ 'broken.yaml': BROKEN });
  const r = await runAudit(['--config', dir, '-o', 'json']);
  assert.equal(r.code, 1);
  const json = JSON.parse(r.stdout);
  const significant = json.findings.filter((f: { severity: string }) => f.severity !== 'info');
  assert.equal(significant.length, 1, JSON.stringify(significant));
  assert.equal(significant[0].code, 'PCL_CONFIG_YAML_SYNTAX');
  assert.equal(significant[0].layer, 'config');
  assert.match(significant[0].message, /^broken\.yaml:\d+:\d+: /);
  assert.deepEqual(
    json.reachability.find((x: { identity: string }) => x.identity.endsWith('/sa/bookinfo-productpage')).destinations,
    [{ host: 'httpbin.org', port: 443 }],
  );
});

test('the table names every layer with findings, the fix, and the reachability rows', async () => {
  const dir = withExtra({ 'node-agent.yaml': HOST_NETWORK });
  const r = await runAudit(['--config', dir]);
  assert.equal(r.code, 1);
  assert.match(
    r.stdout,
    /== layer 4 hostNetwork ==\nERROR\s+PCL_AUDIT_HOST_NETWORK_POD  Pod bookinfo\/node-agent  \(node-agent\.yaml:5\)/,
  );
  assert.match(r.stdout, /fix:\n\s+# Patch for Pod bookinfo\/node-agent/);
  assert.match(r.stdout, /spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/bookinfo-productpage\s+httpbin\.org:443\s+no\n/);
  assert.match(r.stdout, /spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/default\s+\(nothing\)\s+yes: layer 4 open\n/);
});

test('bad flags exit 2 with the usage or a clear message', async () => {
  for (const argv of [
    ['audit', '--config', COMPLETE, '-o', 'xml'],
    ['audit', '--config', COMPLETE, '--fail-on', 'info'],
    ['audit'],
    ['audit', '--config', COMPLETE, '--bogus'],
    ['audit', '--config', join(COMPLETE, 'no-such-dir')],
  ]) {
    const r = await runCli(argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(r.stderr, /^error\[PCL_CLI_(USAGE|BAD_VALUE|CONFIG_MISSING)\]: /);
  }
  const help = await runCli(['audit', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--fail-on error\|warning/);
});

test('SARIF on every shipped example: each result has a physical location with a file and a line', async () => {
  for (const example of ['seed-000', 'seed-002', 'quickstart']) {
    const r = await runAudit(['--config', join(EXAMPLES, example), '-o', 'sarif']);
    const results = JSON.parse(r.stdout).runs[0].results as {
      ruleId: string;
      locations: { physicalLocation?: { artifactLocation: { uri: string }; region?: { startLine: number } } }[];
    }[];
    assert.ok(results.length > 0, example);
    for (const res of results) {
      const phys = res.locations[0].physicalLocation;
      assert.ok(phys, `${example}: ${res.ruleId} has no physical location`);
      assert.match(
        phys.artifactLocation.uri,
        new RegExp(`examples/${example}/[^/]+\\.yaml$`),
        `${example}: ${res.ruleId}`,
      );
      assert.ok((phys.region?.startLine ?? 0) >= 1, `${example}: ${res.ruleId} has a line`);
    }
    // The missing admission policy points at the ambient label it would make mandatory.
    const admission = results.find((x) => x.ruleId === 'PCL_AUDIT_ADMISSION_NOT_ENFORCED');
    if (admission)
      assert.notEqual(
        admission.locations[0].physicalLocation!.region!.startLine,
        1,
        `${example}: admission finding at a label`,
      );
  }
});

test('a settings finding points at the line of the field it is about', async () => {
  const dir = withExtra({
    'portcullis.yaml': '# settings\ntrustDomain: cluster.local\nperimeter:\n  podEgressDropped: false\n',
  });
  const r = await runAudit(['--config', dir, '-o', 'sarif']);
  const results = JSON.parse(r.stdout).runs[0].results as {
    ruleId: string;
    locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[];
  }[];
  const perimeter = results.find((f) => f.ruleId.startsWith('PCL_AUDIT_PERIMETER'));
  assert.ok(perimeter, JSON.stringify(results.map((f) => f.ruleId)));
  const phys = perimeter.locations[0].physicalLocation;
  assert.deepEqual([phys.artifactLocation.uri, phys.region.startLine], [`${dir}/portcullis.yaml`, 3]);
});
