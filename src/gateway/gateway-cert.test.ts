/** The gateway's serving certificate carries one SPIFFE URI SAN per served Gateway and chains to the mesh root. */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { initCa } from '../identity/ca.ts';
import { uriSans } from '../identity/peer-identity.ts';
import { issueGatewayCert } from './gateway-cert.ts';

test('one identity or several: every served Gateway identity is a URI SAN of a leaf signed by the CA', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pcl-gwcert-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = await initCa(join(dir, 'ca'), { trustDomain: 'cluster.local' });
  const root = new X509Certificate(ca.rootCertPem);
  const ids = ['spiffe://cluster.local/ns/istio-system/sa/ztunnel-egress', 'spiffe://cluster.local/ns/istio-egress/sa/egress-waypoint'];
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
