/**
 * Fail closed at L7, over real HTTP through the waypoint (seed 002): an invalid HTTPRoute makes its parent answer 503
 * naming the route, and an invalid DestinationRule with TLS settings makes its host answer 503 — the request is never
 * sent, in plain text or with another identity's certificate. Traffic the invalid resource does not touch still flows.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readConfigDir } from '../src/config/config-dir.ts';
import { loadConfigTexts, type ConfigFile } from '../src/config/load.ts';
import { compileSnapshot } from '../src/mesh/compile.ts';
import type { Snapshot } from '../src/mesh/snapshot.ts';
import { CredentialStore } from '../src/waypoint/credentials.ts';
import { EXAMPLES } from './support/cli.ts';
import { send, startTunnelListener } from './support/waypoint-harness.ts';

const APP1 = 'spiffe://cluster.local/ns/team-namespace/sa/app1';
const APP3 = 'spiffe://cluster.local/ns/team-namespace/sa/app3';
let files: ConfigFile[];
let settings: string;
const closers: (() => unknown)[] = [];

/** A plain TCP listener standing for the upstream: it only counts connections (none may arrive). */
let upstreamPort = 0;
let upstreamConnections = 0;

before(async () => {
  const contents = await readConfigDir(join(EXAMPLES, 'seed-002'));
  files = contents.files;
  settings = contents.settings?.text ?? '';
  const upstream = net.createServer((s) => {
    upstreamConnections++;
    s.destroy();
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamPort = (upstream.address() as net.AddressInfo).port;
  closers.push(() => new Promise<void>((r) => upstream.close(() => r())));
});
after(async () => {
  for (const c of closers.reverse()) await c();
});

function snapshotWith(edit: (text: string) => string): Snapshot {
  const edited = files.map((f) => (f.path === 'app1.yaml' ? { path: f.path, text: edit(f.text) } : f));
  return compileSnapshot(loadConfigTexts(edited, { settings: { path: 'portcullis.yaml', text: settings }, env: {} }));
}

async function request(
  snap: Snapshot,
  peer: string,
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const credentials = new CredentialStore();
  const listener = await startTunnelListener({
    peer,
    snapshot: () => snap,
    authority: 'my-nginx.foo.bar:80',
    credentials,
    hosts: { 'my-nginx.foo.bar': ['127.0.0.1'] },
    ports: { 443: upstreamPort, 80: upstreamPort },
  });
  const agent = new http.Agent({ keepAlive: false });
  try {
    return await send(listener.port, agent, { path: '/subject', headers: { host: 'my-nginx.foo.bar' } });
  } finally {
    agent.destroy();
    await listener.close();
    credentials.close();
  }
}

test('an invalid HTTPRoute: its parent answers 503 naming the route, for every caller', async () => {
  const snap = snapshotWith((t) => t.replace('- type: Exact', '- type: Exactly'));
  assert.equal(snap.invalid.map((i) => i.ref).join(), 'team-namespace/app1-api-partner-com-httproute');
  for (const peer of [APP1, APP3]) {
    const before = upstreamConnections;
    const r = await request(snap, peer);
    assert.equal(r.status, 503, r.body);
    assert.equal(r.headers['x-portcullis-code'], 'PCL_WAYPOINT_INVALID_ROUTE');
    assert.match(r.body, /HTTPRoute team-namespace\/app1-api-partner-com-httproute is invalid \(app1\.yaml:\d+/);
    assert.equal(upstreamConnections, before, 'nothing was sent upstream');
  }
});

test('an invalid DestinationRule with TLS settings: its host answers 503, never plain text nor another certificate', async () => {
  const snap = snapshotWith((t) => t.replace('mode: MUTUAL', 'mode: MUTUALL'));
  assert.equal(snap.invalid.map((i) => i.ref).join(), 'team-namespace/app1-nginx-mesh-external-dr');
  const before = upstreamConnections;
  const r = await request(snap, APP1);
  assert.equal(r.status, 503, r.body);
  assert.equal(r.headers['x-portcullis-code'], 'PCL_WAYPOINT_INVALID_DESTINATION_RULE');
  assert.match(r.body, /DestinationRule team-namespace\/app1-nginx-mesh-external-dr is invalid \(app1\.yaml:\d+/);
  assert.equal(upstreamConnections, before, 'nothing was sent upstream');
});
