/**
 * Learn mode and `portcullis suggest` end to end: the quickstart's seed-000 shapes through a gateway enforcing, then
 * through the same gateway learning (what enforce denies is allowed and logged as would-deny; the gateway's own
 * guards still refuse), then `suggest` on the recorded access log: its YAML passes `status`, its `check --cases`
 * pass, and a flow never observed is denied under it.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXAMPLES, runCli } from './support/cli.ts';
import {
  driveQuickstartShapes,
  PRODUCTPAGE,
  SLEEP,
  seedSettings,
  startFlowEnv,
  UNDECLARED,
} from './support/flow-traffic.ts';

function logLines(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function waitForLines(
  file: string,
  pred: (lines: Record<string, unknown>[]) => boolean,
): Promise<Record<string, unknown>[]> {
  for (let i = 0; i < 300; i++) {
    let lines: Record<string, unknown>[] = [];
    try {
      lines = logLines(file);
    } catch {
      lines = [];
    }
    if (pred(lines)) return lines;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the access log ${file} never had the expected lines:\n${readFileSync(file, 'utf8')}`);
}

const tunnels = (lines: Record<string, unknown>[]) => lines.filter((l) => l.type === 'tunnel');

test('learn mode allows and logs as would-deny what enforce mode denies; the gateway guards itself either way', {
  timeout: 120_000,
}, async () => {
  const enforce = await startFlowEnv({ learn: false });
  try {
    const r = await driveQuickstartShapes(enforce);
    assert.equal(r.productpage1.status, 200);
    assert.deepEqual([r.sleep.ok, r.sleep.status], [false, 401]);
    assert.match(
      r.sleep.ok ? '' : (r.sleep.reason ?? ''),
      /^PCL_AUTHZ_DENIED_EXPLICIT: explicitly denied by: istio-system\/deny-default-egress/,
    );
    assert.deepEqual([r.undeclared.ok, r.bareIp.ok], [false, false]);
    const lines = await waitForLines(enforce.logFile, (l) => tunnels(l).length >= 5);
    assert.ok(
      lines.every((l) => l.mode === undefined),
      'an enforcing gateway does not say learn',
    );
    assert.equal(tunnels(lines).find((l) => l.source_principal === SLEEP)?.decision, 'deny');
    assert.doesNotMatch(await (await fetch(`http://${enforce.gw.adminAddress}/ready`)).text(), /LEARN MODE/);
  } finally {
    await enforce.close();
  }

  const learn = await startFlowEnv({ learn: true });
  try {
    const r = await driveQuickstartShapes(learn);
    assert.deepEqual([r.sleep.ok, r.sleep.status], [true, 200], 'sleep gets through while learning');
    assert.equal(r.bareIp.ok, true);
    // The undeclared name is let through the policy; its stand-in is not on 443, so the dial fails (503), not a 401.
    assert.equal(r.undeclared.status, 503);
    // The gateway's own ports stay refused: learn mode never applies to the gateway's guards.
    const self = await learn.productpage.connect(learn.gw.adminAddress!);
    assert.ok(!self.ok);
    assert.equal(self.status, 401);
    assert.match(self.reason, /^PCL_DATAPLANE_PRIVATE_ADDRESS: .*one of the gateway's own listeners/);

    const lines = await waitForLines(learn.logFile, (l) => tunnels(l).length >= 6);
    const sleepLine = tunnels(lines).find((l) => l.source_principal === SLEEP)!;
    assert.equal(sleepLine.decision, 'would-deny');
    assert.equal(sleepLine.code, 'PCL_LEARN_WOULD_DENY');
    assert.equal(sleepLine.status, 200);
    assert.match(
      String(sleepLine.reason),
      /^would-deny: PCL_AUTHZ_DENIED_EXPLICIT: explicitly denied by: istio-system\/deny-default-egress/,
    );
    assert.equal(
      tunnels(lines).find((l) => String(l.authority).startsWith('127.0.0.1:') && l.status === 401)?.code,
      'PCL_DATAPLANE_PRIVATE_ADDRESS',
    );
    assert.ok(
      lines.every((l) => l.mode === 'learn' && /LEARN MODE/.test(String(l.learn))),
      `every log line says learn mode: ${JSON.stringify(lines.filter((l) => l.mode !== 'learn'))}`,
    );
    const ready = await (await fetch(`http://${learn.gw.adminAddress}/ready`)).text();
    assert.match(ready, /^LEARN MODE: policy denials are allowed and logged as would-deny/);
    const flows = (await (await fetch(`http://${learn.gw.adminAddress}/flows`)).json()) as {
      status: { learn: boolean };
    };
    assert.equal(flows.status.learn, true);
    // `suggest --admin` reads the running gateway's recent decisions and suggests what its access log does.
    const fromAdmin = await runCli([
      'suggest',
      '--admin',
      `http://${learn.gw.adminAddress}`,
      '--config',
      learn.configDir,
    ]);
    const fromLog = await runCli(['suggest', '--from-log', learn.logFile, '--config', learn.configDir]);
    assert.equal(fromAdmin.code, 0, fromAdmin.stderr);
    assert.match(fromAdmin.stdout, /name: httpbin-org-443/);
    assert.equal(fromAdmin.stdout, fromLog.stdout);
  } finally {
    await learn.close();
  }
});

test('suggest: a recorded learn-mode access log becomes YAML that status accepts, whose cases pass and that allows nothing more', {
  timeout: 120_000,
}, async () => {
  const learn = await startFlowEnv({ learn: true });
  const out = mkdtempSync(join(tmpdir(), 'portcullis-suggest-'));
  const recorded = join(out, 'access.log');
  let learnConfig = '';
  try {
    await driveQuickstartShapes(learn);
    await waitForLines(learn.logFile, (l) => tunnels(l).length >= 5);
    cpSync(learn.logFile, recorded);
    learnConfig = join(out, 'learn-config');
    cpSync(learn.configDir, learnConfig, { recursive: true });
  } finally {
    await learn.close();
  }
  try {
    const suggestedYaml = join(out, 'suggested.yaml');
    const cases = join(out, 'cases.yaml');
    const s = await runCli([
      'suggest',
      '--from-log',
      recorded,
      '--config',
      learnConfig,
      '--out',
      suggestedYaml,
      '--cases',
      cases,
    ]);
    assert.equal(s.code, 0, s.stderr);
    const yaml = readFileSync(suggestedYaml, 'utf8');
    // Deterministic: the same log gives the same bytes.
    const again = await runCli(['suggest', '--from-log', recorded, '--config', learnConfig]);
    assert.equal(again.stdout, yaml);
    // Exact principals and ports, bound to the Gateway that decided; the bare IP is listed with its reason, not allowed.
    assert.match(yaml, /kind: ServiceEntry[\s\S]*hosts:\n\s+- httpbin\.org[\s\S]*protocol: TLS/);
    assert.match(yaml, /istio\.io\/use-waypoint: ztunnel-egress/);
    assert.match(
      yaml,
      /- cluster\.local\/ns\/bookinfo\/sa\/bookinfo-productpage\n\s+- cluster\.local\/ns\/default\/sa\/sleep/,
    );
    assert.match(yaml, new RegExp(`hosts:\\n\\s+- ${UNDECLARED.replace('.', '\\.')}`));
    assert.match(
      yaml,
      /# Observed flows this does NOT allow:\n#\s+spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/bookinfo-productpage -> 127\.0\.0\.1:\d+: the destination was named only by its IP address/,
    );
    assert.doesNotMatch(yaml, /namespaces:|notPrincipals|hosts:\n\s+- "\*"/, 'nothing broader than exact principals');

    // The suggestion in place of the seed's policies, on the seed's Gateway and enforcing settings.
    const cfg = mkdtempSync(join(tmpdir(), 'portcullis-suggested-cfg-'));
    for (const f of ['gateway.yaml', 'namespace.yaml', 'default-deny.yaml'])
      cpSync(join(EXAMPLES, 'seed-000', f), join(cfg, f));
    writeFileSync(join(cfg, 'portcullis.yaml'), seedSettings(false));
    cpSync(suggestedYaml, join(cfg, 'suggested.yaml'));
    try {
      const status = await runCli(['status', '--config', cfg]);
      assert.equal(status.code, 0, `status refused the suggestion:\n${status.stdout}\n${status.stderr}\n${yaml}`);
      assert.match(status.stdout, /WaypointBound=True/);
      const checked = await runCli(['check', '--config', cfg, '--cases', cases]);
      assert.equal(checked.code, 0, `${checked.stdout}\n${readFileSync(cases, 'utf8')}`);
      const passed = /^(\d+) passed, 0 failed$/m.exec(checked.stdout);
      assert.ok(passed !== null && Number(passed[1]) >= 5, checked.stdout);
      assert.match(checked.stdout, new RegExp(`ok \\d+ - observed: ${PRODUCTPAGE} -> httpbin\\.org:443: allow`));
      // Flows never observed are denied: another bookinfo identity, and sleep to the host only productpage called.
      const ratings = await runCli(['check', '--config', cfg, '--from', 'bookinfo/ratings', '--to', 'httpbin.org:443']);
      assert.equal(ratings.code, 1, ratings.stdout);
      const sleepUndeclared = await runCli([
        'check',
        '--config',
        cfg,
        '--from',
        'default/sleep',
        '--to',
        `${UNDECLARED}:443`,
      ]);
      assert.equal(sleepUndeclared.code, 1, sleepUndeclared.stdout);
      const otherPort = await runCli([
        'check',
        '--config',
        cfg,
        '--from',
        'bookinfo/bookinfo-productpage',
        '--to',
        'httpbin.org:80',
      ]);
      assert.equal(otherPort.code, 1, otherPort.stdout);
    } finally {
      rmSync(cfg, { recursive: true, force: true });
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
