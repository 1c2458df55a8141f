/**
 * `portcullis audit` end to end on a cluster with all five layers of seed 000 in place (test/fixtures/audit/complete):
 * it audits clean, its reachability table is seed 000's, and breaking each layer in turn gives exactly the expected
 * finding on exactly the resource.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli } from './support/cli.ts';

const COMPLETE = join(import.meta.dirname, 'fixtures', 'audit', 'complete');
const cleanups: string[] = [];
after(() => cleanups.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface JsonFinding {
  code: string;
  layer: number | 'config';
  severity: string;
  resource: { kind: string; namespace: string; name: string };
  message: string;
  fix: string;
}

/** A copy of the complete fixture with `edit` applied to its files (name → text; null deletes). */
function variant(edit: Record<string, (text: string) => string | null>): string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-audit-'));
  cleanups.push(dir);
  cpSync(COMPLETE, dir, { recursive: true });
  for (const [name, fn] of Object.entries(edit)) {
    const path = join(dir, name);
    let before = '';
    try {
      before = readFileSync(path, 'utf8');
    } catch {
      before = '';
    }
    const after = fn(before);
    if (after === null) unlinkSync(path);
    else {
      assert.notEqual(after, before, `the edit of ${name} must change it`);
      writeFileSync(path, after);
    }
  }
  return dir;
}

async function audit(dir: string, ...flags: string[]) {
  const r = await runCli(['audit', '--config', dir, '-o', 'json', ...flags]);
  assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
  const report = JSON.parse(r.stdout) as {
    findings: JsonFinding[];
    reachability: { identity: string; destinations: { host: string; port: number }[]; bypass: number[] }[];
  };
  return { code: r.code, report, significant: report.findings.filter((f) => f.severity !== 'info') };
}

const show = (fs: JsonFinding[]) =>
  fs.map((f) => `${f.code} ${f.resource.kind}/${f.resource.namespace}/${f.resource.name}`);

test('the complete fixture audits clean, exit 0', async () => {
  const { code, report } = await audit(COMPLETE, '--fail-on', 'warning');
  assert.deepEqual(show(report.findings), []);
  assert.equal(code, 0);
});

