/**
 * Fail closed, kind by kind: a gateway started with one resource invalid (no last good version), then the resource
 * fixed, then broken again (the last good version stays). Each step asserts the decision the gateway makes (through
 * the same functions its data plane calls on the snapshot in force), the log line (`config_error` appeared or fixed,
 * with file:line and code), the metric `portcullis_config_errors{kind}`, `/ready`, and that other traffic is unaffected.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { decideTunnel } from '../src/dataplane/tunnel-decision.ts';
import { startGateway, type RunningGateway } from '../src/gateway/gateway.ts';
import { resolveAuthority } from '../src/mesh/destination.ts';
import type { Snapshot } from '../src/mesh/snapshot.ts';
import { CredentialStore } from '../src/waypoint/credentials.ts';
import { planOrigination } from '../src/waypoint/origination.ts';
import { routeTableFor } from '../src/waypoint/routing/route-table.ts';
import { EXAMPLES, runCli } from './support/cli.ts';
import { readLogLines, waitForLogLine } from './support/log-file.ts';
import { makeTestPki, type TestPki } from './support/pki.ts';

const PRODUCTPAGE = 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage';
/** The gateways here never resolve a name (no name leaves the machine). */
const NO_DNS = { resolve: (): Promise<string[]> => Promise.reject(new Error('no DNS in this test')) };
const seed = (f: string): string => readFileSync(join(EXAMPLES, 'seed-000', f), 'utf8');

let pki: TestPki;
let secretData = '';
before(async () => {
  pki = await makeTestPki();
  const cert = await pki.server('partner.example.com');
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  secretData = `  tls.crt: ${b64(cert.certChainPem)}\n  tls.key: ${b64(cert.keyPem)}\n  ca.crt: ${b64(cert.rootCertPem)}\n`;
});
after(() => pki?.cleanup());

const SE_API = (resolution: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: api-example
  namespace: bookinfo
  labels: {istio.io/use-waypoint: ztunnel-egress, istio.io/use-waypoint-namespace: istio-system}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: ${resolution}
`;
const AP_HTTPBIN = (field: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-bookinfo-to-httpbin, namespace: bookinfo}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: httpbin-org}]
  action: ALLOW
  rules: [{from: [{source: {${field}: ["cluster.local/ns/bookinfo/sa/bookinfo-productpage"]}}]}]
`;
const WAYPOINT = (from: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: egress-waypoint, namespace: istio-egress}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: ${from}}}}]
`;
const WAYPOINT_SES = ['partner', 'other']
  .map(
    (n) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${n}, namespace: istio-egress, labels: {istio.io/use-waypoint: egress-waypoint}}
spec:
  hosts: [${n}.example.com]
  ports: [{number: 443, name: https, protocol: HTTPS}]
  resolution: DNS
`,
  )
  .join('---\n');
const DR = (mode: string) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: partner, namespace: istio-egress}
spec:
  host: partner.example.com
  trafficPolicy: {tls: {mode: ${mode}, credentialName: istio-egress/partner-cert}}
`;
const ROUTE = (type: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: partner-route, namespace: istio-egress}
spec:
  parentRefs: [{kind: ServiceEntry, group: networking.istio.io, name: partner}]
  rules: [{matches: [{path: {type: ${type}, value: /}}]}]
`;
const SECRET = (valid: boolean) => `apiVersion: v1
kind: Secret
metadata: {name: partner-cert, namespace: istio-egress}
type: kubernetes.io/tls
data:
${valid ? secretData : '  tls.crt: 5\n'}`;

/** What the gateway would do, read from the snapshot in force by the data plane's own functions. */
function tunnel(snap: Snapshot, host: string): { kind: string; code: string; reason: string } {
  const authority = { host, port: 443, isIp: false };
  const d = decideTunnel(
    snap,
    authority,
    null,
    PRODUCTPAGE,
    '10.0.0.1',
    resolveAuthority(snap, null, authority),
  ).decision;
  return { kind: d.kind, code: d.record.code, reason: d.record.reason };
}

function origination(snap: Snapshot, host: string) {
  const gw = snap.gateways.get('Gateway/istio-egress/egress-waypoint')!;
  const se = snap.findByHost(gw.key, host)!;
  return planOrigination(snap, gw, { host, serviceEntry: se, port: se.ports[0] }, null);
}

