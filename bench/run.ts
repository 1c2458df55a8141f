/**
 * `npm run bench`: Portcullis and its references measured in the same run, all on 127.0.0.1, printed as one
 * table (absolute numbers, ratios, targets) plus JSON. `--toy` runs every section at a tiny size (what `npm test`
 * does, with no timing assertions); `--json FILE` writes the JSON; `--only a,b` picks sections; `--soak-tunnels N`
 * and `--soak-seconds S` size the soak (default 10,000 tunnels for 600 s).
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { runControlPlane, type ControlPlaneResult } from './control-plane.ts';
import {
  cpuSeconds,
  hasCommand,
  freePort,
  makePki,
  startAgentChild,
  startChild,
  startEcho,
  startServe,
  stopAllChildren,
  waitForOutput,
  type BenchPki,
  type Child,
  type ServeChild,
} from './env.ts';
import { HAPROXY_SKIP, haproxyInstalled, startHaproxyChain, type HaproxyChain } from './haproxy.ts';
import { iperf3, latencyAtRate, latencyMax, nodeBlast, type LatencyResult, type ThroughputResult } from './l4.ts';
import { startBareL4Relay, type BareL4Relay } from './bare-l4.ts';
import {
  l7Direct,
  l7ThroughHbone,
  l7ThroughNginx,
  l7ThroughWaypoint,
  startBareL7Relay,
  startL7Env,
  startNginxL7Peer,
  type L7Result,
} from './l7.ts';
import { bareIdleTunnelMemory, idleTunnelMemory, type MemoryResult } from './memory.ts';
import { startupTimes, timeInstalled } from './startup.ts';
import { round } from './stats.ts';
import { hboneTunnelRate, mtlsHandshakeRate, type RateResult } from './tunnels.ts';
import { FULL_SOAK, runSoak, TOY_SOAK, type SoakOptions, type SoakResult } from './soak.ts';

export const SECTIONS = ['throughput', 'latency', 'tunnels', 'l7', 'control', 'memory', 'startup', 'soak'] as const;
export type Section = (typeof SECTIONS)[number];

/** One line of the table. `status` is MET/MISSED against the issue's target, or why the row has no number. */
export interface Row {
  readonly section: Section;
  readonly measure: string;
  readonly value: number | null;
  readonly unit: string;
  readonly reference?: string;
  readonly ratio?: string;
  readonly target?: string;
  readonly status: string;
}

export interface BenchReport {
  readonly date: string;
  readonly scale: 'toy' | 'full';
  readonly machine: { readonly nproc: number; readonly cpu: string; readonly ramGiB: number; readonly node: string };
  readonly tools: { readonly throughput: 'iperf3' | 'node'; readonly haproxy: boolean };
  readonly sections: Partial<Record<Section, Record<string, unknown>>>;
  readonly rows: Row[];
}

interface Scale {
  readonly toy: boolean;
  readonly throughputSeconds: number;
  readonly latencyMs: number;
  readonly latencyWarmupMs: number;
  readonly latencyRate: number;
  readonly rateMs: number;
  readonly l7Ms: number;
  readonly memoryTunnels: number;
}

const FULL_SCALE: Scale = {
  toy: false,
  throughputSeconds: 5,
  latencyMs: 5000,
  latencyWarmupMs: 1000,
  latencyRate: 1000,
  rateMs: 3000,
  l7Ms: 5000,
  memoryTunnels: 10_000,
};
const TOY_SCALE: Scale = {
  toy: true,
  throughputSeconds: 1,
  latencyMs: 300,
  latencyWarmupMs: 100,
  latencyRate: 200,
  rateMs: 300,
  l7Ms: 300,
  memoryTunnels: 100,
};

const ECHO_HOST = 'echo.bench.internal';
const BULK_HOST = 'bulk.bench.internal';
const KiB = 1024;

function status(toy: boolean, met: boolean): string {
  if (toy) return 'toy size';
  return met ? 'MET' : 'MISSED';
}

