/** Deciding tunnels, planning and vetting upstreams, and re-deciding open tunnels, on compiled snapshots. No sockets. */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfigTexts, type ConfigFile } from '../config/load.ts';
import { compileSnapshot } from '../mesh/compile.ts';
import type { Authority } from '../mesh/destination.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import { recheckTunnel } from './policy-recheck.ts';
import { compileAddressGuard } from '../upstream/private-address-guard.ts';
import { decideTunnel, decideUnknownAddresses } from './tunnel-decision.ts';
import { namesToResolve, planUpstream, upstreamPort, vetAddresses } from '../upstream/plan.ts';

const examples = join(import.meta.dirname, '..', '..', 'examples', 'seed-000');
const PRODUCTPAGE = 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage';
const SLEEP_DEFAULT = 'spiffe://cluster.local/ns/default/sa/sleep';

function snapshot(extra: Record<string, string> = {}, settingsExtra = '', skip: string[] = []): Snapshot {
  const files: ConfigFile[] = [];
  let settings = '';
  for (const f of readdirSync(examples).sort()) {
    const text = readFileSync(join(examples, f), 'utf8');
    if (f === 'portcullis.yaml') settings = text;
    else if (!skip.includes(f)) files.push({ path: f, text });
  }
  for (const [path, text] of Object.entries(extra)) files.push({ path, text });
  // Settings that name egressPolicies replace the seed's (a YAML key may appear once).
  const text = settingsExtra.includes('egressPolicies') ? settingsExtra : `${settings}\n${settingsExtra}`;
  const snap = compileSnapshot(loadConfigTexts(files, { settings: { path: 'portcullis.yaml', text }, env: {} }));
  const errors = snap.diagnostics.filter((d) => d.severity === 'error');
  assert.deepEqual(errors, [], 'test configuration is valid');
  return snap;
}

const host = (h: string, port: number): Authority => ({ host: h, port, isIp: false });
const ip = (h: string, port: number): Authority => ({ host: h, port, isIp: true });

const SE = (name: string, spec: string): string => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${name}
  namespace: bookinfo
  labels: {istio.io/use-waypoint: ztunnel-egress, istio.io/use-waypoint-namespace: istio-system}
spec:
${spec}
`;

test('seed 000: productpage is allowed by both layers; default is denied by the explicit DENY', () => {
  const snap = snapshot();
  const ok = decideTunnel(snap, host('httpbin.org', 443), null, PRODUCTPAGE, '10.0.0.7');
  assert.equal(ok.decision.kind, 'allow');
  assert.equal(ok.request.principal, PRODUCTPAGE);
  // destination.ip is the host's VIP when the caller named a host.
  assert.equal(ok.request.destinationIp, '240.240.0.1');
  assert.equal(ok.request.destinationPort, 443);
  const denied = decideTunnel(snap, host('httpbin.org', 443), null, SLEEP_DEFAULT, '10.0.0.8');
  assert.equal(denied.decision.kind, 'deny');
  assert.equal(denied.decision.record.code, 'PCL_AUTHZ_DENIED_EXPLICIT');
  // The VIP authority reaches the same ServiceEntry.
  const viaVip = decideTunnel(snap, ip('240.240.0.1', 443), null, PRODUCTPAGE, '10.0.0.7');
  assert.equal(viaVip.decision.kind, 'allow');
  assert.equal(viaVip.decision.dest.kind === 'serviceEntry' && viaVip.decision.dest.via, 'vip');
});

test('an undeclared port is 503 only for a caller policy allows; an undeclared host is egressPolicies', () => {
  const snap = snapshot();
  const noPort = decideTunnel(snap, host('httpbin.org', 8443), null, PRODUCTPAGE, '10.0.0.7');
  assert.equal(noPort.decision.kind, 'noSuchPort');
  assert.equal(decideTunnel(snap, host('httpbin.org', 8443), null, SLEEP_DEFAULT, '10.0.0.8').decision.kind, 'deny');
  const unknownHost = decideTunnel(snap, host('example.com', 443), null, PRODUCTPAGE, '10.0.0.7');
  assert.equal(unknownHost.decision.kind, 'deny', 'no egressPolicies Allow entry: denied without a lookup');
  assert.equal(unknownHost.decision.record.code, 'PCL_EGRESS_NO_MATCH');
  const unknownIp = decideTunnel(snap, ip('93.184.216.34', 443), null, PRODUCTPAGE, '10.0.0.7');
  assert.equal(unknownIp.decision.record.code, 'PCL_EGRESS_POLICY_DENY');

  const open = snapshot(
    {},
    'egressPolicies: [{matchCidrs: ["93.184.216.0/24"], policy: Allow}, {matchCidrs: ["0.0.0.0/0"], policy: Deny}]',
  );
  const resolveFirst = decideTunnel(open, host('example.com', 443), null, PRODUCTPAGE, '10.0.0.7');
  assert.equal(resolveFirst.decision.kind, 'resolveFirst');
  assert.equal(decideUnknownAddresses(open.egressPolicies, ['93.184.216.34'], 443).decision, 'allow');
  // Every address must be allowed: one outside the Allow range denies the name.
  assert.equal(decideUnknownAddresses(open.egressPolicies, ['93.184.216.34', '1.1.1.1'], 443).decision, 'deny');
  assert.equal(decideUnknownAddresses(open.egressPolicies, [], 443).decision, 'deny');
});

test('a ServiceEntry bound to a Gateway this process does not serve is denied', () => {
  const other = `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: foreign, namespace: istio-system}