test("the complete fixture's reachability table: bookinfo-productpage → httpbin.org:443 only, the others nothing", async () => {
  const { report } = await audit(COMPLETE);
  assert.deepEqual(report.reachability, [
    {
      identity: 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage',
      destinations: [{ host: 'httpbin.org', port: 443 }],
      bypass: [],
    },
    { identity: 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews', destinations: [], bypass: [] },
    { identity: 'spiffe://cluster.local/ns/default/sa/sleep', destinations: [], bypass: [] },
  ]);
});

const BOOKINFO_NS = /(name: bookinfo\n  labels:\n)([\s\S]*?)(---)/;
const dropLabel = (label: string) => (t: string) =>
  t.replace(
    BOOKINFO_NS,
    (_m, head: string, labels: string, tail: string) =>
      head + labels.replace(new RegExp(`    ${label}: \\S+\\n`), '') + tail,
  );
const HOST_NETWORK_POD = `apiVersion: v1
kind: Pod
metadata:
  name: node-agent
  namespace: bookinfo
spec:
  hostNetwork: true
  serviceAccountName: bookinfo-reviews
  containers:
    - name: agent
      image: busybox
`;
const LEGACY = `apiVersion: v1
kind: Namespace
metadata:
  name: legacy
  labels:
    istio-injection: enabled
    pod-security.kubernetes.io/enforce: restricted
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: workload-egress
  namespace: legacy
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
    - to: [{podSelector: {}}]
`;
const dropSkipAnnotation = (t: string) =>
  t.replace(/  annotations:\n    solo\.io\/sidecar-skip-waypoint: "true"\n/, '');

interface Break {
  name: string;
  edit: Record<string, (text: string) => string | null>;
  expect: string;
  layer: number | 'config';
  severity: 'error' | 'warning';
  fix: RegExp;
}

const BREAKS: Break[] = [
  {
    name: 'drop the ambient label from bookinfo',
    edit: { 'namespaces.yaml': dropLabel('istio\\.io/dataplane-mode') },
    expect: 'PCL_AUDIT_CAPTURE_LABEL_MISSING Namespace//bookinfo',
    layer: 1,
    severity: 'error',
    fix: /name: bookinfo\n  labels:\n    pod-security\.kubernetes\.io\/enforce: restricted\n    istio\.io\/dataplane-mode: ambient/,
  },
  {
    name: 'weaken the Kyverno policy to Audit',
    edit: {
      'require-ambient.yaml': (t) => t.replace('validationFailureAction: Enforce', 'validationFailureAction: Audit'),
    },
    expect: 'PCL_AUDIT_ADMISSION_NOT_ENFORCED ClusterPolicy//require-ambient-dataplane-mode',
    layer: 1,
    severity: 'warning',
    fix: /kind: ValidatingAdmissionPolicy\n/,
  },
  {
    name: "delete bookinfo's NetworkPolicy",
    edit: { 'networkpolicy.yaml': (t) => t.slice(t.indexOf('---') + 4) },
    expect: 'PCL_AUDIT_FENCE_MISSING Namespace//bookinfo',
    layer: 2,
    severity: 'error',
    fix: /kind: NetworkPolicy\nmetadata:\n  name: workload-egress\n  namespace: bookinfo/,
  },
  {
    name: "widen bookinfo's NetworkPolicy with an ipBlock 0.0.0.0/0",
    edit: {
      'networkpolicy.yaml': (t) =>
        t.replace(
          '        - podSelector: {}\n---',
          '        - podSelector: {}\n    - to:\n        - ipBlock:\n            cidr: 0.0.0.0/0\n---',
        ),
    },
    expect: 'PCL_AUDIT_FENCE_IPBLOCK_OPEN NetworkPolicy/bookinfo/workload-egress',
    layer: 2,
    severity: 'error',
    fix: /namespace: bookinfo/,
  },
  {
    name: 'remove egressPolicies',
    edit: { 'portcullis.yaml': (t) => t.replace(/egressPolicies:\n(- matchCidrs:\n(  - .*\n)+  policy: Deny\n)/, '') },
    expect: 'PCL_AUDIT_EGRESS_POLICIES_MISSING Settings//egressPolicies',
    layer: 3,
    severity: 'error',
    fix: /egressPolicies:\n  - matchCidrs:\n      - 0\.0\.0\.0\/0\n      - ::\/0\n    policy: Deny/,
  },
  {
    name: 'add a hostNetwork pod to bookinfo',
    edit: { 'node-agent.yaml': () => HOST_NETWORK_POD },
    expect: 'PCL_AUDIT_HOST_NETWORK_POD Pod/bookinfo/node-agent',
    layer: 4,
    severity: 'error',
    fix: /hostNetwork: false/,
  },
  {
    name: 'drop Pod Security from bookinfo',
    edit: { 'namespaces.yaml': dropLabel('pod-security\\.kubernetes\\.io/enforce') },
    expect: 'PCL_AUDIT_PSA_MISSING Namespace//bookinfo',
    layer: 4,
    severity: 'error',
    fix: /pod-security\.kubernetes\.io\/enforce: restricted/,
  },
  {
    name: 'drop the declared perimeter',
    edit: { 'portcullis.yaml': (t) => t.replace(/perimeter:\n(  .*\n)+/, '') },
    expect: 'PCL_AUDIT_PERIMETER_UNVERIFIED Settings//perimeter',
    layer: 5,
    severity: 'warning',
    fix: /perimeter:\n  podCidrs:/,
  },
  {
    name: 'drop default-deny (the chart flag and the policy)',
    edit: {
      'portcullis.yaml': (t) => t.replace('defaultDeny: true', 'defaultDeny: false'),
      'default-deny.yaml': () => null,
    },
    expect: 'PCL_AUDIT_NO_DEFAULT_DENY Gateway/istio-system/ztunnel-egress',
    layer: 'config',
    severity: 'error',
    fix: /kind: AuthorizationPolicy\nmetadata:\n  name: default-deny-ztunnel-egress\n  namespace: istio-system\nspec:\n  targetRefs:\n    - kind: Gateway\n      group: gateway\.networking\.k8s\.io\n      name: ztunnel-egress\n  action: ALLOW\n  rules: \[\]/,
  },
  {
    name: 'drop the sidecar-skip annotation in a mixed cluster',
    edit: { 'legacy.yaml': () => LEGACY, 'serviceentry.yaml': dropSkipAnnotation },
    expect: 'PCL_AUDIT_SIDECAR_SKIP_MISSING ServiceEntry/bookinfo/httpbin-org',
    layer: 'config',
    severity: 'warning',
    fix: /metadata:\n  annotations:\n    solo\.io\/sidecar-skip-waypoint: "true"/,
  },
];

for (const b of BREAKS) {
  test(`break one layer: ${b.name} → ${b.expect}`, async () => {
    const { code, significant } = await audit(variant(b.edit));
    assert.deepEqual(show(significant), [b.expect]);
    const [f] = significant;
    assert.equal(f.layer, b.layer);
    assert.equal(f.severity, b.severity);
    assert.match(f.fix, b.fix);
    assert.equal(code, b.severity === 'error' ? 1 : 0, 'exit 1 only when a finding reaches --fail-on error');
    if (b.severity === 'warning')
      assert.equal((await audit(variant(b.edit), '--fail-on', 'warning')).code, 1, '--fail-on warning');
  });
}

test('a mixed cluster whose ServiceEntry keeps the annotation stays clean (the sidecar namespace is info only)', async () => {
  const { significant, report } = await audit(variant({ 'legacy.yaml': () => LEGACY }));
  assert.deepEqual(show(significant), []);
  assert.deepEqual(show(report.findings), ['PCL_AUDIT_CAPTURE_SIDECAR Namespace//legacy']);
});

test('a broken layer shows in the reachability table as a bypass', async () => {
  const { report } = await audit(variant({ 'networkpolicy.yaml': (t) => t.slice(t.indexOf('---') + 4) }));
  const productpage = report.reachability.find((r) => r.identity.endsWith('/sa/bookinfo-productpage'))!;
  assert.deepEqual(productpage.bypass, [2]);
  assert.deepEqual(report.reachability.find((r) => r.identity.endsWith('/sa/sleep'))!.bypass, []);
});