const x = (a: number, b: number): string =>
  Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${round(a / b, 2)}×` : '—';

/** The L4 surroundings shared by throughput, latency and tunnel setup. */
interface L4Env {
  readonly pki: BenchPki;
  readonly echo: Child & { port: number };
  readonly bulkPort: number;
  readonly gateway: ServeChild;
  /** local forward ports on the agent */
  readonly agentPid: number;
  readonly agentEcho: number;
  readonly agentBulk: number;
  readonly haproxy: HaproxyChain | null;
  /** Node's floor: the bare HBONE relay pair (bench/bare-relay.ts), sink port → its agent's entry port. */
  readonly bare: BareL4Relay;
  readonly configDir: string;
  readonly tool: 'iperf3' | 'node';
}

async function startL4Env(pki: BenchPki, needHaproxy: boolean): Promise<L4Env> {
  const { writeL4Config } = await import('./env.ts');
  const tool = hasCommand('iperf3') ? 'iperf3' : 'node';
  const echo = await startEcho('echo');
  let bulkPort: number;
  if (tool === 'iperf3') {
    bulkPort = await freePort();
    const srv = startChild('iperf3', ['-s', '-p', String(bulkPort), '-B', '127.0.0.1', '--forceflush']);
    await waitForOutput(srv, /Server listening on/, 'iperf3 -s');
  } else {
    bulkPort = (await startEcho('discard')).port;
  }
  const configDir = writeL4Config(pki.dir, [
    { name: 'echo', host: ECHO_HOST, port: echo.port },
    { name: 'bulk', host: BULK_HOST, port: bulkPort },
  ]);
  const gateway = await startServe(configDir, pki.caDir, `${pki.dir}/access-l4.log`);
  const agent = await startAgentChild(configDir, pki.caDir, gateway.hbone, [
    `${ECHO_HOST}:${echo.port}`,
    `${BULK_HOST}:${bulkPort}`,
  ]);
  const haproxy = needHaproxy && haproxyInstalled() ? await startHaproxyChain(pki, [echo.port, bulkPort]) : null;
  const bare = await startBareL4Relay(pki, [`${ECHO_HOST}:${echo.port}`, `${BULK_HOST}:${bulkPort}`]);
  return {
    bare,
    pki,
    echo,
    bulkPort,
    gateway,
    agentPid: agent.pid,
    agentEcho: agent.forwards.get(`${ECHO_HOST}:${echo.port}`)!,
    agentBulk: agent.forwards.get(`${BULK_HOST}:${bulkPort}`)!,
    haproxy,
    configDir,
    tool,
  };
}

async function benchThroughput(env: L4Env, scale: Scale, rows: Row[]): Promise<Record<string, unknown>> {
  const blast = (port: number, streams: number): Promise<ThroughputResult> =>
    env.tool === 'iperf3'
      ? iperf3(port, streams, scale.throughputSeconds)
      : nodeBlast(port, streams, scale.throughputSeconds);
  const out: Record<string, unknown> = { tool: env.tool, seconds: scale.throughputSeconds };
  for (const streams of [1, 8]) {
    const direct = (await blast(env.bulkPort, streams)).gbps;
    const haproxy = env.haproxy ? (await blast(env.haproxy.entries.get(env.bulkPort)!, streams)).gbps : null;
    // Gbit per CPU-second of the relaying pair (agent + gateway, all threads, from /proc over the blast): what the
    // row costs, which moves far less than Gbps when other work shares the cores.
    const perCpu = async (port: number, pids: readonly number[]): Promise<{ gbps: number; gbitPerCpuS: number }> => {
      const cpu = (): number => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
      const cpu0 = cpu();
      const t0 = performance.now();
      const { gbps } = await blast(port, streams);
      const wall = (performance.now() - t0) / 1000;
      // iperf3 reports the bits of its measured seconds; the CPU window is the whole blast (setup included).
      return { gbps, gbitPerCpuS: (gbps * Math.min(wall, scale.throughputSeconds)) / Math.max(cpu() - cpu0, 0.01) };
    };
    const bareRun = await perCpu(env.bare.entries.get(`${BULK_HOST}:${env.bulkPort}`)!, [
      env.bare.agentPid,
      env.bare.gatewayPid,
    ]);
    const ourRun = await perCpu(env.agentBulk, [env.agentPid, env.gateway.pid]);
    const bare = bareRun.gbps;
    const portcullis = ourRun.gbps;
    out[`streams${streams}`] = {
      directGbps: direct,
      haproxyGbps: haproxy,
      bareRelayGbps: bare,
      portcullisGbps: portcullis,
      bareRelayGbitPerCpuSecond: bareRun.gbitPerCpuS,
      portcullisGbitPerCpuSecond: ourRun.gbitPerCpuS,
    };
    const label = `${streams} stream${streams > 1 ? 's' : ''}`;
    rows.push({
      section: 'throughput',
      measure: `direct, ${label} (${env.tool})`,
      value: round(direct),
      unit: 'Gbps',
      status: 'ceiling',
    });
    rows.push(
      haproxy === null
        ? {
            section: 'throughput',
            measure: `haproxy mTLS chain, ${label}`,
            value: null,
            unit: 'Gbps',
            status: HAPROXY_SKIP,
          }
        : {
            section: 'throughput',
            measure: `haproxy mTLS chain, ${label}`,
            value: round(haproxy),
            unit: 'Gbps',
            reference: 'direct',
            ratio: x(haproxy, direct),
            status: 'reference',
          },
    );
    rows.push({
      section: 'throughput',
      measure: `bare Node HBONE relay pair, ${label}`,
      value: round(bare),
      unit: 'Gbps',
      reference: 'direct',
      ratio: x(bare, direct),
      status: 'reference',
    });
    const met = (haproxy === null || portcullis >= haproxy) && portcullis >= 0.95 * bare;
    rows.push({
      section: 'throughput',
      measure: `Portcullis agent→HBONE→gateway, ${label}`,
      value: round(portcullis),
      unit: 'Gbps',
      reference: haproxy === null ? 'bare relay / direct' : 'haproxy / bare relay / direct',
      ratio: [haproxy === null ? null : x(portcullis, haproxy), x(portcullis, bare), x(portcullis, direct)]
        .filter((r) => r !== null)
        .join(' / '),
      target: '≥ 1.0× haproxy and ≥ 0.95× bare relay',
      status: haproxy === null ? HAPROXY_SKIP : status(scale.toy, met),
    });
    rows.push({
      section: 'throughput',
      measure: `bare Node HBONE relay pair, ${label}: Gbit per relay CPU-second (agent + gateway)`,
      value: round(bareRun.gbitPerCpuS),
      unit: 'Gbit/CPU-s',
      status: 'reference',
    });
    rows.push({
      section: 'throughput',
      measure: `Portcullis, ${label}: Gbit per relay CPU-second (agent + gateway)`,
      value: round(ourRun.gbitPerCpuS),
      unit: 'Gbit/CPU-s',
      reference: 'bare relay',
      ratio: x(ourRun.gbitPerCpuS, bareRun.gbitPerCpuS),
      status: 'recorded',
    });
  }
  return out;
}

async function benchLatency(env: L4Env, scale: Scale, rows: Row[]): Promise<Record<string, unknown>> {
  const size = KiB;
  const paths: [string, number | null][] = [
    ['direct', env.echo.port],
    ['haproxy', env.haproxy ? env.haproxy.entries.get(env.echo.port)! : null],
    ['bare', env.bare.entries.get(`${ECHO_HOST}:${env.echo.port}`)!],
    ['portcullis', env.agentEcho],
  ];
  const out: Record<string, unknown> = { size, rate: scale.latencyRate };
  const at: Record<string, LatencyResult | null> = {};
  const max: Record<string, LatencyResult | null> = {};
  for (const [name, port] of paths) {
    at[name] =
      port === null
        ? null
        : await latencyAtRate(port, {
            rate: scale.latencyRate,
            conns: 16,
            ms: scale.latencyMs,
            size,
            warmupMs: scale.latencyWarmupMs,
          });
    max[name] =
      port === null
        ? null
        : await latencyMax(port, {
            conns: 8,
            ms: Math.min(scale.latencyMs, 3000),
            size,
            warmupMs: scale.latencyWarmupMs,
          });
  }
  out.atRate = at;
  out.maxRate = max;
  const d = at.direct!;
  const p = at.portcullis!;
  const addedP50 = p.p50us - d.p50us;
  const addedP99 = p.p99us - d.p99us;
  out.addedAtRate = { p50us: addedP50, p99us: addedP99 };
  out.addedAtMax = {
    p50us: max.portcullis!.p50us - max.direct!.p50us,
    p99us: max.portcullis!.p99us - max.direct!.p99us,
  };
  const fmt = (r: LatencyResult): string => `p50 ${round(r.p50us / 1000, 3)} ms, p99 ${round(r.p99us / 1000, 3)} ms`;
  for (const [name] of paths) {
    const a = at[name];
    const m = max[name];
    const label =
      { portcullis: 'Portcullis', haproxy: 'haproxy mTLS chain', bare: 'bare Node HBONE relay pair', direct: 'direct' }[
        name
      ] ?? name;
    if (a === null || m === null) {
      rows.push({
        section: 'latency',
        measure: `${label}, 1 KiB @ ${scale.latencyRate}/s`,
        value: null,
        unit: 'ms p99',
        status: HAPROXY_SKIP,
      });
      continue;
    }
    rows.push({
      section: 'latency',
      measure: `${label}, 1 KiB @ ${scale.latencyRate}/s`,
      value: round(a.p99us / 1000, 3),
      unit: 'ms p99',
      reference: fmt(a),
      status: 'recorded',
    });
    rows.push({
      section: 'latency',
      measure: `${label}, 1 KiB at max rate (8 conns)`,
      value: round(m.rps, 0),
      unit: 'req/s',
      reference: fmt(m),
      ratio: name === 'direct' ? undefined : x(m.rps, max.direct!.rps) + ' of direct',
      status: 'recorded',
    });
  }
  rows.push({
    section: 'latency',
    measure: `Portcullis added over direct @ ${scale.latencyRate}/s`,
    value: round(addedP99 / 1000, 3),
    unit: 'ms p99',
    reference: `p50 +${round(addedP50 / 1000, 3)} ms`,
    ratio: [
      at.haproxy ? `haproxy adds p99 ${round((at.haproxy.p99us - d.p99us) / 1000, 3)} ms` : null,
      at.bare ? `bare relay adds p99 ${round((at.bare.p99us - d.p99us) / 1000, 3)} ms` : null,
    ]
      .filter((r) => r !== null)
      .join('; '),
    target: '≤ 0.5 ms p99 added',
    status: status(scale.toy, addedP99 <= 500),
  });
  rows.push({
    section: 'latency',
    measure: 'Portcullis added over direct at max rate',
    value: round((max.portcullis!.p99us - max.direct!.p99us) / 1000, 3),
    unit: 'ms p99',
    reference: `p50 +${round((max.portcullis!.p50us - max.direct!.p50us) / 1000, 3)} ms`,
    status: 'recorded',
  });
  return out;
}

async function benchTunnels(env: L4Env, scale: Scale, rows: Row[]): Promise<Record<string, unknown>> {
  const authority = `${ECHO_HOST}:${env.echo.port}`;
  const tunnels = await hboneTunnelRate(env.gateway.hbone, env.pki.client, authority, {
    ms: scale.rateMs,
    concurrency: 64,
    gatewayPid: env.gateway.pid,
  });
  const bare = await hboneTunnelRate(env.bare.gateway, env.pki.client, authority, {
    ms: scale.rateMs,
    concurrency: 64,
    gatewayPid: env.bare.gatewayPid,
  });
  const mtls = await mtlsHandshakeRate(env.gateway.hbone, env.pki.client, { ms: scale.rateMs, concurrency: 16 });
  rows.push({
    section: 'tunnels',
    measure: `new HBONE tunnels (CONNECT → 200 → graceful close) over ${tunnels.sessions} pooled session(s), 64 in flight`,
    value: round(tunnels.perSecond, 0),
    unit: 'tunnels/s',
    reference: 'each decided + dialled upstream',
    status: 'recorded',
  });
  rows.push({
    section: 'tunnels',
    measure: 'bare Node HBONE relay: new tunnels per relay CPU-second (same loop)',
    value: round(bare.perGatewayCpuSecond ?? 0, 0),
    unit: 'tunnels/CPU-s',
    reference: `${round(bare.perSecond, 0)} tunnels/s wall; relay used ${round(bare.gatewayCpuSeconds ?? 0, 2)} CPU-s`,
    status: 'reference',
  });
  const perCpu = tunnels.perGatewayCpuSecond ?? 0;
  rows.push({
    section: 'tunnels',
    measure: 'Portcullis: new tunnels per gateway CPU-second (decide + dial + 200 + close)',
    value: round(perCpu, 0),
    unit: 'tunnels/CPU-s',
    reference: `gateway used ${round(tunnels.gatewayCpuSeconds ?? 0, 2)} CPU-s for ${tunnels.count} tunnels`,
    ratio: `${x(perCpu, bare.perGatewayCpuSecond ?? 0)} of bare relay`,
    target: '≥ 10,000/CPU-s',
    status: status(scale.toy, perCpu >= 10_000),
  });
  rows.push({
    section: 'tunnels',
    measure: 'new mTLS connections (TLS 1.3, client cert, no resumption), 16 in flight',
    value: round(mtls.perSecond, 0),
    unit: 'conns/s',
    status: 'recorded',
  });
  const spread = await benchTunnelsAcrossWorkers(env, authority, scale, rows);
  return { hbone: tunnels, bareRelay: bare, mtls: mtls satisfies RateResult, acrossWorkers: spread };
}

/**
 * One HTTP/2 session is one TCP connection, so one worker carries all its tunnels. Tunnels spread over cores when
 * the caller opens several sessions (ztunnel opens more as a session's stream limit fills) and `serve --workers N`
 * takes each new connection on any worker (SO_REUSEPORT): the same loop over 8 sessions, 1 worker beside 2.
 */
async function benchTunnelsAcrossWorkers(
  env: L4Env,
  authority: string,
  scale: Scale,
  rows: Row[],
): Promise<Record<string, unknown>> {
  const sessions = 8;
  const loop = { ms: scale.rateMs, concurrency: 64, maxStreamsPerSession: 64 / sessions };
  const one = await hboneTunnelRate(env.gateway.hbone, env.pki.client, authority, {
    ...loop,
    gatewayPid: env.gateway.pid,
  });
  const twoWorkers = await startServe(env.configDir, env.pki.caDir, `${env.pki.dir}/access-l4-2w.log`, [], 2);
  let two: Awaited<ReturnType<typeof hboneTunnelRate>>;
  try {
    two = await hboneTunnelRate(twoWorkers.hbone, env.pki.client, authority, { ...loop, gatewayPid: twoWorkers.pid });
  } finally {
    await twoWorkers.stop();
  }
  const cpus = availableParallelism();
  for (const [label, r] of [
    ['serve --workers 1', one],
    ['serve --workers 2', two],
  ] as const) {
    rows.push({
      section: 'tunnels',
      measure: `new HBONE tunnels over ${r.sessions} sessions (8 streams each), ${label}`,
      value: round(r.perSecond, 0),
      unit: 'tunnels/s',
      reference: `${round(r.perGatewayCpuSecond ?? 0, 0)} per gateway CPU-second (all workers); ${cpus} CPUs, the load generator on them too`,
      ...(r === two ? { ratio: `${x(two.perSecond, one.perSecond)} of 1 worker` } : {}),
      status: 'recorded',
    });
  }
  return { sessions, oneWorker: one, twoWorkers: two };
}

async function benchL7(pki: BenchPki, scale: Scale, rows: Row[]): Promise<Record<string, unknown> | null> {
  const env = await startL7Env(pki);
  if (typeof env === 'string') {
    rows.push({ section: 'l7', measure: 'waypoint, identity-mapped mTLS', value: null, unit: 'req/s', status: env });
    return null;
  }
  try {
    const opts = { perIdentity: 8, ms: scale.l7Ms, warmupMs: scale.toy ? 100 : 1000 };
    const direct: L7Result = await l7Direct(env, opts);
    const waypoint: L7Result = await l7ThroughWaypoint(env, opts);
    const bareRelay = await startBareL7Relay(env, pki);
    let bare: L7Result;
    try {
      bare = await l7ThroughHbone(env, { host: '127.0.0.1', port: bareRelay.port, pid: bareRelay.pid }, opts);
    } finally {
      await bareRelay.stop();
    }
    const nginxPeer = await startNginxL7Peer(env, pki);
    let nginx: L7Result | null = null;
    if (typeof nginxPeer !== 'string') {
      try {
        nginx = await l7ThroughNginx(env, nginxPeer, opts);
      } finally {
        await nginxPeer.child.stop();
      }
    }
    const wrong = waypoint.wrongSubject + direct.wrongSubject + bare.wrongSubject + (nginx?.wrongSubject ?? 0);
    if (wrong > 0) throw new Error(`L7: ${wrong} answers carried the wrong client identity`);
    const perCore = (r: L7Result): string =>
      r.perGatewayCore === undefined ? '—' : `${round(r.perGatewayCore, 0)}/CPU-s`;
    rows.push({
      section: 'l7',
      measure: 'bare Node L7 relay (HTTP/1.1 on CONNECT → HTTPS keep-alive, mapped client cert)',
      value: round(bare.rps, 0),
      unit: 'req/s',
      reference: `${perCore(bare)}; p50 ${round(bare.p50ms, 2)} ms, p99 ${round(bare.p99ms, 2)} ms`,
      status: 'reference',
    });
    rows.push(
      nginx === null
        ? {
            section: 'l7',
            measure: 'nginx L7 peer (mTLS in, mapped mTLS out, keep-alive pool per identity)',
            value: null,
            unit: 'req/s',
            status: nginxPeer as string,
          }
        : {
            section: 'l7',
            measure: 'nginx L7 peer (mTLS in, mapped mTLS out, keep-alive pool per identity)',
            value: round(nginx.rps, 0),
            unit: 'req/s',
            reference: `${perCore(nginx)}; p50 ${round(nginx.p50ms, 2)} ms, p99 ${round(nginx.p99ms, 2)} ms`,
            status: 'peer',
          },
    );
    rows.push({
      section: 'l7',
      measure: 'direct HTTPS (mTLS), 2 identities × 8 conns',
      value: round(direct.rps, 0),
      unit: 'req/s',
      reference: `p50 ${round(direct.p50ms, 2)} ms, p99 ${round(direct.p99ms, 2)} ms`,
      status: 'ceiling',
    });
    rows.push({
      section: 'l7',
      measure: 'waypoint, identity-mapped mTLS, 2 identities interleaved × 8 tunnels',
      value: round(waypoint.rps, 0),
      unit: 'req/s',
      reference: 'direct',
      ratio: `${x(waypoint.rps, direct.rps)} of direct; ${x(waypoint.rps, bare.rps)} of bare relay${nginx === null ? '' : `; ${x(waypoint.rps, nginx.rps)} of nginx`}`,
      status: 'recorded',
    });
    if (waypoint.perGatewayCore !== undefined) {
      rows.push({
        section: 'l7',
        measure: 'waypoint requests per gateway CPU-second (same run)',
        value: round(waypoint.perGatewayCore, 0),
        unit: 'req/core-s',
        reference: `gateway used ${round(waypoint.gatewayCpuSeconds ?? 0, 2)} CPU-s for ${waypoint.requests} requests`,
        ratio: [
          bare.perGatewayCore === undefined ? null : `${x(waypoint.perGatewayCore, bare.perGatewayCore)} of bare relay`,
          nginx?.perGatewayCore === undefined ? null : `${x(waypoint.perGatewayCore, nginx.perGatewayCore)} of nginx`,
        ]
          .filter((r) => r !== null)
          .join('; '),
        target: '≥ 8,000/CPU-s',
        status: status(scale.toy, waypoint.perGatewayCore >= 8000),
      });
    }
    rows.push({
      section: 'l7',
      measure: 'waypoint p99 (same run)',
      value: round(waypoint.p99ms, 2),
      unit: 'ms',
      reference: `p50 ${round(waypoint.p50ms, 2)} ms; direct p99 ${round(direct.p99ms, 2)} ms`,
      target: '< 5 ms at 16 in flight',
      status: status(scale.toy, waypoint.p99ms < 5),
    });
    return { direct, waypoint, bareRelay: bare, nginx };
  } finally {
    await env.stop();
  }
}

function benchControl(scale: Scale, rows: Row[]): ControlPlaneResult {
  const r = runControlPlane(scale.toy ? 'toy' : 'full');
  const s = r.size;
  const what = `${s.serviceEntries} SE + ${s.policies} policies + ${s.routes} routes`;
  rows.push({
    section: 'control',
    measure: `load (parse + validate) ${what}`,
    value: round(r.loadMs, 0),
    unit: 'ms',
    status: 'recorded',
  });
  rows.push({
    section: 'control',
    measure: `compile ${what}`,
    value: round(r.compileMs, 0),
    unit: 'ms',
    target: '< 1 s',
    status: status(scale.toy, r.compileMs < 1000),
  });
  rows.push({
    section: 'control',
    measure: 'reload after one changed policy (load + compile)',
    value: round(r.reloadMs, 1),
    unit: 'ms',
    reference: `load ${round(r.reloadLoadMs, 1)} ms + compile ${round(r.reloadCompileMs, 1)} ms`,
    target: '< 50 ms',
    status: status(scale.toy, r.reloadMs < 50),
  });
  rows.push({
    section: 'control',
    measure: 'decision over that snapshot (mesh decideConnection), per call from batch means of 100',
    value: round(r.decisionP99us, 2),
    unit: 'µs p99',
    reference: `p50 ${round(r.decisionP50us, 2)} µs, ${round(r.decisionsPerSecond, 0)} decisions/s; each call timed alone: p99 ${round(r.decisionSingleP99us, 1)} µs`,
    target: '< 10 µs p99',
    status: status(scale.toy, r.decisionP99us < 10),
  });
  return r;
}

async function benchMemory(
  pki: BenchPki,
  env: L4Env | null,
  scale: Scale,
  rows: Row[],
): Promise<MemoryResult & { bareRelay: MemoryResult }> {
  let configDir = env?.configDir;
  let echo = env?.echo;
  if (configDir === undefined || echo === undefined) {
    const { writeL4Config } = await import('./env.ts');
    echo = await startEcho('echo');
    configDir = writeL4Config(pki.dir, [{ name: 'echo', host: ECHO_HOST, port: echo.port }]);
  }
  const r = await idleTunnelMemory(pki, configDir, `${ECHO_HOST}:${echo.port}`, scale.memoryTunnels);
  const bare = await bareIdleTunnelMemory(pki, `${ECHO_HOST}:${echo.port}`, scale.memoryTunnels);
  rows.push({
    section: 'memory',
    measure: `gateway RSS, ${r.tunnels} idle tunnels over ${r.sessions} sessions`,
    value: round(r.bytesPerTunnel / KiB, 1),
    unit: 'KiB/tunnel',
    reference: `RSS ${round(r.rssBeforeMiB, 1)} → ${round(r.rssAfterMiB, 1)} MiB (incl. the upstream socket)`,
    ratio: `${x(r.bytesPerTunnel, bare.bytesPerTunnel)} of bare relay`,
    target: '≤ 16 KiB',
    status: status(scale.toy, r.bytesPerTunnel <= 16 * KiB),
  });
  rows.push({
    section: 'memory',
    measure: `bare Node HBONE relay RSS, ${bare.tunnels} idle tunnels over ${bare.sessions} sessions (same loop)`,
    value: round(bare.bytesPerTunnel / KiB, 1),
    unit: 'KiB/tunnel',
    reference: `RSS ${round(bare.rssBeforeMiB, 1)} → ${round(bare.rssAfterMiB, 1)} MiB (incl. the upstream socket)`,
    status: 'reference',
  });
  return { ...r, bareRelay: bare };
}

function machine(): BenchReport['machine'] {
  return {
    nproc: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    ramGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
  };
}

/** `portcullis check` on seed 000 against `node -e 0`, on Node 26 and through the re-exec from an older system Node. */
async function benchStartup(scale: Scale, rows: Row[]): Promise<Record<string, unknown>> {
  if (!timeInstalled()) {
    rows.push({
      section: 'startup',
      measure: 'portcullis check, seed 000 (Node 26)',
      value: null,
      unit: 'ms',
      status: 'skipped: GNU time not installed (apt-get install time)',
    });
    return { skipped: 'GNU time not installed' };
  }
  const r = await startupTimes(scale.toy ? 2 : 15);
  const cpu = (s: { cpuMs: number }): string => `CPU ${round(s.cpuMs, 0)} ms`;
  rows.push({
    section: 'startup',
    measure: `node -e 0 (Node ${process.versions.node})`,
    value: round(r.nodeEmpty.wallMs, 0),
    unit: 'ms',
    reference: cpu(r.nodeEmpty),
    status: 'floor',
  });
  rows.push({
    section: 'startup',
    measure: 'portcullis check, seed 000 (Node 26)',
    value: round(r.check.wallMs, 0),
    unit: 'ms',
    reference: cpu(r.check),
    ratio: x(r.check.wallMs, r.nodeEmpty.wallMs),
    target: '< 120 ms',
    status: status(scale.toy, r.check.wallMs < 120),
  });
  if (r.systemNode === null) {
    rows.push({
      section: 'startup',
      measure: 'portcullis check via re-exec from an older system Node',
      value: null,
      unit: 'ms',
      status: 'skipped: the system node is not older than 26',
    });
  } else {
    const s = r.systemNode;
    rows.push({
      section: 'startup',
      measure: `node -e 0 (system Node ${s.version})`,
      value: round(s.nodeEmpty.wallMs, 0),
      unit: 'ms',
      reference: cpu(s.nodeEmpty),
      status: 'floor',
    });
    rows.push({
      section: 'startup',
      measure: `portcullis check, seed 000 (the installed command, system Node ${s.version} first on the PATH)`,
      value: round(s.launcher.wallMs, 0),
      unit: 'ms',
      reference: cpu(s.launcher),
      // The launcher starts Node 26 only: its floor is Node 26's empty start.
      ratio: x(s.launcher.wallMs, r.nodeEmpty.wallMs),
      target: '< 250 ms',
      status: status(scale.toy, s.launcher.wallMs < 250),
    });
    rows.push({
      section: 'startup',
      measure: `portcullis check, seed 000 (node bin/portcullis.mjs: re-exec from Node ${s.version})`,
      value: round(s.check.wallMs, 0),
      unit: 'ms',
      reference: cpu(s.check),
      ratio: x(s.check.wallMs, s.nodeEmpty.wallMs),
      status: 'shown: two Node start-ups; the installed command has one',
    });
  }
  return { ...r };
}

/**
 * The soak's rows. Growth is judged against noise: RSS within 10 % + 32 MiB of the start, descriptors within 2 % +
 * 64 (tunnels churn, so the count moves), event-loop p99 under 100 ms at the end.
 */
function benchSoakRows(r: SoakResult, toy: boolean, rows: Row[]): void {
  const { start, end } = r.gateway;
  const o = r.options;
  const what = `${o.tunnels} tunnels, churn ${o.churnPerSecond}/s, ${o.seconds} s`;
  rows.push({
    section: 'soak',
    measure: `errors (${what}; ${r.exchanges} exchanges, ${r.l7Requests} L7 requests)`,
    value: r.errors,
    unit: 'errors',
    reference: r.firstError ?? '',
    target: '0',
    status: status(toy, r.errors === 0 && r.l7WrongSubject === 0),
  });
  rows.push({
    section: 'soak',
    measure: 'gateway RSS, start → end',
    value: round(end.rssMiB, 1),
    unit: 'MiB',
    reference: `start ${round(start.rssMiB, 1)} MiB`,
    target: 'no growth beyond noise',
    status: status(toy, end.rssMiB <= start.rssMiB * 1.1 + 32),
  });
  rows.push({
    section: 'soak',
    measure: 'gateway open descriptors (/proc/<pid>/fd), start → end',
    value: end.fds,
    unit: 'fds',
    reference: `start ${start.fds}`,
    target: 'no growth beyond noise',
    status: status(toy, end.fds <= start.fds * 1.02 + 64),
  });
  rows.push({
    section: 'soak',
    measure: 'gateway event-loop delay p99, start → end',
    value: round(end.loopDelayP99Ms, 2),
    unit: 'ms',
    reference: `start ${round(start.loopDelayP99Ms, 2)} ms; max at end ${round(end.loopDelayMaxMs, 2)} ms`,
    target: '< 100 ms',
    status: status(toy, end.loopDelayP99Ms < 100),
  });
  if (typeof r.waypoint === 'string') {
    rows.push({
      section: 'soak',
      measure: 'waypoint (L7 keep-alive, 2 identities)',
      value: null,
      unit: 'MiB',
      status: r.waypoint,
    });
  } else {
    const w = r.waypoint;
    rows.push({
      section: 'soak',
      measure: 'waypoint RSS, start → end',
      value: round(w.end.rssMiB, 1),
      unit: 'MiB',
      reference: `start ${round(w.start.rssMiB, 1)} MiB; fds ${w.start.fds} → ${w.end.fds}; loop p99 ${round(w.end.loopDelayP99Ms, 2)} ms`,
      target: 'no growth beyond noise',
      status: status(toy, w.end.rssMiB <= w.start.rssMiB * 1.1 + 32),
    });
  }
}

export async function runBench(opts: {
  toy: boolean;
  only?: readonly Section[];
  log?: (line: string) => void;
  /** Soak size and duration (`--soak-tunnels`, `--soak-seconds`); default the full or toy size. */
  soak?: Partial<SoakOptions>;
}): Promise<BenchReport> {
  const scale = opts.toy ? TOY_SCALE : FULL_SCALE;
  const only = new Set<Section>(opts.only ?? SECTIONS);
  const log = opts.log ?? (() => {});
  const rows: Row[] = [];
  const sections: BenchReport['sections'] = {};
  const pki = await makePki();
  let tool: 'iperf3' | 'node' = hasCommand('iperf3') ? 'iperf3' : 'node';
  try {
    let env: L4Env | null = null;
    if (only.has('throughput') || only.has('latency') || only.has('tunnels')) {
      log('starting the L4 surroundings (sinks, portcullis serve + agent, haproxy chain)');
      env = await startL4Env(pki, only.has('throughput') || only.has('latency'));
      tool = env.tool;
    }
    if (only.has('throughput')) {
      log('1. L4 throughput');
      sections.throughput = await benchThroughput(env!, scale, rows);
    }
    if (only.has('latency')) {
      log('2. L4 latency');
      sections.latency = await benchLatency(env!, scale, rows);
    }
    if (only.has('tunnels')) {
      log('3. tunnel setup');
      sections.tunnels = await benchTunnels(env!, scale, rows);
    }
    if (env !== null) {
      await env.gateway.stop();
      await env.haproxy?.stop();
      await env.bare.stop();
    }
    if (only.has('l7')) {
      log('4. L7 waypoint');
      sections.l7 = (await benchL7(pki, scale, rows)) ?? { skipped: rows.at(-1)?.status };
    }
    if (only.has('control')) {
      log('5. control plane');
      sections.control = { ...benchControl(scale, rows) };
    }
    if (only.has('memory')) {
      log('6. memory');
      sections.memory = { ...(await benchMemory(pki, env, scale, rows)) };
    }
    if (only.has('startup')) {
      log('7. start-up');
      sections.startup = await benchStartup(scale, rows);
    }
    if (only.has('soak')) {
      const soakOptions: SoakOptions = { ...(opts.toy ? TOY_SOAK : FULL_SOAK), ...opts.soak };
      log(`8. soak (${soakOptions.tunnels} tunnels for ${soakOptions.seconds} s)`);
      const r = await runSoak(pki, soakOptions, log);
      sections.soak = { ...r };
      benchSoakRows(r, opts.toy, rows);
    }
  } finally {
    await stopAllChildren();
    pki.cleanup();
  }
  return {
    date: new Date().toISOString(),
    scale: opts.toy ? 'toy' : 'full',
    machine: machine(),
    tools: { throughput: tool, haproxy: haproxyInstalled() },
    sections,
    rows,
  };
}

/** The report as one plain-text table (also pasted into BENCHMARKS.md). */
export function formatTable(report: BenchReport): string {
  const head = ['#', 'measure', 'value', 'unit', 'reference', 'ratio', 'target', 'status'];
  const num: Record<Section, string> = {
    throughput: '1',
    latency: '2',
    tunnels: '3',
    l7: '4',
    control: '5',
    memory: '6',
    startup: '7',
    soak: '8',
  };
  const body = report.rows.map((r) => [
    num[r.section],
    r.measure,
    r.value === null ? '—' : String(r.value),
    r.unit,
    r.reference ?? '',
    r.ratio ?? '',
    r.target ?? '',
    r.status,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      toy: { type: 'boolean' },
      json: { type: 'string' },
      only: { type: 'string' },
      'soak-tunnels': { type: 'string' },
      'soak-seconds': { type: 'string' },
    },
  });
  const soak: { tunnels?: number; seconds?: number } = {};
  for (const [flag, key] of [
    ['soak-tunnels', 'tunnels'],
    ['soak-seconds', 'seconds'],
  ] as const) {
    const text = values[flag];
    if (text === undefined) continue;
    if (!/^[1-9]\d*$/.test(text)) throw new Error(`--${flag} "${text}": expected a positive whole number`);
    soak[key] = Number(text);
  }
  const only = values.only?.split(',').map((s) => s.trim()) as Section[] | undefined;
  for (const s of only ?? []) {
    if (!SECTIONS.includes(s)) throw new Error(`--only: unknown section "${s}" (sections: ${SECTIONS.join(', ')})`);
  }
  const started = Date.now();
  const report = await runBench({
    toy: values.toy === true,
    only,
    soak,
    log: (l) => process.stderr.write(`bench: ${l}\n`),
  });
  const m = report.machine;
  process.stdout.write(
    `Portcullis benchmarks (${report.scale}), ${report.date}\n${m.nproc} × ${m.cpu}, ${m.ramGiB} GiB RAM, Node ${m.node}; throughput tool: ${report.tools.throughput}\n\n` +
      `${formatTable(report)}\n\nwall time ${round((Date.now() - started) / 1000, 1)} s\n`,
  );
  if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
}

if (import.meta.main) {
  main().catch(async (err) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
    await stopAllChildren();
    process.exit(1);
  });
}
