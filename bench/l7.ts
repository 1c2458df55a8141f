/**
 * L7 through the egress waypoint (seed 002 as the quickstart sets it up: examples/quickstart plus each app's client
 * Secret): HTTP/1.1 keep-alive requests inside HBONE tunnels from two identities, interleaved, each one answered by
 * the waypoint originating mTLS with that identity's own client certificate; against direct HTTPS with the same two
 * client certificates to the same upstream.
 */
import { cpSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { HboneClient } from '../src/hbone/client.ts';
import { issueClientCert, issueServerCert, issueWorkloadCert, type IssuedCertificate } from '../src/identity/ca.ts';
import { cpuSeconds, NODE, REPO, startChild, startServe, waitForOutput, type BenchPki, type Child, type ServeChild } from './env.ts';
import { percentile } from './stats.ts';

const HOUR = 3_600_000;
export const WAYPOINT_SAN = 'spiffe://cluster.local/ns/istio-egress/sa/egress-waypoint';
export const APPS = ['app1', 'app2'] as const;
const REQUEST = Buffer.from('GET /subject HTTP/1.1\r\nHost: my-nginx.foo.bar\r\n\r\n');

export interface L7Result {
  readonly requests: number;
  readonly rps: number;
  readonly p50ms: number;
  readonly p99ms: number;
  /** Answers whose subject was not the sender's own identity (must be 0). */
  readonly wrongSubject: number;
  /** CPU seconds the gateway used over the measured window (waypoint runs only). */
  readonly gatewayCpuSeconds?: number;
  /** Requests per gateway CPU-second: what one gateway core sustains (waypoint runs only). */
  readonly perGatewayCore?: number;
}

/** HTTP/1.1 request/response over one byte stream, keep-alive; responses framed by Content-Length or chunked. */
export class HttpConn {
  readonly #io: Duplex;
  #buf = '';
  #done: ((body: string) => void) | null = null;
  constructor(io: Duplex) {
    this.#io = io;
    io.setEncoding('latin1');
    io.on('data', (d: string) => {
      this.#buf += d;
      this.#parse();
    });
  }
  #parse(): void {
    const headEnd = this.#buf.indexOf('\r\n\r\n');
    if (headEnd < 0 || this.#done === null) return;
    const head = this.#buf.slice(0, headEnd);
    const m = /\r\ncontent-length: *(\d+)/i.exec(head);
    let end: number;
    if (m) {
      end = headEnd + 4 + Number(m[1]);
      if (this.#buf.length < end) return;
    } else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
      // The stand-in's small JSON bodies: the response ends at the zero-size last chunk.
      const last = this.#buf.indexOf('\r\n0\r\n\r\n', headEnd + 2);
      if (last < 0) return;
      end = last + 7;
    } else {
      throw new Error(`response without a length: ${this.#buf.slice(0, 200)}`);
    }
    const body = this.#buf.slice(headEnd + 4, end);
    this.#buf = this.#buf.slice(end);
    const done = this.#done;
    this.#done = null;
    done(body);
  }
  get(): Promise<string> {
    return new Promise((resolve) => {
      this.#done = resolve;
      this.#io.write(REQUEST);
    });
  }
  close(): void {
    this.#io.destroy();
  }
}

async function closedLoop(conns: { conn: HttpConn; subject: string }[], ms: number, warmupMs: number, cpuPid?: number): Promise<L7Result> {
  const samples: number[] = [];
  let wrong = 0;
  const warmEnd = performance.now() + warmupMs;
  const end = warmEnd + ms;
  // The gateway's CPU over the measured window: requests per CPU-second is its capacity on one core.
  let cpuStart = 0;
  const cpuTimer = cpuPid === undefined ? null : setTimeout(() => (cpuStart = cpuSeconds(cpuPid)), warmupMs);
  // A tiny window on a loaded machine (the toy size in `npm test`) may complete no request after the warm-up: keep
  // going until a few samples exist (at most 10 s more), so every figure is a number.
  const MIN_SAMPLES = 32;
  const hardEnd = end + 10_000;
  await Promise.all(
    conns.map(async ({ conn, subject }) => {
      for (;;) {
        const t0 = performance.now();
        if (t0 >= hardEnd || (t0 >= end && samples.length >= MIN_SAMPLES)) return;
        const body = await conn.get();
        if (t0 >= warmEnd) {
          samples.push(performance.now() - t0);
          if (!body.includes(subject)) wrong++;
        }
      }
    }),
  );
  if (cpuTimer !== null) clearTimeout(cpuTimer);
  const cpu = cpuPid === undefined ? undefined : cpuSeconds(cpuPid) - cpuStart;
  return {
    requests: samples.length,
    rps: samples.length / ((Math.max(performance.now(), end) - warmEnd) / 1000),
    p50ms: percentile(samples, 0.5),
    p99ms: percentile(samples, 0.99),
    wrongSubject: wrong,
    gatewayCpuSeconds: cpu,
    perGatewayCore: cpu === undefined || cpu <= 0 ? undefined : samples.length / cpu,
  };
}

export interface L7Env {
  readonly gateway: ServeChild;
  readonly upstream: Child;
  readonly upstreamIp: string;
  readonly workloadCerts: readonly IssuedCertificate[];
  readonly clientCerts: readonly IssuedCertificate[];
  readonly rootPem: string;
  stop(): Promise<void>;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** The quickstart's seed-002 setup, on ports of its own: null with a reason when port 443 cannot be bound. */
export async function startL7Env(pki: BenchPki): Promise<L7Env | string> {
  const configDir = join(pki.dir, 'config-l7');
  mkdirSync(configDir, { recursive: true });
  const examples = join(REPO, 'examples', 'quickstart');
  for (const f of readdirSync(examples)) cpSync(join(examples, f), join(configDir, f));
  const clientCerts: IssuedCertificate[] = [];
  const secrets: string[] = [];
  for (const app of APPS) {
    const c = await issueClientCert(pki.ca, { subject: `CN=team-namespace.${app}`, ttl: HOUR });
    clientCerts.push(c);
    secrets.push(`apiVersion: v1
kind: Secret
metadata: {name: ${app}-client-mtls-secret, namespace: team-namespace}
type: kubernetes.io/tls
data: {tls.crt: ${b64(c.certChainPem)}, tls.key: ${b64(c.keyPem)}, ca.crt: ${b64(c.rootCertPem)}}
`);
  }
  writeFileSync(join(configDir, 'seed002-secrets.yaml'), secrets.join('---\n'));
  const server = await issueServerCert(pki.ca, { dnsNames: ['my-nginx.foo.bar'], ttl: HOUR });
  writeFileSync(join(pki.dir, 'nginx-cert.pem'), server.certChainPem);
  writeFileSync(join(pki.dir, 'nginx-key.pem'), server.keyPem);
  writeFileSync(join(pki.dir, 'root.pem'), pki.ca.rootCertPem);
  // The seed's ServiceEntries name port 443, so the stand-in needs 443 on a loopback address of its own.
  const upstreamIp = `127.0.${10 + Math.floor(Math.random() * 200)}.${10 + Math.floor(Math.random() * 200)}`;
  const upstream = startChild(NODE, [
    join(REPO, 'bench', 'l7-upstream.ts'), upstreamIp, '443', join(pki.dir, 'nginx-cert.pem'), join(pki.dir, 'nginx-key.pem'), join(pki.dir, 'root.pem'),
  ]);
  const m = await waitForOutput(upstream, /subject server (?:listening on \S+, dns on 127\.0\.0\.1:(\d+)|failed: (\S+))/, 'subject server');
  if (m[1] === undefined) {
    await upstream.stop();
    return `skipped: the seed-002 upstream needs port 443 on loopback (${m[2]}): run as root or sysctl net.ipv4.ip_unprivileged_port_start=443`;
  }
  const gateway = await startServe(configDir, pki.caDir, join(pki.dir, 'access-l7.log'), ['--dns-server', `127.0.0.1:${m[1]}`]);
  const workloadCerts = await Promise.all(APPS.map((a) => issueWorkloadCert(pki.ca, { spiffe: `spiffe://cluster.local/ns/team-namespace/sa/${a}`, ttl: HOUR })));
  return {
    gateway,
    upstream,
    upstreamIp,
    workloadCerts,
    clientCerts,
    rootPem: pki.ca.rootCertPem,
    async stop() {
      await gateway.stop();
      await upstream.stop();
    },
  };
}

/** `perIdentity` tunnels for each of app1 and app2 (interleaved in the connection list), closed loop. */
export async function l7ThroughWaypoint(env: L7Env, opts: { perIdentity: number; ms: number; warmupMs: number }): Promise<L7Result> {
  const clients = env.workloadCerts.map(
    (c) => new HboneClient({ certificates: c, gateway: env.gateway.hbone, expectedSans: [WAYPOINT_SAN], keepaliveIntervalMs: 0 }),
  );
  const conns: { conn: HttpConn; subject: string }[] = [];
  try {
    for (let i = 0; i < opts.perIdentity; i++) {
      for (let a = 0; a < APPS.length; a++) {
        const t = await clients[a].connect('my-nginx.foo.bar:80');
        conns.push({ conn: new HttpConn(t.stream), subject: `CN=team-namespace.${APPS[a]}` });
      }
    }
    return await closedLoop(conns, opts.ms, opts.warmupMs, env.gateway.pid);
  } finally {
    for (const c of conns) c.conn.close();
    for (const c of clients) c.destroy();
  }
}

/** The same request loop over direct mTLS connections with the apps' own client certificates. */
export async function l7Direct(env: L7Env, opts: { perIdentity: number; ms: number; warmupMs: number }): Promise<L7Result> {
  const conns: { conn: HttpConn; subject: string }[] = [];
  try {
    for (let i = 0; i < opts.perIdentity; i++) {
      for (let a = 0; a < APPS.length; a++) {
        const c = env.clientCerts[a];
        const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
          const s = tls.connect({ host: env.upstreamIp, port: 443, servername: 'my-nginx.foo.bar', cert: c.certChainPem, key: c.keyPem, ca: env.rootPem, ALPNProtocols: ['http/1.1'] });
          s.once('secureConnect', () => resolve(s));
          s.once('error', reject);
        });
        conns.push({ conn: new HttpConn(socket), subject: `CN=team-namespace.${APPS[a]}` });
      }
    }
    return await closedLoop(conns, opts.ms, opts.warmupMs);
  } finally {
    for (const c of conns) c.conn.close();
  }
}
