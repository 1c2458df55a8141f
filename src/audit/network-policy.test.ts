/** NetworkPolicy egress semantics, as a table: policyTypes, selectors, union, ipBlock except, empty `to`, ports. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NetworkPolicy } from '../config/api-types.ts';
import { loadConfigTexts } from '../config/load.ts';
import { allowsBeyondDns, allowsPort, effectivePolicyTypes, egressVerdict } from './network-policy.ts';
import { describeSet } from './ip-ranges.ts';
import { codes, CLOSED_SETTINGS, goodNamespace, auditOf, pod, SEED_FENCE } from '../../test/support/audit-fixtures.ts';

function policies(yaml: string): NetworkPolicy[] {
  const load = loadConfigTexts([{ path: 'np.yaml', text: yaml }]);
  assert.deepEqual(
    load.diagnostics.filter((d) => d.severity === 'error'),
    [],
  );
  return load.resources.filter((r) => r.kind === 'NetworkPolicy') as NetworkPolicy[];
}

const np = (name: string, spec: string, ns = 'app'): string =>
  `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n${spec
    .trim()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')}\n---\n`;

const DNS_ONLY = `podSelector: {}\npolicyTypes: [Egress]\negress:\n- ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]`;
const DENY_ALL = `podSelector: {}\npolicyTypes: [Egress]`;

interface Case {
  name: string;
  yaml: string;
  labels?: Record<string, string>;
  isolated: boolean;
  /** External ranges the pod can reach on non-DNS ports, or '' for none. */
  open: string;
  dns: boolean;
}

const CASES: Case[] = [
  { name: 'no policy: unrestricted', yaml: '', isolated: false, open: '', dns: true },
  {
    name: 'egress deny-all (policyTypes Egress, no rules)',
    yaml: np('deny', DENY_ALL),
    isolated: true,
    open: '',
    dns: false,
  },
  {
    name: 'Ingress-only policy leaves egress alone',
    yaml: np('in', 'podSelector: {}\npolicyTypes: [Ingress]'),
    isolated: false,
    open: '',
    dns: true,
  },
  {
    name: 'policyTypes absent and egress rules present: Egress is implied',
    yaml: np('implied', 'podSelector: {}\negress:\n- to: [{podSelector: {}}]'),
    isolated: true,
    open: '',
    dns: false,
  },
  {
    name: 'policyTypes absent and `egress: []`: Ingress only (the API server defaults on non-empty egress)',
    yaml: np('empty', 'podSelector: {}\negress: []'),
    isolated: false,
    open: '',
    dns: true,
  },
  {
    name: 'a rule without `to` allows every destination',
    yaml: np('all', 'podSelector: {}\npolicyTypes: [Egress]\negress:\n- {}'),
    isolated: true,
    open: '1.0.0.0/8',
    dns: true,
  },
  {
    name: 'a rule without `to` but only port 53 is DNS, not an opening',
    yaml: np('dns', DNS_ONLY),
    isolated: true,
    open: '',
    dns: true,
  },
  {
    name: 'a rule without `to` on port 443 opens the internet on 443',
    yaml: np('https', 'podSelector: {}\npolicyTypes: [Egress]\negress:\n- ports: [{port: 443}]'),
    isolated: true,
    open: '1.0.0.0/8',
    dns: false,
  },
  {
    name: 'endPort range 53-80 reaches beyond DNS',
    yaml: np(
      'range',
      'podSelector: {}\npolicyTypes: [Egress]\negress:\n- ports: [{port: 53, endPort: 80, protocol: UDP}]',
    ),
    isolated: true,
    open: '1.0.0.0/8',
    dns: true,
  },
  {
    name: 'ipBlock 0.0.0.0/0 opens everything outside the private ranges',
    yaml: np('wide', 'podSelector: {}\npolicyTypes: [Egress]\negress:\n- to: [{ipBlock: {cidr: 0.0.0.0/0}}]'),
    isolated: true,
    open: '1.0.0.0/8',
    dns: true,
  },
  {
    name: 'ipBlock with except removing every public range is closed',
    yaml: np(
      'private',
      'podSelector: {}\npolicyTypes: [Egress]\negress:\n- to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]',
    ),
    isolated: true,
    open: '',
    dns: true,
  },
  {
    name: 'ipBlock except carves a hole but a public range stays open',
    yaml: np(
      'hole',
      'podSelector: {}\npolicyTypes: [Egress]\negress:\n- to: [{ipBlock: {cidr: 203.0.113.0/24, except: [203.0.113.0/25]}}]',
    ),
    isolated: true,
    open: '203.0.113.128/25',
    dns: false,
  },
  {
    name: 'namespaceSelector peers are in-cluster only; kube-system peer allows DNS',
    yaml: np(
      'ns',
      'podSelector: {}\npolicyTypes: [Egress]\negress:\n- to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]\n  ports: [{port: 53, protocol: UDP}]',
    ),
    isolated: true,
    open: '',
    dns: true,
  },
  {
    name: 'a same-namespace podSelector peer does not reach the cluster DNS',
    yaml: np(
      'same',
      'podSelector: {}\npolicyTypes: [Egress]\negress:\n- to: [{podSelector: {}}]\n  ports: [{port: 53, protocol: UDP}]',
    ),
    isolated: true,
    open: '',
    dns: false,
  },
  {
    name: 'policies add up: deny-all plus a DNS policy plus an ipBlock policy',
    yaml:
      np('deny', DENY_ALL) +
      np('dns', DNS_ONLY) +
      np(
        'ext',
        'podSelector: {matchLabels: {app: web}}\npolicyTypes: [Egress]\negress:\n- to: [{ipBlock: {cidr: 198.51.100.0/24}}]',
      ),
    labels: { app: 'web' },
    isolated: true,
    open: '198.51.100.0/24',
    dns: true,
  },
  {
    name: 'a podSelector that does not select the pod leaves it unrestricted',
    yaml: np('other', 'podSelector: {matchLabels: {app: other}}\npolicyTypes: [Egress]'),
    labels: { app: 'web' },
    isolated: false,
    open: '',
    dns: true,
  },
  {
    name: 'a policy in another namespace never selects the pod',
    yaml: np('elsewhere', DENY_ALL, 'other'),
    isolated: false,
    open: '',
    dns: true,
  },
  {
    name: "seed 000's fence: DNS and in-cluster only",
    yaml: SEED_FENCE('app'),
    labels: { app: 'web' },
    isolated: true,
    open: '',
    dns: true,
  },
  {
    name: "seed 000's fence exempts gateway pods",
    yaml: SEED_FENCE('app'),
    labels: { 'gateway.networking.k8s.io/gateway-name': 'ztunnel-egress' },
    isolated: false,
    open: '',
    dns: true,
  },
];

