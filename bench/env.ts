/**
 * The benchmark's surroundings, all on 127.0.0.1: a throwaway dev CA and config folder, and the processes under test
 * (`portcullis serve`, `portcullis agent`, the echo sink, haproxy, iperf3) started as children and stopped at the end.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigDir } from '../src/config/load.ts';
import { compileSnapshot } from '../src/mesh/compile.ts';
import {
  initCa,
  issueWorkloadCert,
  loadCa,
  writeIssued,
  type CertificateAuthority,
  type IssuedCertificate,
} from '../src/identity/ca.ts';

export const REPO = join(import.meta.dirname, '..');
export const NODE = process.execPath;
export const MAIN = join(REPO, 'src', 'cli', 'main.ts');
export const TRUST_DOMAIN = 'cluster.local';
export const GATEWAY_NAME = 'bench-egress';
export const GATEWAY_SAN = `spiffe://${TRUST_DOMAIN}/ns/istio-system/sa/${GATEWAY_NAME}`;
export const CLIENT_SPIFFE = `spiffe://${TRUST_DOMAIN}/ns/bench/sa/client`;
const HOUR = 3_600_000;

/** A child process the bench started; `stop` sends SIGTERM (then SIGKILL after 3 s) and waits for the exit. */
export interface Child {
  readonly proc: ChildProcess;
  readonly pid: number;
  output(): string;
  stop(): Promise<void>;
}

const started = new Set<Child>();

export function startChild(cmd: string, args: readonly string[], opts: { cwd?: string } = {}): Child {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const child: Child = {
    proc,
    pid: proc.pid ?? -1,
    output: () => out,
    async stop() {
      started.delete(child);
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
  started.add(child);
  return child;
}

/** Stop every child still running (on the way out, also after a failure). */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...started].map((c) => c.stop()));
}

/** Wait until the child's output matches `pattern`; reject when it exits first or after `timeoutMs`. */
export function waitForOutput(
  child: Child,
  pattern: RegExp,
  what: string,
  timeoutMs = 30_000,
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const m = pattern.exec(child.output());
      if (m) {
        cleanup();
        resolve(m);
      }
      return m !== null;
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`${what} exited (${code}) before it was ready:\n${child.output()}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what} not ready after ${timeoutMs} ms:\n${child.output()}`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      child.proc.stdout!.off('data', check);
      child.proc.stderr!.off('data', check);
      child.proc.off('exit', onExit);
    };
    child.proc.stdout!.on('data', check);
    child.proc.stderr!.on('data', check);
    child.proc.once('exit', onExit);
    check();
  });
}

/** A port that was free a moment ago (for peers that cannot report the port they bound). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** Resident set size of a process, in bytes, from /proc/<pid>/status (VmRSS). */
/**
 * CPU seconds (user + system) a process and its live child processes have used so far, from /proc/<pid>/stat (clock
 * ticks of 1/100 s): with `serve --workers N` the tunnels are carried by the primary's forked workers.
 */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ": state is field 3, utime field 14, stime field 15 (1-based in proc(5)).
  let sum = (Number(fields[11]) + Number(fields[12])) / 100;
  let children = '';
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
  } catch {
    // a kernel without CONFIG_PROC_CHILDREN: the process alone
  }
  for (const child of children.split(' ')) {
    if (child.trim() === '') continue;
    try {
      sum += cpuSeconds(Number(child));
    } catch {
      // exited since the list was read
    }
  }
  return sum;
}

export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

export interface BenchPki {
  readonly dir: string;
  readonly caDir: string;
  readonly ca: CertificateAuthority;
  /** The bench client's workload certificate (spiffe://cluster.local/ns/bench/sa/client). */
  readonly client: IssuedCertificate;
  cleanup(): void;
}

