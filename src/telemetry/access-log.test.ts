/** The access log's request and tunnel lines: pino's line shape on every path, written in batches yet promptly. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { publish, type TunnelRecord, type WaypointRequestRecord } from '../events/diagnostics.ts';
import { startAccessLog } from './access-log.ts';

function record(instance: number, over: Partial<WaypointRequestRecord> = {}): WaypointRequestRecord {
  return {
    type: 'waypoint.request',
    instance,
    startTime: '2026-01-02T03:04:05.006Z',
    method: 'GET',
    authority: 'my-nginx.foo.bar',
    path: '/a"b\n\u2028c',
    status: 200,
    code: null,
    reason: null,
    responseFlags: '-',
    principal: 'spiffe://cluster.local/ns/team-namespace/sa/app1',
    peerAddress: '127.0.0.1',
    gateway: 'istio-egress/egress-waypoint',
    serviceEntry: 'istio-egress/nginx-mesh-external-se',
    route: { name: 'team-namespace/r', rule: 0 },
    backend: 'app1.example:443',
    destinationRule: 'team-namespace/dr',
    externalIdentity: 'CN=team-namespace.app1',
    secret: 'team-namespace/app1-client-mtls-secret',
    upstreamAddress: '127.0.0.1:443',
    sni: 'my-nginx.foo.bar',
    policy: null,
    bytesReceived: 0,
    bytesSent: 37,
    durationMs: 1.25,
    warnings: [],
    ...over,
  };
}

test('an allowed and a refused request give the same JSON line shape (level, time, fields, msg), values intact', async () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  const log = startAccessLog({ instance: 9101, destination: out });
  publish.requestCompleted(record(9101));
  publish.requestCompleted(
    record(9101, { status: 403, code: 'PCL_WAYPOINT_DENIED', reason: 'RBAC: access denied', responseFlags: 'UAEX' }),
  );
  log.close();
  await new Promise((r) => setImmediate(r));
  const lines = text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 2);
  assert.deepEqual(Object.keys(lines[0]), Object.keys(lines[1]));
  assert.equal(lines[0].level, 'info');
  assert.equal(lines[0].msg, 'request');
  assert.equal(lines[0].path, '/a"b\n\u2028c', 'escaped, one line per request');
  assert.equal(lines[0].route, 'team-namespace/r#0');
  assert.ok(!Number.isNaN(Date.parse(lines[0].time as string)));
  assert.equal(lines[1].level, 'warn');
  assert.equal(lines[1].msg, 'RBAC: access denied');
  assert.equal(lines[1].code, 'PCL_WAYPOINT_DENIED');
});

test('a batched line reaches the file without any flush call (within the flush period), and close writes the rest', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pcl-access-log-'));
  try {
    const file = join(dir, 'access.log');
    const log = startAccessLog({ instance: 9102, destination: file });
    publish.requestCompleted(record(9102));
    const deadline = Date.now() + 10_000;
    let text = '';
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      if (text.includes('"msg":"request"')) break;
    }
    assert.match(text, /"msg":"request"/, 'the line was written by the periodic flush');
    publish.requestCompleted(record(9102, { path: '/second' }));
    log.close();
    assert.match(readFileSync(file, 'utf8'), /"path":"\/second"/, 'close flushes synchronously');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('queued request lines keep their place: a refusal logged between them is written after the earlier ones', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pcl-access-log-'));
  try {
    const file = join(dir, 'access.log');
    const log = startAccessLog({ instance: 9103, destination: file });
    // The file is opened asynchronously; close() writes synchronously only to an open file.
    for (let i = 0; i < 200 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 25));
    // Enough lines for several batches, a warn line (through pino) in the middle, and a tail left queued.
    for (let i = 0; i < 150; i++) publish.requestCompleted(record(9103, { path: `/first/${i}` }));
    publish.requestCompleted(record(9103, { status: 403, code: 'PCL_WAYPOINT_DENIED', reason: 'denied in between' }));
    for (let i = 0; i < 7; i++) publish.requestCompleted(record(9103, { path: `/then/${i}` }));
    log.close();
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const paths = lines.map((l) => (l.status === 403 ? 'refused' : l.path));
    const want = [
      ...Array.from({ length: 150 }, (_, i) => `/first/${i}`),
      'refused',
      ...Array.from({ length: 7 }, (_, i) => `/then/${i}`),
    ];
    assert.deepEqual(paths, want, 'every line once, in the order the requests finished');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function tunnelRecord(instance: number, over: Partial<TunnelRecord> = {}): TunnelRecord {
  return {
    instance,
    tunnelId: 7,
    sessionId: 3,
    startMs: Date.parse('2026-01-02T03:04:05.006Z'),
    sourcePrincipal: 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage',
    sourceAddress: '127.0.0.1',
    sourcePort: 40000,
    authority: 'httpbin.org:443',
    gateway: 'istio-system/ztunnel-egress',
    serviceEntry: 'bookinfo/httpbin',
    serviceEntryNamespace: 'bookinfo',
    host: 'httpbin.org',
    port: 443,
    durationMs: 12,
    status: 200,
    decision: 'allow',
    code: 'PCL_AUTHZ_ALLOWED_BY_POLICY',
    reason: 'allow policy match: bookinfo/allow',
    layers: [
      {
        layer: 'gateway',
        target: 'Gateway istio-system/ztunnel-egress',
        decision: 'allow',
        code: 'PCL_AUTHZ_ALLOWED_BY_POLICY',
        policy: 'istio-system/allow',
        reason: 'allow policy match: istio-system/allow',
      },
    ],
    upstreamAddress: '127.0.0.1:8443',
    sni: 'httpbin.org',
    bytesReceived: 517,
    bytesSent: 4096,
    responseFlags: '-',
    ...over,
  };
}

test('a tunnel line written field by field is the line pino writes for the same record (every field, in order)', async () => {
  const records = (instance: number): TunnelRecord[] => [
    tunnelRecord(instance),
    tunnelRecord(instance, { traceparent: '00-abc-def-01', baggage: 'k=v', forwarded: 'for="[::1]";proto=https' }),
    tunnelRecord(instance, {
      decision: 'deny',
      status: 401,
      code: 'PCL_AUTHZ_DENIED_EXPLICIT',
      reason: 'explicitly denied by: "a\\b"\n\u2028 é ✓',
      responseFlags: 'UAEX',
      gateway: null,
      serviceEntry: null,
      serviceEntryNamespace: null,
      host: null,
      upstreamAddress: null,
      sni: null,
      layers: [],
    }),
  ];
  const lines = async (learn: boolean, instance: number): Promise<Record<string, unknown>[]> => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const log = startAccessLog({ instance, destination: out });
    // Learn mode sends tunnel lines through pino (its mixin marks them); otherwise they are written directly.
    log.setLearn(learn);
    for (const r of records(instance)) publish.tunnelClosed(r);
    log.close();
    await new Promise((r) => setImmediate(r));
    return text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  };
  const direct = await lines(false, 9103);
  const viaPino = await lines(true, 9104);
  assert.equal(direct.length, 3);
  assert.equal(viaPino.length, 3);
  for (let i = 0; i < 3; i++) {
    const { mode, learn, ...pinoLine } = viaPino[i];
    assert.equal(mode, 'learn');
    assert.ok(typeof learn === 'string');
    assert.deepEqual(Object.keys(direct[i]), Object.keys(pinoLine), `line ${i}: same fields in the same order`);
    assert.deepEqual({ ...direct[i], time: null }, { ...pinoLine, time: null }, `line ${i}: same values`);
    assert.ok(!Number.isNaN(Date.parse(direct[i].time as string)));
  }
  assert.equal(direct[0].level, 'info');
  assert.equal(direct[0].msg, 'tunnel');
  assert.equal(direct[1].traceparent, '00-abc-def-01');
  assert.equal(direct[2].level, 'warn');
  assert.equal(direct[2].msg, 'explicitly denied by: "a\\b"\n\u2028 é ✓');
  assert.equal(direct[2].gateway, null);
});