for (const c of CASES) {
  test(`NetworkPolicy egress: ${c.name}`, () => {
    const v = egressVerdict(c.yaml === '' ? [] : policies(c.yaml), 'app', c.labels ?? {});
    assert.equal(v.isolated, c.isolated, 'isolated');
    const open = v.openings.map((o) => describeSet(o.external, 1)).join(' ');
    if (c.open === '') assert.equal(open, '', 'no opening');
    else assert.ok(open.startsWith(c.open), `opening starts with ${c.open}, got "${open}"`);
    assert.equal(v.dnsAllowed, c.dns, 'dns');
  });
}

test('effectivePolicyTypes follows the API server defaults', () => {
  const [a, b, c] = policies(
    np('a', 'podSelector: {}') +
      np('b', 'podSelector: {}\negress: [{}]') +
      np('c', 'podSelector: {}\npolicyTypes: [Egress]'),
  );
  assert.deepEqual(effectivePolicyTypes(a), ['Ingress']);
  assert.deepEqual(effectivePolicyTypes(b), ['Ingress', 'Egress']);
  assert.deepEqual(effectivePolicyTypes(c), ['Egress']);
});

test('ports: protocol defaults to TCP, named DNS ports, numeric strings', () => {
  assert.equal(allowsPort([{ port: 53 }], 'UDP', 53), false, 'TCP is the default protocol');
  assert.equal(allowsPort([{ port: 'dns', protocol: 'UDP' }], 'UDP', 53), true);
  assert.equal(allowsPort([{ protocol: 'UDP' }], 'UDP', 53), true, 'no port: every port of the protocol');
  assert.equal(allowsBeyondDns([{ port: '53', protocol: 'UDP' }]), false);
  assert.equal(allowsBeyondDns([{ port: 'https' }]), false, 'named ports only match pods, never external addresses');
  assert.equal(allowsBeyondDns([]), true);
});

test('auditNetworkPolicy: namespace without policy, unselected pod, open ipBlock, blocked DNS', () => {
  const manifests =
    goodNamespace('a') +
    pod('a', 'web') +
    goodNamespace('b') +
    np(
      'only-web',
      'podSelector: {matchLabels: {app: web}}\npolicyTypes: [Egress]\negress:\n- ports: [{port: 53, protocol: UDP}]',
      'b',
    ) +
    pod('b', 'web', { app: 'web' }) +
    pod('b', 'db', { app: 'db' }) +
    goodNamespace('c') +
    np('deny', DENY_ALL, 'c') +
    np(
      'wide',
      'podSelector: {}\npolicyTypes: [Egress]\negress:\n- to: [{ipBlock: {cidr: 0.0.0.0/0, except: [169.254.169.254/32]}}]\n  ports: [{port: 443}]',
      'c',
    ) +
    pod('c', 'web');
  const report = auditOf(manifests, CLOSED_SETTINGS);
  const layer2 = report.findings.filter((f) => f.layer === 2);
  assert.deepEqual(codes(layer2).sort(), [
    'PCL_AUDIT_DNS_BLOCKED Namespace//c',
    'PCL_AUDIT_FENCE_IPBLOCK_OPEN NetworkPolicy/c/wide',
    'PCL_AUDIT_FENCE_MISSING Namespace//a',
    'PCL_AUDIT_FENCE_NOT_DEFAULT Namespace//b',
    'PCL_AUDIT_FENCE_POD_UNSELECTED Pod/b/db',
  ]);
  const wide = layer2.find((f) => f.code === 'PCL_AUDIT_FENCE_IPBLOCK_OPEN')!;
  assert.match(wide.message, /spec\.egress\[0\] allows external addresses every public IPv4 address on ports TCP\/443/);
  assert.match(wide.fix, /kind: NetworkPolicy[\s\S]*namespace: c/);
});

test('auditNetworkPolicy warns when the fence blocks DNS', () => {
  const report = auditOf(goodNamespace('a') + np('deny', DENY_ALL, 'a') + pod('a', 'web'));
  const dns = report.findings.filter((f) => f.code === 'PCL_AUDIT_DNS_BLOCKED');
  assert.deepEqual(codes(dns), ['PCL_AUDIT_DNS_BLOCKED Namespace//a']);
  assert.equal(dns[0].severity, 'warning');
  assert.match(dns[0].fix, /port: 53/);
});
