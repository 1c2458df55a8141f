/**
 * `serve --workers N`: use every core. The primary forks N workers; each runs a whole gateway (its own config
 * watcher, so every worker follows the same snapshot: compiling is deterministic) and binds the HBONE port with
 * SO_REUSEPORT, so the kernel spreads connections among them. The primary owns the admin port: metrics aggregated
 * from every worker, readiness when every worker is ready, the config dump asked of a worker. A worker that dies is
 * replaced; SIGTERM drains every worker, then the primary exits.
 */
import cluster, { type Worker } from 'node:cluster';
import { createServer as createNetServer } from 'node:net';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { startAdminServer, type AdminServer } from '../admin/admin-server.ts';
import { startHealthServer } from './health-server.ts';
import { configDump } from '../admin/config-dump.ts';
import { readyLines } from '../mesh/config-health.ts';
import { startFlowFeed } from '../admin/flow-feed.ts';
import { FlowHub } from '../admin/flow-hub.ts';
import { applyFlowMessage, isFlowMessage, workerFlowSink } from '../admin/flow-ipc.ts';
import { uiRoutes } from '../admin/ui-routes.ts';
import { LEARN_BANNER } from '../learn/learn-mode.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import type { HostPort } from './gateway.ts';
import { messageOf } from '../errors/message-of.ts';

const READY = 'portcullis:worker-ready';
const DUMP_REQ = 'portcullis:config-dump-req';
const DUMP_RES = 'portcullis:config-dump-res';
/** Environment a worker finds its role and the shared HBONE address in. */
export const WORKER_ENV = 'PORTCULLIS_SERVE_WORKER';
export const WORKER_LISTEN_ENV = 'PORTCULLIS_SERVE_WORKER_LISTEN';
/** The primary's admin address, which the workers' private-address guard refuses like their own sockets. */
export const WORKER_ADMIN_ENV = 'PORTCULLIS_SERVE_WORKER_ADMIN';

interface ReadyMessage {
  readonly type: typeof READY;
  readonly hbone: string;
  /** The snapshot the worker serves (sent again whenever it changes). */
  readonly generation: number;
  readonly served: number;
  /** `/ready`'s lines about configuration errors (config-health.ts readyLines), empty when there are none. */
  readonly errors: readonly string[];
  /** Why the worker cannot serve new tunnels (its certificate expired), or null. */
  readonly problem?: string | null;
  /** Why the worker serves its last configuration rather than the current one (the API server lost), or null. */
  readonly degraded?: string | null;
}

