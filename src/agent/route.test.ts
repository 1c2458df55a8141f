/** Routing like ztunnel's build_request: bound ServiceEntry → HBONE with the VIP authority; else egressPolicies. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { routeTarget } from './route.ts';
import { GATEWAY_SPIFFE, TEST_SETTINGS, testSnapshot } from '../../test/support/agent-config.ts';
import { loadConfigTexts } from '../config/load.ts';
import { compileSnapshot } from '../mesh/compile.ts';

const snap = testSnapshot();
const vipOf = (host: string): string => {
  for (const se of snap.serviceEntries.values()) {
    const v = se.vips.find((x) => x.host === host && !x.value.includes(':'));
    if (v) return v.value;
  }
  throw new Error(`no VIP for ${host}`);
};

test('a bound ServiceEntry host goes over HBONE with its IPv4 VIP and the port as :authority', () => {
  const r = routeTarget(snap, { host: 'HTTPBIN.org', port: 443, isIp: false });
  assert.equal(r.kind, 'hbone');
  if (r.kind !== 'hbone') return;
  assert.match(vipOf('httpbin.org'), /^240\.240\.0\.\d+$/);
  assert.equal(r.authority, `${vipOf('httpbin.org')}:443`);
  assert.equal(r.expectedSan, GATEWAY_SPIFFE);
  assert.equal(r.serviceEntry, 'bookinfo/httpbin-org');
  assert.equal(r.host, 'httpbin.org');
});

test('dialling the VIP itself sends the VIP as dialled', () => {
  const vip = vipOf('httpbin.org');
  const r = routeTarget(snap, { host: vip, port: 80, isIp: true });
  assert.deepEqual(r.kind === 'hbone' && [r.authority, r.host], [`${vip}:80`, null]);
});

test('an IP inside spec.addresses goes over HBONE with the dialled IP; its host (no VIP) as host:port', () => {
  const byIp = routeTarget(snap, { host: '203.0.113.7', port: 5432, isIp: true });
  assert.equal(byIp.kind === 'hbone' && byIp.authority, '203.0.113.7:5432');
  const byName = routeTarget(snap, { host: 'db.partner.example', port: 5432, isIp: false });
  assert.equal(byName.kind === 'hbone' && byName.authority, 'db.partner.example:5432');
});

test('a wildcard ServiceEntry match keeps the asked name in the authority', () => {
  const r = routeTarget(snap, { host: 'api.wild.example', port: 443, isIp: false });
  assert.equal(r.kind === 'hbone' && r.authority, 'api.wild.example:443');
});

test('a bound ServiceEntry on an undeclared port still goes to the gateway (it answers 503)', () => {
  const r = routeTarget(snap, { host: 'httpbin.org', port: 8443, isIp: false });
  assert.equal(r.kind === 'hbone' && r.authority, `${vipOf('httpbin.org')}:8443`);
});

test('an unknown or unbound host name must be resolved first', () => {
  assert.deepEqual(routeTarget(snap, { host: 'Example.COM', port: 443, isIp: false }), {
    kind: 'resolve',
    host: 'example.com',
    port: 443,
  });
  assert.equal(routeTarget(snap, { host: 'unbound.example', port: 443, isIp: false }).kind, 'resolve');
});

test('an unknown IP is decided by egressPolicies: allow → direct, deny → refused with the reason', () => {
  const allow = routeTarget(snap, { host: '127.0.0.1', port: 8080, isIp: true });
  assert.equal(allow.kind, 'direct');
  const deny = routeTarget(snap, { host: '93.184.216.34', port: 443, isIp: true });
  assert.equal(deny.kind, 'deny');
  if (deny.kind !== 'deny') return;
  assert.equal(deny.decision.code, 'PCL_EGRESS_POLICY_DENY');
  assert.match(deny.decision.reason, /93\.184\.216\.34:443 denied by egressPolicies\[1\] 0\.0\.0\.0\/0/);
  const v6 = routeTarget(snap, { host: '2001:db8::1', port: 443, isIp: true });
  assert.equal(v6.kind, 'deny');
});

test('a host or address only an invalid ServiceEntry declares is denied, never resolved or sent direct', () => {
  const invalidSe = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: local, namespace: bookinfo}
spec:
  hosts: [local.example]
  addresses: [127.0.0.7]
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: BOGUS
`;
  const load = loadConfigTexts([{ path: 'se.yaml', text: invalidSe }], {
    settings: { path: 'portcullis.yaml', text: TEST_SETTINGS },
    env: {},
  });
  const bad = compileSnapshot(load);
  for (const target of [
    { host: 'local.example', port: 443, isIp: false },
    { host: '127.0.0.7', port: 443, isIp: true },
  ]) {
    const r = routeTarget(bad, target);
    assert.equal(r.kind, 'deny', target.host);
    assert.equal(r.kind === 'deny' && r.decision.code, 'PCL_MESH_INVALID_SERVICE_ENTRY');
  }
  // Without the invalid ServiceEntry the same loopback address is allowed direct by egressPolicies.
  assert.equal(routeTarget(snap, { host: '127.0.0.7', port: 443, isIp: true }).kind, 'direct');
});
