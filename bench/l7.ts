/**
 * L7 through the egress waypoint (seed 002 as the quickstart sets it up: examples/quickstart plus each app's client
 * Secret): HTTP/1.1 keep-alive requests inside HBONE tunnels from two identities, interleaved, each one answered by
 * the waypoint originating mTLS with that identity's own client certificate; against direct HTTPS with the same two
 * client certificates to the same upstream.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { HboneClient } from '../src/hbone/client.ts';
import { issueClientCert, issueServerCert, issueWorkloadCert, type IssuedCertificate } from '../src/identity/ca.ts';
import {
  cpuSeconds,
  freePort,
  NODE,
  nodeFlags,
  REPO,
  startChild,
  startServe,
  waitForOutput,
  type BenchPki,
  type Child,
  type ServeChild,
} from './env.ts';
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

async function closedLoop(
  conns: { conn: HttpConn; subject: string }[],
  ms: number,
  warmupMs: number,
  cpuPid?: number,
): Promise<L7Result> {
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
    join(REPO, 'bench', 'l7-upstream.ts'),
    upstreamIp,
    '443',
    join(pki.dir, 'nginx-cert.pem'),
    join(pki.dir, 'nginx-key.pem'),
    join(pki.dir, 'root.pem'),
  ]);
  const m = await waitForOutput(
    upstream,
    /subject server (?:listening on \S+, dns on 127\.0\.0\.1:(\d+)|failed: (\S+))/,
    'subject server',
  );
  if (m[1] === undefined) {
    await upstream.stop();
    return `skipped: the seed-002 upstream needs port 443 on loopback (${m[2]}): run as root or sysctl net.ipv4.ip_unprivileged_port_start=443`;
  }
  const gateway = await startServe(configDir, pki.caDir, join(pki.dir, 'access-l7.log'), [
    '--dns-server',
    `127.0.0.1:${m[1]}`,
  ]);
  const workloadCerts = await Promise.all(
    APPS.map((a) =>
      issueWorkloadCert(pki.ca, { spiffe: `spiffe://cluster.local/ns/team-namespace/sa/${a}`, ttl: HOUR }),
    ),
  );
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
export async function l7ThroughWaypoint(
  env: L7Env,
  opts: { perIdentity: number; ms: number; warmupMs: number },
): Promise<L7Result> {
  return l7ThroughHbone(env, { ...env.gateway.hbone, pid: env.gateway.pid }, opts);
}

/** The same loop through any HBONE gateway presenting the waypoint's identity (Portcullis, or the bare relay). */
export async function l7ThroughHbone(
  env: L7Env,
  gateway: { host: string; port: number; pid: number },
  opts: { perIdentity: number; ms: number; warmupMs: number },
): Promise<L7Result> {
  const clients = env.workloadCerts.map(
    (c) =>
      new HboneClient({
        certificates: c,
        gateway: { host: gateway.host, port: gateway.port },
        expectedSans: [WAYPOINT_SAN],
        keepaliveIntervalMs: 0,
      }),
  );
  const conns: { conn: HttpConn; subject: string }[] = [];
  try {
    for (let i = 0; i < opts.perIdentity; i++) {
      for (let a = 0; a < APPS.length; a++) {
        const t = await clients[a].connect('my-nginx.foo.bar:80');
        conns.push({ conn: new HttpConn(t.stream), subject: `CN=team-namespace.${APPS[a]}` });
      }
    }
    return await closedLoop(conns, opts.ms, opts.warmupMs, gateway.pid);
  } finally {
    for (const c of conns) c.conn.close();
    for (const c of clients) c.destroy();
  }
}

/**
 * The bare Node L7 relay (bench/bare-relay.ts l7-gateway): the TLS front door, an HTTP/1.1 server on each CONNECT
 * stream, HTTPS keep-alive upstream with the caller's mapped client certificate. Node's own floor for the L7 row.
 * `PORTCULLIS_BENCH_PROF=bare-l7` profiles it (bench/profiles), to compare with the gateway's profile of the same run.
 */
export async function startBareL7Relay(
  env: L7Env,
  pki: BenchPki,
  upstreamPort = 443,
): Promise<Child & { port: number }> {
  const dir = join(pki.dir, 'bare-l7');
  mkdirSync(dir, { recursive: true });
  const gw = await issueWorkloadCert(pki.ca, { spiffe: WAYPOINT_SAN, ttl: HOUR });
  writeFileSync(join(dir, 'gw.crt'), gw.certChainPem);
  writeFileSync(join(dir, 'gw.key'), gw.keyPem);
  writeFileSync(join(dir, 'root.pem'), env.rootPem);
  APPS.forEach((app, i) => {
    writeFileSync(join(dir, `${app}.crt`), env.clientCerts[i].certChainPem);
    writeFileSync(join(dir, `${app}.key`), env.clientCerts[i].keyPem);
  });
  const child = startChild(NODE, [
    ...nodeFlags('bare-l7'),
    join(REPO, 'bench', 'bare-relay.ts'),
    'l7-gateway',
    join(dir, 'gw.crt'),
    join(dir, 'gw.key'),
    join(dir, 'root.pem'),
    env.upstreamIp,
    String(upstreamPort),
    dir,
  ]);
  const m = await waitForOutput(child, /bare l7 gateway listening on (\d+)/, 'bare L7 relay');
  return { ...child, stop: child.stop, output: child.output, port: Number(m[1]) };
}