interface Case {
  readonly kind: string;
  readonly file: string;
  readonly valid: () => string;
  readonly invalid: () => string;
  /** Assert the decision with the resource invalid and no last good version (`true`) or in force (`false`). */
  readonly probe: (snap: Snapshot, failedClosed: boolean) => void;
}

const CASES: Case[] = [
  {
    kind: 'AuthorizationPolicy',
    file: 'ap.yaml',
    valid: () => AP_HTTPBIN('principals'),
    invalid: () => AP_HTTPBIN('principles'),
    probe(snap, failedClosed) {
      const r = tunnel(snap, 'httpbin.org');
      if (failedClosed) {
        assert.deepEqual([r.kind, r.code], ['deny', 'PCL_AUTHZ_INVALID_POLICY']);
        assert.match(
          r.reason,
          /AuthorizationPolicy bookinfo\/allow-bookinfo-to-httpbin is invalid \(ap\.yaml:\d+: .*principles/,
        );
      } else assert.deepEqual([r.kind, r.code], ['allow', 'PCL_AUTHZ_ALLOWED_BY_POLICY']);
      // Other traffic: the other ServiceEntry on the same gateway.
      assert.equal(tunnel(snap, 'api.example.com').kind, 'allow');
    },
  },
  {
    kind: 'ServiceEntry',
    file: 'se-api.yaml',
    valid: () => SE_API('DNS'),
    invalid: () => SE_API('BOGUS'),
    probe(snap, failedClosed) {
      const r = tunnel(snap, 'api.example.com');
      if (failedClosed) {
        assert.deepEqual([r.kind, r.code], ['deny', 'PCL_MESH_INVALID_SERVICE_ENTRY']);
        assert.match(r.reason, /ServiceEntry bookinfo\/api-example is invalid \(se-api\.yaml:\d+/);
      } else assert.deepEqual([r.kind, r.code], ['allow', 'PCL_AUTHZ_ALLOWED_NO_POLICIES']);
      assert.equal(tunnel(snap, 'httpbin.org').kind, 'allow');
    },
  },
  {
    kind: 'Gateway',
    file: 'waypoint.yaml',
    valid: () => WAYPOINT('All'),
    invalid: () => WAYPOINT('Everywhere'),
    probe(snap, failedClosed) {
      const served = snap.servedGateways().map((g) => g.ref);
      assert.equal(served.includes('istio-egress/egress-waypoint'), !failedClosed);
      const r = tunnel(snap, 'partner.example.com');
      if (failedClosed) {
        // Its ServiceEntries are denied as invalid, never left unbound for egressPolicies to decide.
        assert.deepEqual([r.kind, r.code], ['deny', 'PCL_MESH_INVALID_SERVICE_ENTRY']);
        assert.match(
          r.reason,
          /ServiceEntry istio-egress\/partner is bound to Gateway istio-egress\/egress-waypoint is invalid \(waypoint\.yaml:\d+/,
        );
      } else assert.equal(r.kind, 'allow');
      assert.equal(tunnel(snap, 'httpbin.org').kind, 'allow');
    },
  },
  {
    kind: 'DestinationRule',
    file: 'dr.yaml',
    valid: () => DR('MUTUAL'),
    invalid: () => DR('SIMPEL'),
    probe(snap, failedClosed) {
      const plan = origination(snap, 'partner.example.com');
      if (failedClosed) {
        assert.equal(plan.ok, false);
        assert.equal(!plan.ok && plan.code, 'PCL_WAYPOINT_INVALID_DESTINATION_RULE');
        assert.match(!plan.ok ? plan.reason : '', /DestinationRule istio-egress\/partner is invalid \(dr\.yaml:\d+/);
      } else assert.equal(plan.ok && plan.tls?.mode, 'MUTUAL');
      const other = origination(snap, 'other.example.com');
      assert.deepEqual(other.ok && other.tls, null);
    },
  },
  {
    kind: 'HTTPRoute',
    file: 'route.yaml',
    valid: () => ROUTE('PathPrefix'),
    invalid: () => ROUTE('Bogus'),
    probe(snap, failedClosed) {
      const lookup = (h: string) => snap.findByHost(null, h);
      const table = routeTableFor(snap, 'ServiceEntry/istio-egress/partner', 443, lookup);
      if (failedClosed) {
        assert.equal(table.invalid.length, 1);
        assert.match(
          table.invalid[0],
          /^HTTPRoute istio-egress\/partner-route: HTTPRoute istio-egress\/partner-route is invalid \(route\.yaml:\d+/,
        );
      } else assert.deepEqual([table.invalid.length, table.routeCount], [0, 1]);
      assert.equal(routeTableFor(snap, 'ServiceEntry/istio-egress/other', 443, lookup).invalid.length, 0);
    },
  },
  {
    kind: 'Secret',
    file: 'secret.yaml',
    valid: () => SECRET(true),
    invalid: () => SECRET(false),
    probe(snap, failedClosed) {
      const plan = origination(snap, 'partner.example.com');
      assert.ok(plan.ok && plan.tls !== null, 'the DestinationRule stands');
      const store = new CredentialStore();
      try {
        const r = store.resolve(snap, plan.tls!);
        assert.equal(r.ok, !failedClosed, r.ok ? 'resolved' : `${r.code}: ${r.reason}`);
        if (failedClosed) assert.match(!r.ok ? r.reason : '', /partner-cert/);
      } finally {
        store.close();
      }
      assert.equal(tunnel(snap, 'httpbin.org').kind, 'allow');
    },
  },
];

function baseFiles(): Record<string, string> {
  return {
    'portcullis.yaml': seed('portcullis.yaml'),
    'gateway.yaml': seed('gateway.yaml'),
    'namespace.yaml': seed('namespace.yaml'),
    'serviceentry.yaml': seed('serviceentry.yaml'),
    'default-deny.yaml': seed('default-deny.yaml'),
    'gateway-policies.yaml': seed('gateway-policies.yaml'),
    'se-api.yaml': SE_API('DNS'),
    'ap.yaml': AP_HTTPBIN('principals'),
    'waypoint.yaml': WAYPOINT('All'),
    'waypoint-ses.yaml': WAYPOINT_SES,
    'dr.yaml': DR('MUTUAL'),
    'route.yaml': ROUTE('PathPrefix'),
    'secret.yaml': SECRET(true),
  };
}

async function metric(gw: RunningGateway, kind: string): Promise<number> {
  const text = await (await fetch(`http://${gw.adminAddress}/metrics`)).text();
  const m = new RegExp(`^portcullis_config_errors\\{kind="${kind}"\\} (\\d+)$`, 'm').exec(text);
  assert.ok(m, `portcullis_config_errors{kind="${kind}"} in /metrics`);
  return Number(m[1]);
}

for (const c of CASES) {
  test(`fails closed: ${c.kind} invalid at first load, fixed, then invalid again (last good kept)`, {
    timeout: 120_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-failclosed-'));
    const logFile = join(dir, 'access.log');
    const config = join(dir, 'config');
    const files = { ...baseFiles(), [c.file]: c.invalid() };
    mkdirSync(config);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(config, name), text);
    const gw = await startGateway({
      configDir: config,
      caDir: pki.caDir,
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      log: logFile,
      env: {},
      configDebounceMs: 60_000,
      resolver: NO_DNS,
    });
    try {
      const isMine = (l: Record<string, unknown>, state: string) =>
        l.type === 'config_error' && l.state === state && l.kind === c.kind && l.file === c.file;

      // 1. Invalid with no last good version: fails closed, said in the log, the metric and /ready (still 200).
      c.probe(gw.snapshot(), true);
      const appeared = await waitForLogLine(logFile, (l) => isMine(l, 'appeared'), `${c.kind} error appeared`);
      assert.match(
        String(appeared.msg),
        new RegExp(`^configuration error \\(fails closed\\): ${c.file}:\\d+ \\[PCL_[A-Z_]+\\] ${c.kind} `),
      );
      assert.equal(typeof appeared.line, 'number');
      assert.equal(await metric(gw, c.kind), 1);
      const ready = await fetch(`http://${gw.adminAddress}/ready`);
      assert.equal(ready.status, 200);
      const body = await ready.text();
      assert.match(body, /configuration errors: 1 /);
      assert.match(body, new RegExp(`${c.file}:\\d+ \\[PCL_`));
      const dump = (await (await fetch(`http://${gw.adminAddress}/config_dump`)).json()) as {
        errors: { file: string }[];
        invalid: { kind: string }[];
      };
      assert.deepEqual(
        dump.errors.map((e) => e.file),
        [c.file],
      );
      assert.deepEqual(
        dump.invalid.map((i) => i.kind),
        [c.kind],
      );

      // 2. Fixed: in force, the error logged as fixed once, the metric back to 0, /ready without errors.
      writeFileSync(join(config, c.file), c.valid());
      await gw.reload();
      c.probe(gw.snapshot(), false);
      await waitForLogLine(logFile, (l) => isMine(l, 'fixed'), `${c.kind} error fixed`);
      assert.equal(await metric(gw, c.kind), 0);
      assert.doesNotMatch(await (await fetch(`http://${gw.adminAddress}/ready`)).text(), /configuration errors/);

      // 3. Broken again: the last good version stays in force; the error is logged (again) and counted.
      writeFileSync(join(config, c.file), c.invalid());
      await gw.reload();
      c.probe(gw.snapshot(), false);
      assert.ok(gw.snapshot().diagnostics.some((d) => d.code === 'PCL_CONFIG_KEPT_LAST_GOOD' && d.file === c.file));
      await waitForLogLine(
        logFile,
        (l) => isMine(l, 'appeared') && l.generation === gw.snapshot().generation,
        `${c.kind} error again`,
      );
      assert.equal(await metric(gw, c.kind), 1);
      // Once each: the first error, its fix, the second error.
      const mine = readLogLines(logFile).filter((l) => l.type === 'config_error' && l.kind === c.kind);
      assert.deepEqual(
        mine.map((l) => l.state),
        ['appeared', 'fixed', 'appeared'],
      );
      assert.match(
        await (await fetch(`http://${gw.adminAddress}/metrics`)).text(),
        /^portcullis_config_generation 3$/m,
      );
    } finally {
      await gw.close({ drainMs: 100 });
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('portcullis.yaml: invalid at first load, serve refuses to start (exit 2, file:line); on reload the last good settings stay', {
  timeout: 120_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-failclosed-'));
  const config = join(dir, 'config');
  mkdirSync(config);
  for (const [name, text] of Object.entries(baseFiles())) writeFileSync(join(config, name), text);
  const bad = 'egressPolicies:\n- matchCidrs: [0.0.0.0/0]\n  policy: Alow\n';
  try {
    writeFileSync(join(config, 'portcullis.yaml'), bad);
    const r = await runCli([
      'serve',
      '--config',
      config,
      ...(await pki.servingFlags('spiffe://cluster.local/ns/istio-system/sa/ztunnel-egress')),
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      '--workers',
      '1',
    ]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /the settings are invalid, so the gateway does not start/);
    assert.match(r.stderr, /portcullis\.yaml:3:\d+: \[PCL_SETTINGS_INVALID\] egressPolicies\[0\]\.policy/);

    writeFileSync(join(config, 'portcullis.yaml'), seed('portcullis.yaml'));
    const logFile = join(dir, 'access.log');
    const gw = await startGateway({
      configDir: config,
      caDir: pki.caDir,
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      log: logFile,
      env: {},
      configDebounceMs: 60_000,
      resolver: NO_DNS,
    });
    try {
      assert.equal(await metric(gw, 'Settings'), 0);
      writeFileSync(join(config, 'portcullis.yaml'), bad);
      await gw.reload();
      // The last good egressPolicies (Deny everything) stay: the undeclared host is still denied, not allowed.
      assert.deepEqual(gw.snapshot().settings.egressPolicies, [{ matchCidrs: ['0.0.0.0/0', '::/0'], policy: 'Deny' }]);
      assert.equal(tunnel(gw.snapshot(), 'undeclared.example').kind, 'deny');
      assert.equal(tunnel(gw.snapshot(), 'httpbin.org').kind, 'allow');
      const line = await waitForLogLine(
        logFile,
        (l) => l.type === 'config_error' && l.state === 'appeared' && l.kind === 'Settings',
        'settings error',
      );
      assert.equal(line.code, 'PCL_SETTINGS_INVALID');
      assert.equal(line.line, 3);
      assert.equal(await metric(gw, 'Settings'), 1);
      assert.match(
        await (await fetch(`http://${gw.adminAddress}/metrics`)).text(),
        /^portcullis_config_last_reload_success 0$/m,
      );
      writeFileSync(join(config, 'portcullis.yaml'), seed('portcullis.yaml'));
      await gw.reload();
      await waitForLogLine(
        logFile,
        (l) => l.type === 'config_error' && l.state === 'fixed' && l.kind === 'Settings',
        'settings fixed',
      );
      assert.equal(await metric(gw, 'Settings'), 0);
      assert.match(
        await (await fetch(`http://${gw.adminAddress}/metrics`)).text(),
        /^portcullis_config_last_reload_success 1$/m,
      );
    } finally {
      await gw.close({ drainMs: 100 });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