export async function makePki(): Promise<BenchPki> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-'));
  const caDir = join(dir, 'ca');
  const ca = await initCa(caDir, { trustDomain: TRUST_DOMAIN });
  const client = await issueWorkloadCert(ca, { spiffe: CLIENT_SPIFFE, ttl: HOUR });
  return { dir, caDir, ca, client, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A plain-TCP destination the gateway may reach: a ServiceEntry with one STATIC endpoint on 127.0.0.1. */
export interface TcpDestination {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/**
 * The L4 configuration: one egress Gateway, an ALLOW policy on it for namespace `bench` (so every tunnel runs the
 * gateway layer) and one per ServiceEntry for the bench client's principal (the ServiceEntry layer), default-deny.
 */
export function writeL4Config(dir: string, dests: readonly TcpDestination[]): string {
  const configDir = join(dir, 'config-l4');
  mkdirSync(configDir, { recursive: true });
  writeFileSync(
    join(configDir, 'portcullis.yaml'),
    'egressPolicies:\n- matchCidrs: [0.0.0.0/0, ::/0]\n  policy: Deny\negressGateway:\n  defaultDeny: true\nallowedPrivateCidrs: [127.0.0.0/8]\n' +
      // One bench identity carries every tunnel (10,000 in the memory and soak sections): lift the per-identity share.
      // And one address opens every session, up to 100 at the same instant: lift the per-source handshake bound
      // (a real source is one ztunnel, which opens a session per identity; the default 32 is meant for that).
      'limits:\n  maxTunnels: 100000\n  maxTunnelsPerIdentity: 100000\n  maxConnections: 100000\n' +
      '  maxPendingHandshakesPerSource: 1000\n',
  );
  const docs = [
    `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${GATEWAY_NAME}, namespace: istio-system}
spec:
  gatewayClassName: solo-ztunnel-egress
  listeners: [{name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: All}}}]
`,
    `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-bench, namespace: istio-system}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: ${GATEWAY_NAME}}]
  action: ALLOW
  rules: [{from: [{source: {namespaces: [bench]}}]}]
`,
  ];
  for (const d of dests) {
    docs.push(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${d.name}
  namespace: bench
  labels: {istio.io/use-waypoint: ${GATEWAY_NAME}, istio.io/use-waypoint-namespace: istio-system}
spec:
  hosts: [${d.host}]
  ports: [{number: ${d.port}, name: tcp, protocol: TCP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
  location: MESH_EXTERNAL
`);
    docs.push(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-${d.name}, namespace: bench}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: ${d.name}}]
  action: ALLOW
  rules: [{from: [{source: {principals: ["${CLIENT_SPIFFE.replace('spiffe://', '')}"]}}]}]
`);
  }
  writeFileSync(join(configDir, 'bench.yaml'), docs.join('---\n'));
  return configDir;
}

export interface ServeChild extends Child {
  readonly hbone: { host: string; port: number };
}

/** `portcullis serve` as a child, access log to a file in the temp dir (as in production: logging on). */
export async function startServe(
  configDir: string,
  caDir: string,
  logFile: string,
  extra: readonly string[] = [],
  workers?: number,
): Promise<ServeChild> {
  // The gateway gets certificate files, as in a mesh: the CA key stays with the bench, never with serve.
  const serving = mkdtempSync(join(caDir, '..', 'serving-'));
  const served = compileSnapshot(await loadConfigDir(configDir, { env: {} }))
    .servedGateways()
    .map((g) => g.identity);
  await writeIssued(
    serving,
    await issueWorkloadCert(await loadCa(caDir), { spiffe: served.length > 0 ? served : [GATEWAY_SAN], ttl: HOUR }),
  );
  const child = startChild(NODE, [
    ...nodeFlags('serve'),
    MAIN,
    'serve',
    '--config',
    configDir,
    '--cert',
    join(serving, 'cert-chain.pem'),
    '--key',
    join(serving, 'key.pem'),
    '--trust-bundle',
    join(serving, 'root-cert.pem'),
    '--listen',
    '127.0.0.1:0',
    '--admin',
    '127.0.0.1:0',
    '--log-file',
    logFile,
    // One worker by default: on this 2-core machine the load generators need the other core, and RSS per tunnel is
    // read from one process. PORTCULLIS_BENCH_WORKERS=2 measures `serve --workers 2` instead; `workers` sets it for
    // one gateway (the tunnels section's spread across workers).
    '--workers',
    String(workers ?? process.env.PORTCULLIS_BENCH_WORKERS ?? 1),
    ...extra,
  ]);
  const m = await waitForOutput(child, /listening on 127\.0\.0\.1:(\d+) \(HBONE\)/, 'portcullis serve');
  return { ...child, stop: child.stop, output: child.output, hbone: { host: '127.0.0.1', port: Number(m[1]) } };
}

export interface AgentChild extends Child {
  /** forward target `host:port` → local `127.0.0.1:port` */
  readonly forwards: ReadonlyMap<string, number>;
}

/** `portcullis agent --spiffe bench/client` with one `--forward 127.0.0.1:0=host:port` per target. */
export async function startAgentChild(
  configDir: string,
  caDir: string,
  gateway: { host: string; port: number },
  targets: readonly string[],
): Promise<AgentChild> {
  const args = [
    ...nodeFlags('agent'),
    MAIN,
    'agent',
    '--gateway',
    `${gateway.host}:${gateway.port}`,
    '--config',
    configDir,
    '--ca-dir',
    caDir,
    '--spiffe',
    CLIENT_SPIFFE,
    '--listen',
    '127.0.0.1:0',
    '--log-level',
    'warn',
  ];
  for (const t of targets) args.push('--forward', `127.0.0.1:0=${t}`);
  const child = startChild(NODE, args);
  const forwards = new Map<string, number>();
  for (const t of targets) {
    const m = await waitForOutput(
      child,
      new RegExp(`listening on 127\\.0\\.0\\.1:(\\d+) \\(forwarding to ${t.replace(/\./g, '\\.')}\\)`),
      'portcullis agent',
    );
    forwards.set(t, Number(m[1]));
  }
  return { ...child, stop: child.stop, output: child.output, forwards };
}

/**
 * `PORTCULLIS_BENCH_PROF=serve,agent` runs those children under `--cpu-prof` (profiles land in bench/profiles);
 * `PORTCULLIS_BENCH_HEAP=serve` lets them write a heap snapshot there on SIGUSR2 (the memory section sends it).
 */
export function nodeFlags(role: string): string[] {
  const flags: string[] = [];
  const dir = join(REPO, 'bench', 'profiles');
  if ((process.env.PORTCULLIS_BENCH_PROF ?? '').split(',').includes(role)) {
    mkdirSync(dir, { recursive: true });
    flags.push('--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', `${role}-${Date.now()}.cpuprofile`);
  }
  // `PORTCULLIS_BENCH_GC=serve` prints V8's GC trace into that child's output: `--trace-gc`, or the flags in
  // PORTCULLIS_BENCH_GC_FLAGS (e.g. `--trace-gc-nvp`, whose `promoted` field shows what outlived a scavenge).
  if ((process.env.PORTCULLIS_BENCH_GC ?? '').split(',').includes(role)) {
    flags.push(...(process.env.PORTCULLIS_BENCH_GC_FLAGS ?? '--trace-gc').split(' ').filter((f) => f !== ''));
  }
  if (heapSnapshotWanted(role)) {
    mkdirSync(dir, { recursive: true });
    flags.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`);
  }
  return flags;
}

export function heapSnapshotWanted(role: string): boolean {
  return (process.env.PORTCULLIS_BENCH_HEAP ?? '').split(',').includes(role);
}

/** The echo sink as a child process: every byte it receives goes straight back (request/response and tunnel targets). */
export async function startEcho(mode: 'echo' | 'discard' = 'echo'): Promise<Child & { port: number }> {
  const child = startChild(NODE, [join(REPO, 'bench', 'echo-server.ts'), mode]);
  const m = await waitForOutput(child, /(?:echo|discard) listening on (\d+)/, `${mode} server`);
  return { ...child, stop: child.stop, output: child.output, port: Number(m[1]) };
}