function formatHostPort(h: HostPort): string {
  return h.host.includes(':') ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`;
}

/** Resolve on the first SIGTERM or SIGINT (then stop listening for them, so a second one acts as usual). */
export function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve(signal);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

/** A free port on `host`, for workers that must all bind the same one when `--listen` asked for port 0. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface PrimaryOptions {
  readonly workers: number;
  readonly listen: HostPort;
  readonly admin: HostPort | null;
  /** The kubelet's health port (`/healthz/ready`), answered by the primary like `/ready`. */
  readonly health?: HostPort | null;
  /** A line added to every readiness answer (the development CA's warning). */
  readonly readyNote?: string;
  readonly drainMs: number;
  readonly out: { write(s: string): unknown };
  readonly err: { write(s: string): unknown };
}

/** Run the primary until SIGTERM/SIGINT; resolves with the exit code. */
export async function runPrimary(opts: PrimaryOptions): Promise<number> {
  const listen: HostPort =
    opts.listen.port === 0 ? { host: opts.listen.host, port: await freePort(opts.listen.host) } : opts.listen;
  const admin: HostPort | null =
    opts.admin === null
      ? null
      : opts.admin.port === 0
        ? { host: opts.admin.host, port: await freePort(opts.admin.host) }
        : opts.admin;
  const env = {
    [WORKER_ENV]: '1',
    [WORKER_LISTEN_ENV]: formatHostPort(listen),
    [WORKER_ADMIN_ENV]: admin === null ? '' : formatHostPort(admin),
  };
  const ready = new Set<number>();
  const problems = new Map<number, string>();
  // Ready but serving a stale configuration: said on /ready as a single-process gateway says it.
  const degradedBy = new Map<number, string>();
  let status = '';
  let errorLines: readonly string[] = [];
  let stopping = false;
  let started = false;
  const aggregator = new AggregatorRegistry();
  let nextRequest = 1;
  const pendingDumps = new Map<number, (dump: unknown) => void>();
  // The flow map of every worker's decisions: each worker feeds its batches over IPC.
  const hub = new FlowHub();

  let markStarted: () => void = () => {};
  let failStart: (e: Error) => void = () => {};
  const allReady = new Promise<void>((resolve, reject) => {
    markStarted = resolve;
    failStart = reject;
  });
  const fork = (): Worker => {
    const w = cluster.fork(env);
    w.on(
      'message',
      (m: {
        type?: string;
        id?: number;
        dump?: unknown;
        generation?: number;
        served?: number;
        errors?: string[];
        problem?: string | null;
        degraded?: string | null;
      }) => {
        if (isFlowMessage(m)) applyFlowMessage(hub.sink(`worker-${w.id}`), m);
        else if (m.type === READY) {
          ready.add(w.id);
          if (typeof m.problem === 'string') problems.set(w.id, m.problem);
          else problems.delete(w.id);
          if (typeof m.degraded === 'string') degradedBy.set(w.id, m.degraded);
          else degradedBy.delete(w.id);
          status = `generation ${m.generation}, ${m.served} gateway(s) served`;
          errorLines = m.errors ?? [];
          if (!started && ready.size >= opts.workers) {
            started = true;
            markStarted();
          }
        } else if (m.type === DUMP_RES && m.id !== undefined) {
          pendingDumps.get(m.id)?.(m.dump ?? null);
          pendingDumps.delete(m.id);
        }
      },
    );
    w.on('exit', (code, signal) => {
      ready.delete(w.id);
      problems.delete(w.id);
      degradedBy.delete(w.id);
      hub.dropFeed(`worker-${w.id}`);
      if (stopping) return;
      if (!started) {
        failStart(new Error(`worker ${w.id} exited (${signal ?? code}) before it was ready`));
        return;
      }
      opts.err.write(`portcullis serve: worker ${w.id} exited (${signal ?? code}); starting a replacement\n`);
      fork();
    });
    return w;
  };

  for (let i = 0; i < opts.workers; i++) fork();
  try {
    await allReady;
  } catch (e) {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGKILL');
    opts.err.write(`portcullis serve: ${messageOf(e)}\n`);
    return 1;
  }

  let adminServer: AdminServer | null = null;
  const note = opts.readyNote === undefined ? '' : `\n${opts.readyNote}`;
  const readiness = (): { ready: boolean; why: string } =>
    stopping
      ? { ready: false, why: `draining${note}` }
      : problems.size > 0
        ? { ready: false, why: `${[...problems].map(([id, p]) => `worker ${id}: ${p}`).join('\n')}${note}` }
        : ready.size >= opts.workers
          ? {
              ready: true,
              why:
                [
                  `${hub.status()?.learn === true ? `${LEARN_BANNER}\n` : ''}ready: ${status}, ${ready.size} worker(s)`,
                  ...[...degradedBy].map(([id, why]) => `degraded: worker ${id}: ${why}`),
                  ...errorLines,
                ].join('\n') + note,
            }
          : { ready: false, why: `${ready.size} of ${opts.workers} worker(s) ready${note}` };
  const health =
    opts.health === undefined || opts.health === null
      ? null
      : await startHealthServer(readiness, opts.health.host, opts.health.port);
  if (admin !== null) {
    adminServer = await startAdminServer(
      {
        ui: uiRoutes(hub),
        metrics: async () => ({ contentType: aggregator.contentType, text: await aggregator.clusterMetrics() }),
        configDump: () =>
          new Promise((resolve) => {
            const w = Object.values(cluster.workers ?? {}).find((x) => x !== undefined && ready.has(x.id));
            if (!w) return resolve(null);
            const id = nextRequest++;
            pendingDumps.set(id, resolve);
            w.send({ type: DUMP_REQ, id });
            setTimeout(() => pendingDumps.delete(id) && resolve(null), 5000).unref();
          }),
        ready: readiness,
      },
      admin.host,
      admin.port,
    );
  }
  const adminAddress =
    adminServer === null
      ? 'none'
      : formatHostPort({ host: adminServer.address.address, port: adminServer.address.port });
  opts.out.write(`portcullis serve: ${opts.workers} workers share the HBONE port (SO_REUSEPORT)\n`);
  opts.out.write(`portcullis serve: listening on ${formatHostPort(listen)} (HBONE), admin on ${adminAddress}\n`);

  await stopSignal();
  stopping = true;
  const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
  const exits = workers.map(
    (w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))),
  );
  for (const w of workers) w.process.kill('SIGTERM');
  const deadline = setTimeout(
    () => workers.forEach((w) => w.isDead() || w.process.kill('SIGKILL')),
    opts.drainMs + 5000,
  );
  await Promise.all(exits);
  clearTimeout(deadline);
  await adminServer?.close();
  await health?.close();
  hub.close();
  return 0;
}

/** Worker side: report ready (and each new snapshot), answer the primary's config-dump and metrics requests. */
export function serveAsWorker(
  registry: Registry,
  snapshot: () => Snapshot,
  hboneAddress: string,
  problem: () => string | null = () => null,
  flows?: { instance: number; startedMs: number },
  degraded: () => string | null = () => null,
): void {
  if (flows !== undefined)
    startFlowFeed({ ...flows, snapshot, sink: workerFlowSink((m) => process.connected && process.send?.(m)) });
  // Constructing an AggregatorRegistry installs prom-client's worker-side listener; then say which registry to report.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  process.on('message', (m: { type?: string; id?: number }) => {
    if (m.type === DUMP_REQ) process.send?.({ type: DUMP_RES, id: m.id, dump: configDump(snapshot()) });
  });
  let sent = -1;
  let sentProblem: string | null = null;
  let sentDegraded: string | null = null;
  const report = (): void => {
    const snap = snapshot();
    const now = problem();
    const stale = degraded();
    if (snap.generation === sent && now === sentProblem && stale === sentDegraded) return;
    sent = snap.generation;
    sentProblem = now;
    sentDegraded = stale;
    process.send?.({
      type: READY,
      hbone: hboneAddress,
      generation: snap.generation,
      served: snap.servedGateways().length,
      errors: readyLines(snap),
      problem: now,
      degraded: stale,
    } satisfies ReadyMessage);
  };
  report();
  setInterval(report, 1000).unref();
}
