import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfigTexts } from '../config/load.ts';
import { compileSnapshot } from './compile.ts';

const se = (name: string, host: string, status = ''): string => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: bookinfo}
spec:
  hosts: [${host}]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
${status}`;

test('a ServiceEntry keeps the VIPs istiod wrote in status.addresses; others are allocated around them', () => {
  const withStatus = se('httpbin-org', 'httpbin.org', 'status:\n  addresses:\n  - {value: 240.240.0.1, host: httpbin.org}\n  - {value: "2001:2::1", host: httpbin.org}\n  - {value: 240.240.9.9, host: not-mine.example}\n  - {value: nonsense, host: httpbin.org}\n');
  // A ServiceEntry without status, loaded first, would otherwise take 240.240.0.1.
  const load = loadConfigTexts([{ path: 'a.yaml', text: se('aaa-first', 'first.example') }, { path: 'b.yaml', text: withStatus }]);
  const snap = compileSnapshot(load);
  const httpbin = snap.serviceEntries.get('ServiceEntry/bookinfo/httpbin-org')!;
  assert.deepEqual(httpbin.vips, [{ host: 'httpbin.org', value: '240.240.0.1' }, { host: 'httpbin.org', value: '2001:2::1' }]);
  const first = snap.serviceEntries.get('ServiceEntry/bookinfo/aaa-first')!;
  assert.ok(first.vips.length === 2 && !first.vips.some((v) => v.value === '240.240.0.1' || v.value === '2001:2::1'), JSON.stringify(first.vips));
  // Without status, the same ServiceEntry gets the first free pair as before.
  const plain = compileSnapshot(loadConfigTexts([{ path: 'b.yaml', text: se('httpbin-org', 'httpbin.org') }]));
  assert.deepEqual(plain.serviceEntries.get('ServiceEntry/bookinfo/httpbin-org')!.vips.map((v) => v.value), ['240.240.0.1', '2001:2::1']);
});