spec:
  gatewayClassName: someone-else
  listeners: [{name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: All}}}]
status:
  addresses: [{type: Hostname, value: foreign.istio-system.svc.cluster.local}]
`;
  const se = SE(
    'foreign-se',
    '  hosts: [foreign.example]\n  ports: [{number: 443, name: https, protocol: TLS}]\n  resolution: DNS',
  ).replace('istio.io/use-waypoint: ztunnel-egress', 'istio.io/use-waypoint: foreign');
  const snap = snapshot({ 'other.yaml': other, 'se.yaml': se });
  const d = decideTunnel(snap, host('foreign.example', 443), null, PRODUCTPAGE, '10.0.0.7');
  assert.equal(d.decision.kind, 'deny');
  assert.equal(d.decision.record.code, 'PCL_DATAPLANE_GATEWAY_NOT_SERVED');
});

test('upstream plans follow resolution: DNS resolves the host, STATIC uses endpoints, NONE dials the original address', () => {
  const snap = snapshot({
    'static.yaml': SE(
      'static-se',
      '  hosts: [static.example]\n  ports: [{number: 443, name: https, protocol: TLS, targetPort: 8443}]\n  resolution: STATIC\n' +
        '  endpoints: [{address: 10.1.2.3}, {address: 10.1.2.4, ports: {https: 9443}}]',
    ),
    'none.yaml': SE(
      'none-se',
      '  hosts: [none.example]\n  addresses: [203.0.113.0/24]\n  ports: [{number: 5432, name: pg, protocol: TCP}]\n  resolution: NONE',
    ),
    'dns-ep.yaml': SE(
      'dnsep-se',
      '  hosts: [api.example]\n  ports: [{number: 443, name: https, protocol: TLS}]\n  resolution: DNS\n' +
        '  endpoints: [{address: backend.example}, {address: 198.51.100.9}]',
    ),
  });
  const plan = (a: Authority) => planUpstream(decideTunnel(snap, a, null, PRODUCTPAGE, '10.0.0.7').decision.dest);

  const dns = plan(host('httpbin.org', 443));
  assert.deepEqual(dns, {
    ok: true,
    targets: [{ kind: 'name', host: 'httpbin.org', port: 443 }],
    egressCheck: false,
    shuffle: false,
  });

  const stat = plan(host('static.example', 443));
  assert.ok(stat.ok);
  assert.deepEqual(stat.targets, [
    { kind: 'trusted', ip: '10.1.2.3', port: 8443 },
    { kind: 'trusted', ip: '10.1.2.4', port: 9443 },
  ]);

  const none = plan(ip('203.0.113.7', 5432));
  assert.deepEqual(none, {
    ok: true,
    targets: [{ kind: 'original', ip: '203.0.113.7', port: 5432 }],
    egressCheck: true,
    shuffle: false,
  });

  const eps = plan(host('api.example', 443));
  assert.ok(eps.ok);
  assert.deepEqual(eps.targets, [
    { kind: 'name', host: 'backend.example', port: 443 },
    { kind: 'trusted', ip: '198.51.100.9', port: 443 },
  ]);
  assert.deepEqual(namesToResolve(eps), ['backend.example']);
  assert.equal(upstreamPort({ number: 443, name: 'https', targetPort: 8443 }, { https: 9443 }), 9443);
});

test('vetting: every resolved address passes the guard; STATIC endpoints are trusted as written; NONE needs egressPolicies', () => {
  const snap = snapshot();
  const guard = compileAddressGuard({ allowedPrivateCidrs: [], listeners: [{ ip: '10.9.9.9', port: 15008 }] });
  const dnsPlan = planUpstream(
    decideTunnel(snap, host('httpbin.org', 443), null, PRODUCTPAGE, '10.0.0.7').decision.dest,
  );
  assert.ok(dnsPlan.ok);
  const good = vetAddresses(
    dnsPlan,
    new Map([['httpbin.org', ['54.1.2.3', '2600:1f18::1']]]),
    guard,
    snap.egressPolicies,
  );
  assert.ok(good.ok);
  assert.deepEqual(
    good.addresses.map((a) => a.ip),
    ['54.1.2.3', '2600:1f18::1'],
  );
  // One bad address among good ones refuses the whole name (a rebinding answer is an attack, not a choice).
  const mixed = vetAddresses(
    dnsPlan,
    new Map([['httpbin.org', ['54.1.2.3', '169.254.169.254']]]),
    guard,
    snap.egressPolicies,
  );
  assert.ok(!mixed.ok);
  assert.equal(mixed.code, 'PCL_DATAPLANE_PRIVATE_ADDRESS');
  assert.match(mixed.reason, /httpbin\.org resolves to 169\.254\.169\.254/);
  const empty = vetAddresses(dnsPlan, new Map([['httpbin.org', []]]), guard, snap.egressPolicies);
  assert.ok(!empty.ok && empty.code === 'PCL_DATAPLANE_DNS_FAILED');

  const trusted = vetAddresses(
    { ok: true, targets: [{ kind: 'trusted', ip: '10.1.2.3', port: 443 }], egressCheck: false, shuffle: false },
    new Map(),
    guard,
    snap.egressPolicies,
  );
  assert.ok(trusted.ok);
  const self = vetAddresses(
    { ok: true, targets: [{ kind: 'trusted', ip: '10.9.9.9', port: 15008 }], egressCheck: false, shuffle: false },
    new Map(),
    guard,
    snap.egressPolicies,
  );
  assert.ok(!self.ok, 'never the gateway itself');

  const passthrough = vetAddresses(
    { ok: true, targets: [{ kind: 'original', ip: '93.184.216.34', port: 443 }], egressCheck: true, shuffle: false },
    new Map(),
    guard,
    snap.egressPolicies,
  );
  assert.ok(!passthrough.ok);
  assert.equal(passthrough.code, 'PCL_EGRESS_POLICY_DENY');
});

test('re-deciding an open tunnel on a new snapshot: kept while allowed, closed when a policy or the guard no longer allows it', () => {
  const before = snapshot({}, 'allowedPrivateCidrs: [127.0.0.0/8]');
  const { request } = decideTunnel(before, host('httpbin.org', 443), null, PRODUCTPAGE, '10.0.0.7');
  const tunnel = {
    authority: host('httpbin.org', 443),
    request,
    upstream: { ip: '127.0.0.5', port: 443, trusted: false, egressCheck: false },
  };
  const guardOpen = compileAddressGuard({ allowedPrivateCidrs: ['127.0.0.0/8'] });
  assert.deepEqual(recheckTunnel(before, tunnel, guardOpen), { keep: true });

  const gatewayPolicies = readFileSync(join(examples, 'gateway-policies.yaml'), 'utf8').replace(
    'namespaces: ["default"]',
    'namespaces: ["bookinfo"]',
  );
  const denied = snapshot({ 'gateway-policies.yaml': gatewayPolicies }, 'allowedPrivateCidrs: [127.0.0.0/8]', [
    'gateway-policies.yaml',
  ]);
  const v = recheckTunnel(denied, tunnel, guardOpen);
  assert.ok(!v.keep);
  assert.equal(v.record.code, 'PCL_AUTHZ_DENIED_EXPLICIT');

  // The ServiceEntry-layer policies gone: "no allow policies, allow" on that layer, so the tunnel stays.
  const noSePolicies = snapshot({}, 'allowedPrivateCidrs: [127.0.0.0/8]', ['serviceentry-policies.yaml']);
  assert.deepEqual(recheckTunnel(noSePolicies, tunnel, guardOpen), { keep: true });

  // The ServiceEntry removed: the name is now an unknown destination, denied by egressPolicies.
  const noSe = snapshot({}, 'allowedPrivateCidrs: [127.0.0.0/8]', ['serviceentry.yaml', 'serviceentry-policies.yaml']);
  assert.equal(recheckTunnel(noSe, tunnel, guardOpen).keep, false);

  // allowedPrivateCidrs narrowed: the upstream it resolved to is now refused.
  const v2 = recheckTunnel(before, tunnel, compileAddressGuard({ allowedPrivateCidrs: [] }));
  assert.ok(!v2.keep && v2.record.code === 'PCL_DATAPLANE_PRIVATE_ADDRESS');

  // Learn mode lets a policy denial through (the gateway keeps the tunnel as would-deny), never the guard: a tunnel
  // its policy now denies and whose upstream the guard now refuses is closed for the guard.
  const learnDenied = snapshot(
    { 'gateway-policies.yaml': gatewayPolicies },
    'allowedPrivateCidrs: [127.0.0.0/8]\nlearn: true',
    ['gateway-policies.yaml'],
  );
  const learnOnly = recheckTunnel(learnDenied, tunnel, guardOpen);
  assert.ok(
    !learnOnly.keep && learnOnly.record.code === 'PCL_AUTHZ_DENIED_EXPLICIT',
    'the policy denial, for learn mode to let through',
  );
  const v3 = recheckTunnel(learnDenied, tunnel, compileAddressGuard({ allowedPrivateCidrs: [] }));
  assert.ok(!v3.keep && v3.record.code === 'PCL_DATAPLANE_PRIVATE_ADDRESS', JSON.stringify(v3));
});
