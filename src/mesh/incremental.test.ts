/**
 * A reload that reuses the previous compile's work must give exactly what a compile from scratch gives: same
 * conditions, addresses, layers and decisions. Each case changes one thing in seed 000 and compares the two.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfigTexts, type ConfigFile } from '../config/load.ts';
import { compileSnapshot } from './compile.ts';
import { decideConnection } from './decide.ts';
import { resolveAuthority } from './destination.ts';
import type { Snapshot } from './snapshot.ts';
import { statusReport } from './status.ts';

const seed = join(import.meta.dirname, '..', '..', 'examples', 'seed-000');
const FILES: ConfigFile[] = readdirSync(seed)
  .filter((f) => f !== 'portcullis.yaml')
  .sort()
  .map((f) => ({ path: f, text: readFileSync(join(seed, f), 'utf8') }));
const SETTINGS: ConfigFile = { path: 'portcullis.yaml', text: readFileSync(join(seed, 'portcullis.yaml'), 'utf8') };

function edit(files: ConfigFile[], path: string, fn: (t: string) => string): ConfigFile[] {
  return files.map((f) => (f.path === path ? { path, text: fn(f.text) } : f));
}

const EXTRA_SE = {
  path: 'extra-se.yaml',
  text: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: api-example
  namespace: bookinfo
  labels: {istio.io/use-waypoint: ztunnel-egress, istio.io/use-waypoint-namespace: istio-system}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: DNS
`,
};

// A ServiceEntry that takes its waypoint from its namespace's labels (it has none of its own).
const NS_BOUND_SE = {
  path: 'ns-bound-se.yaml',
  text: EXTRA_SE.text
    .replace(/  labels: .*\n/, '')
    .replace('api-example', 'ns-bound')
    .replace('api.example.com', 'nsbound.example.com'),
};
const NS_BINDING = '    istio.io/use-waypoint: ztunnel-egress\n    istio.io/use-waypoint-namespace: istio-system\n';

const CASES: { name: string; files: ConfigFile[]; settings?: ConfigFile; base?: ConfigFile[] }[] = [
  { name: 'nothing changed', files: FILES },
  {
    name: 'one policy changed',
    files: edit(FILES, 'serviceentry-policies.yaml', (t) => t.replace('bookinfo-productpage', 'bookinfo-reviews')),
  },
  { name: 'a policy removed', files: FILES.filter((f) => f.path !== 'default-deny.yaml') },
  {
    name: 'the ServiceEntry unbound',
    files: edit(FILES, 'serviceentry.yaml', (t) => t.replace('use-waypoint: ztunnel-egress', 'use-waypoint: none')),
  },
  { name: 'a ServiceEntry added', files: [...FILES, EXTRA_SE] },
  {
    name: 'the namespace relabelled',
    base: [...FILES, NS_BOUND_SE],
    files: [...edit(FILES, 'namespace.yaml', (t) => t.replace('  labels:\n', `  labels:\n${NS_BINDING}`)), NS_BOUND_SE],
  },
  {
    name: 'the gateway listener broken',
    files: edit(FILES, 'gateway.yaml', (t) => t.replace('port: 15008', 'port: 8080')),
  },
  {
    name: 'the settings changed',
    files: FILES,
    settings: { path: 'portcullis.yaml', text: 'egressGateway: {defaultDeny: false}\n' },
  },
];

const REQUESTS = [
  ['spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage', 'httpbin.org', 443],
  ['spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews', 'httpbin.org', 443],
  ['spiffe://cluster.local/ns/default/sa/sleep', 'httpbin.org', 443],
  ['spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage', 'api.example.com', 443],
  ['spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage', '240.240.0.1', 443],
  ['spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage', 'nsbound.example.com', 443],
] as const;

function observe(snap: Snapshot): unknown {
  const decisions = REQUESTS.map(([principal, host, port]) => {
    const dest = resolveAuthority(snap, null, { host, port, isIp: /^\d/.test(host) });
    const r = decideConnection(snap, dest, {
      principal,
      sourceIp: '10.0.0.1',
      destinationIp: '240.240.0.1',
      destinationPort: port,
    });
    return [dest.kind, r.decision, r.code, r.layers.map((l) => [l.layer, l.decision, l.policy])];
  });
  const layers = [...snap.gateways.keys()].map((k) => snap.gatewayLayer(k).policies.map((p) => p.ref));
  const policies = [...snap.policies.values()].map((p) => [p.ref, p.resource.spec, p.attachedTo]);
  return { status: statusReport(snap), decisions, layers, policies };
}

for (const c of CASES) {
  test(`incremental reload equals a compile from scratch: ${c.name}`, () => {
    const base = c.base ?? FILES;
    const firstLoad = loadConfigTexts(base, { settings: SETTINGS, env: {} });
    const first = compileSnapshot(firstLoad);
    const settings = c.settings ?? SETTINGS;
    // Incremental: the loader reuses unchanged objects and the compile reuses the previous snapshot's work.
    const incremental = compileSnapshot(loadConfigTexts(c.files, { settings, env: {}, previous: firstLoad }), {
      previous: first,
    });
    // From scratch: fresh objects everywhere, only the previous VIP allocations carried over (as on any reload).
    const fresh = compileSnapshot(loadConfigTexts(base, { settings: SETTINGS, env: {} }));
    const scratch = compileSnapshot(loadConfigTexts(c.files, { settings, env: {} }), { previous: fresh });
    assert.deepEqual(observe(incremental), observe(scratch));
    // And the edit is one the snapshot sees: otherwise the comparison above could not fail.
    if (c.name === 'nothing changed') assert.deepEqual(observe(incremental), observe(first));
    else assert.notDeepEqual(observe(incremental), observe(first), `the edit "${c.name}" changes the snapshot`);
  });
}
