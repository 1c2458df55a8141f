/** The gateway's serving certificate carries one SPIFFE URI SAN per served Gateway and chains to the mesh root. */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { initCa } from '../identity/ca.ts';
import { uriSans } from '../identity/peer-identity.ts';
import type { GatewayModel } from '../mesh/snapshot.ts';
import {
  certificateExpiry,
  certificateIdentities,
  issueGatewayCert,
  startDevCaIdentity,
  unservableGateways,
} from './gateway-cert.ts';

test('one identity or several: every served Gateway identity is a URI SAN of a leaf signed by the CA', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pcl-gwcert-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = await initCa(join(dir, 'ca'), { trustDomain: 'cluster.local' });
  const root = new X509Certificate(ca.rootCertPem);
  const ids = [
    'spiffe://cluster.local/ns/istio-system/sa/ztunnel-egress',
    'spiffe://cluster.local/ns/istio-egress/sa/egress-waypoint',
  ];
  for (const set of [ids.slice(0, 1), ids]) {
    const issued = await issueGatewayCert(ca, set);
    const leaf = new X509Certificate(issued.certPem);
    assert.deepEqual(uriSans(leaf.raw), set);
    assert.ok(leaf.verify(root.publicKey));
    assert.equal(leaf.ca, false);
  }
  await assert.rejects(issueGatewayCert(ca, []), /no served Gateway/);
  await assert.rejects(issueGatewayCert(ca, ['spiffe://cluster.local/not-an-sa']), /SPIFFE/);
});

test('--gateway: a Gateway is servable only when configured and named by the certificate', () => {
  const g = (ref: string): GatewayModel =>
    ({ ref, identity: `spiffe://cluster.local/ns/${ref.split('/')[0]}/sa/${ref.split('/')[1]}` }) as GatewayModel;
  const served = [g('istio-egress/egress'), g('istio-system/ztunnel-egress')];
  assert.deepEqual(
    unservableGateways(['istio-egress/egress'], served, ['spiffe://cluster.local/ns/istio-egress/sa/egress']),
    [],
  );
  assert.deepEqual(
    unservableGateways(['istio-egress/egress', 'istio-system/ztunnel-egress'], served, [
      'spiffe://cluster.local/ns/istio-egress/sa/egress',
    ]),
    [
      'Gateway istio-system/ztunnel-egress needs the identity spiffe://cluster.local/ns/istio-system/sa/ztunnel-egress, but the serving certificate names spiffe://cluster.local/ns/istio-egress/sa/egress',
    ],
  );
  assert.deepEqual(unservableGateways(['team/missing'], served, []), [
    'Gateway team/missing is not in the configuration, or its class is not one Portcullis serves',
  ]);
  assert.match(unservableGateways(['istio-egress/egress'], served, [])[0], /names no SPIFFE ID/);
});

test('the dev-CA identity reissues when the served set changes, and certificateExpiry reads the leaf', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pcl-gwcert-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = await initCa(join(dir, 'ca'), { trustDomain: 'cluster.local' });
  const a = 'spiffe://cluster.local/ns/a/sa/gw';
  const b = 'spiffe://cluster.local/ns/b/sa/gw';
  const errors: unknown[] = [];
  const id = await startDevCaIdentity(ca, [a], (e) => errors.push(e), 3_600_000);
  t.after(() => id.close());
  assert.deepEqual(certificateIdentities(id.source.current()), [a]);
  const before = id.source.current();
  await id.update([a]);
  assert.equal(id.source.current(), before, 'same set: no reissue');
  await id.update([a, b]);
  assert.deepEqual(certificateIdentities(id.source.current()), [a, b]);
  const expiry = certificateExpiry();
  const notAfter = expiry(id.source.current()).getTime();
  assert.ok(notAfter > Date.now() + 3_000_000 && notAfter <= Date.now() + 3_600_000);
  assert.deepEqual(errors, []);
});
