/**
 * Gateway memory per idle tunnel: a fresh `portcullis serve` child, RSS from /proc before and after opening N tunnels
 * (HboneClient pools, 100 streams per session, so N/100 sessions), each tunnel dialled upstream to the echo sink and
 * then left idle. The bare Node relay (bench/bare-relay.ts) is measured the same way as the floor.
 */
import type { ClientHttp2Stream } from 'node:http2';
import { join } from 'node:path';
import { HboneClient } from '../src/hbone/client.ts';
import { startBareGateway } from './bare-l4.ts';
import { GATEWAY_SAN, REPO, heapSnapshotWanted, rssBytes, startServe, type BenchPki } from './env.ts';
import { sleep } from './stats.ts';
import { readdirSync, statSync } from 'node:fs';

/** Wait until the child's heap snapshot file (`Heap.*.<pid>.*.heapsnapshot` in bench/profiles) stops growing; 2 min at most. */
async function heapSnapshotWritten(pid: number): Promise<void> {
  const dir = join(REPO, 'bench', 'profiles');
  let last = -1;
  for (let waited = 0; waited < 120_000; waited += 1000) {
    await sleep(1000);
    const f = readdirSync(dir).find((n) => n.endsWith('.heapsnapshot') && n.includes(`.${pid}.`));
    if (f === undefined) continue;
    const size = statSync(join(dir, f)).size;
    if (size === last && size > 0) return;
    last = size;
  }
}

export interface MemoryResult {
  readonly tunnels: number;
  readonly sessions: number;
  readonly rssBeforeMiB: number;
  readonly rssAfterMiB: number;
  readonly bytesPerTunnel: number;
}

/** A gateway child under measurement: its HBONE address and pid. */
interface MeasuredGateway {
  readonly hbone: { host: string; port: number };
  readonly pid: number;
  stop(): Promise<void>;
}

/** `portcullis serve` with room for the tunnels (its per-identity limit is lifted by the bench config). */
export function idleTunnelMemory(
  pki: BenchPki,
  configDir: string,
  authority: string,
  tunnels: number,
): Promise<MemoryResult> {
  const start = (): Promise<MeasuredGateway> =>
    startServe(configDir, pki.caDir, join(pki.dir, 'access-memory.log'), ['--max-tunnels', String(tunnels * 2)]);
  return measureIdleTunnels(pki, start, authority, tunnels, heapSnapshotWanted('serve'));
}

/** The bare Node relay's gateway, the same measurement: Node's own floor per idle tunnel. */
export function bareIdleTunnelMemory(pki: BenchPki, authority: string, tunnels: number): Promise<MemoryResult> {
  return measureIdleTunnels(pki, () => startBareGateway(pki), authority, tunnels, heapSnapshotWanted('bare-serve'));
}

async function measureIdleTunnels(
  pki: BenchPki,
  start: () => Promise<MeasuredGateway>,
  authority: string,
  tunnels: number,
  heapSnapshot: boolean,
): Promise<MemoryResult> {
  const gw = await start();
  const client = new HboneClient({
    certificates: pki.client,
    gateway: gw.hbone,
    expectedSans: [GATEWAY_SAN],
    keepaliveIntervalMs: 0,
  });
  const open: ClientHttp2Stream[] = [];
  try {
    // Warm up: one full session's worth, opened and closed, so code and pools are in place before the baseline.
    const warm = await Promise.all(Array.from({ length: 100 }, () => client.connect(authority, { forwarded: false })));
    await Promise.all(
      warm.map((t) => new Promise((resolve) => (t.stream.once('close', resolve), t.stream.resume(), t.stream.end()))),
    );
    await sleep(1000);
    const before = rssBytes(gw.pid);
    let next = 0;
    await Promise.all(
      Array.from({ length: 200 }, async () => {
        while (next < tunnels) {
          next++;
          const t = await client.connect(authority, { forwarded: false });
          open.push(t.stream);
        }
      }),
    );
    await sleep(2000);
    const after = rssBytes(gw.pid);
    if (heapSnapshot) {
      // The snapshot of the idle tunnels (after the RSS reading, which it would disturb); written to bench/profiles.
      process.kill(gw.pid, 'SIGUSR2');
      await heapSnapshotWritten(gw.pid);
    }
    return {
      tunnels: open.length,
      sessions: client.sessionCount,
      rssBeforeMiB: before / 2 ** 20,
      rssAfterMiB: after / 2 ** 20,
      bytesPerTunnel: (after - before) / open.length,
    };
  } finally {
    client.destroy();
    await gw.stop();
  }
}