/**
 * nginx (Debian's) doing the waypoint's job as an L7 peer: terminates each caller's mTLS (client certificate
 * required and verified against the mesh root), originates mTLS upstream with that caller's own client certificate,
 * keep-alive upstream pool. nginx cannot key an upstream pool by the caller's certificate, so each identity gets its
 * own server block and pool (one port each): the same no-sharing rule Portcullis keeps. One worker, as one gateway.
 */
export async function startNginxL7Peer(env: L7Env, pki: BenchPki): Promise<{ child: Child; ports: number[] } | string> {
  const nginx = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
  if (nginx === undefined) return 'skipped: nginx not installed (apt-get install nginx-light)';
  const dir = join(pki.dir, 'nginx-l7');
  mkdirSync(dir, { recursive: true });
  const server = await issueWorkloadCert(pki.ca, { spiffe: WAYPOINT_SAN, ttl: HOUR });
  writeFileSync(join(dir, 'server.crt'), server.certChainPem);
  writeFileSync(join(dir, 'server.key'), server.keyPem);
  writeFileSync(join(dir, 'root.pem'), env.rootPem);
  const ports: number[] = [];
  let servers = '';
  for (let i = 0; i < APPS.length; i++) {
    const app = APPS[i];
    writeFileSync(join(dir, `${app}.crt`), env.clientCerts[i].certChainPem);
    writeFileSync(join(dir, `${app}.key`), env.clientCerts[i].keyPem);
    const port = await freePort();
    ports.push(port);
    servers += `
  upstream up_${app} { server ${env.upstreamIp}:443; keepalive 32; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_protocols TLSv1.3;
    ssl_certificate ${dir}/server.crt;
    ssl_certificate_key ${dir}/server.key;
    ssl_client_certificate ${dir}/root.pem;
    ssl_verify_client on;
    keepalive_requests 1000000;
    location / {
      proxy_pass https://up_${app};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host my-nginx.foo.bar;
      proxy_ssl_protocols TLSv1.3;
      proxy_ssl_certificate ${dir}/${app}.crt;
      proxy_ssl_certificate_key ${dir}/${app}.key;
      proxy_ssl_trusted_certificate ${dir}/root.pem;
      proxy_ssl_verify on;
      proxy_ssl_name my-nginx.foo.bar;
      proxy_ssl_server_name on;
      proxy_ssl_session_reuse on;
    }
  }`;
  }
  const conf = `worker_processes 1;
daemon off;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${servers}
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child = startChild(nginx, ['-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')]);
  for (const port of ports) await waitPort(port, child);
  return { child, ports };
}

async function waitPort(port: number, child: Child): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (child.proc.exitCode !== null) throw new Error(`nginx exited: ${child.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nginx not listening on ${port}: ${child.output()}`);
}

/** The closed loop through the nginx peer: each app's connections to its own server block, TLS 1.3 with its cert. */
export async function l7ThroughNginx(
  env: L7Env,
  peer: { child: Child; ports: number[] },
  opts: { perIdentity: number; ms: number; warmupMs: number },
): Promise<L7Result> {
  const conns: { conn: HttpConn; subject: string }[] = [];
  try {
    for (let i = 0; i < opts.perIdentity; i++) {
      for (let a = 0; a < APPS.length; a++) {
        const c = env.workloadCerts[a];
        const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
          const s = tls.connect({
            host: '127.0.0.1',
            port: peer.ports[a],
            cert: c.certChainPem,
            key: c.keyPem,
            ca: env.rootPem,
            checkServerIdentity: () => undefined,
            ALPNProtocols: ['http/1.1'],
          });
          s.once('secureConnect', () => resolve(s));
          s.once('error', reject);
        });
        conns.push({ conn: new HttpConn(socket), subject: `CN=team-namespace.${APPS[a]}` });
      }
    }
    return await closedLoop(conns, opts.ms, opts.warmupMs, nginxWorkerPid(peer.child.pid));
  } finally {
    for (const c of conns) c.conn.close();
  }
}

/** nginx's one worker process (the master only supervises): its CPU is the peer's. */
function nginxWorkerPid(masterPid: number): number {
  try {
    const kids = readFileSync(`/proc/${masterPid}/task/${masterPid}/children`, 'utf8').trim().split(/\s+/).map(Number);
    return kids[0] ?? masterPid;
  } catch {
    return masterPid;
  }
}

/** The same request loop over direct mTLS connections with the apps' own client certificates. */
export async function l7Direct(
  env: L7Env,
  opts: { perIdentity: number; ms: number; warmupMs: number },
): Promise<L7Result> {
  const conns: { conn: HttpConn; subject: string }[] = [];
  try {
    for (let i = 0; i < opts.perIdentity; i++) {
      for (let a = 0; a < APPS.length; a++) {
        const c = env.clientCerts[a];
        const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
          const s = tls.connect({
            host: env.upstreamIp,
            port: 443,
            servername: 'my-nginx.foo.bar',
            cert: c.certChainPem,
            key: c.keyPem,
            ca: env.rootPem,
            ALPNProtocols: ['http/1.1'],
          });
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
