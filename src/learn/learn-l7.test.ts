/** Learn mode at L7: a request an AuthorizationPolicy denies reaches the upstream and is logged as would-deny. */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { CredentialStore } from '../waypoint/credentials.ts';
import { send, snapshotFrom, startTunnelListener, type TunnelListener } from '../../test/support/waypoint-harness.ts';
import { flowFromRequest } from './observed-flow.ts';

// A waypoint, one HTTP ServiceEntry bound to it, and a DENY on its /admin paths (one document per line).
const CONFIG = [
  '{apiVersion: gateway.networking.k8s.io/v1, kind: Gateway, metadata: {name: wp, namespace: shop}, spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}}',
  '{apiVersion: networking.istio.io/v1, kind: ServiceEntry, metadata: {name: api, namespace: shop, labels: {istio.io/use-waypoint: wp}}, spec: {hosts: [api.example.com], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}}',
  '{apiVersion: security.istio.io/v1, kind: AuthorizationPolicy, metadata: {name: deny-admin, namespace: shop}, spec: {targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: api}], action: DENY, rules: [{to: [{operation: {paths: ["/admin*"]}}]}]}}',
].join('\n---\n');

const credentials = new CredentialStore();
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  credentials.close();
});

async function setup(learn: boolean): Promise<{ l: TunnelListener; seen: string[] }> {
  const seen: string[] = [];
  const upstream = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    res.end('ok');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        upstream.closeAllConnections();
        upstream.close(() => r());
      }),
  );
  const snap = snapshotFrom([{ path: 'api.yaml', text: CONFIG }], learn ? 'learn: true\n' : null);
  const l = await startTunnelListener({
    peer: 'spiffe://cluster.local/ns/team/sa/app1',
    snapshot: () => snap,
    authority: 'api.example.com:80',
    credentials,
    hosts: { 'api.example.com': ['127.0.0.1'] },
    ports: { 80: (upstream.address() as AddressInfo).port },
  });
  cleanups.push(() => l.close());
  return { l, seen };
}

test('learn mode at L7: enforce answers 403; learn forwards the same request and records would-deny', async () => {
  const enforce = await setup(false);
  const a1 = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const denied = await send(enforce.l.port, a1, { path: '/admin/users', headers: { host: 'api.example.com' } });
  a1.destroy();
  assert.equal(denied.status, 403);
  assert.deepEqual(enforce.seen, []);

  const learn = await setup(true);
  const a2 = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const learned = await send(learn.l.port, a2, { path: '/admin/users', headers: { host: 'api.example.com' } });
  a2.destroy();
  assert.equal(learned.status, 200);
  assert.deepEqual(learn.seen, ['/admin/users']);
  const event = learn.l.events.at(-1)!;
  assert.match(
    event.warnings.join('\n'),
    /^would-deny: PCL_AUTHZ_DENIED_EXPLICIT: explicitly denied by: shop\/deny-admin/,
  );
  assert.equal(event.policy, 'shop/deny-admin', 'the policy that would have denied is named');
  assert.equal(flowFromRequest({ ...event, instance: 1 }, 80).decision, 'would-deny');
});
