/**
 * Start-up of a short command, side by side with an empty Node process: `portcullis check` on seed 000 through
 * bin/portcullis.mjs on the pinned Node 26; and, when the machine's own Node is older, through the installed command
 * (bin/portcullis, the shell launcher that `npm link` puts on the PATH: it execs the pinned Node, so that older Node
 * never starts) and through `node bin/portcullis.mjs` started by that older Node (which re-executes itself).
 * Each is run `runs` times after one warm-up run (which fills Node's compile cache, as any first run does); the
 * median wall time is reported, with user+system CPU time beside it (less disturbed by a busy machine).
 */
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { percentile } from './stats.ts';

const REPO = join(import.meta.dirname, '..');
const BIN = join(REPO, 'bin', 'portcullis.mjs');
const LAUNCHER = join(REPO, 'bin', 'portcullis');
const CHECK = [
  'check',
  '--config',
  join(REPO, 'examples', 'seed-000'),
  '--from',
  'bookinfo/bookinfo-productpage',
  '--to',
  'httpbin.org:443',
];

export interface StartupSample {
  readonly wallMs: number;
  readonly cpuMs: number;
}

export interface StartupResult {
  readonly runs: number;
  readonly nodeEmpty: StartupSample;
  readonly check: StartupSample;
  /** Null when the machine's own `node` is Node 26 or newer (no re-exec happens) or is absent. */
  readonly systemNode: {
    readonly version: string;
    readonly nodeEmpty: StartupSample;
    /** `node bin/portcullis.mjs check …` started by the older Node: it re-executes itself under the pinned Node 26. */
    readonly check: StartupSample;
    /** `portcullis check …` through the installed command (bin/portcullis), the older Node first on the PATH. */
    readonly launcher: StartupSample;
  } | null;
}

/** One run: wall time from spawn to exit, and the child's user + system CPU time as GNU time reports it. */
function once(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<StartupSample> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    // GNU time reports the child's own CPU time; its exec adds about a millisecond to the wall time.
    const child = spawn('/usr/bin/time', ['-f', '%U %S', cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = performance.now() - started;
      const m = /(\d+\.\d+) (\d+\.\d+)\s*$/.exec(err);
      if (code !== 0 || !m) {
        reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`));
        return;
      }
      resolve({ wallMs, cpuMs: (Number(m[1]) + Number(m[2])) * 1000 });
    });
  });
}

async function sample(
  cmd: string,
  args: readonly string[],
  runs: number,
  env?: NodeJS.ProcessEnv,
): Promise<StartupSample> {
  await once(cmd, args, env);
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = await once(cmd, args, env);
    wall.push(s.wallMs);
    cpu.push(s.cpuMs);
  }
  return { wallMs: percentile(wall, 0.5), cpuMs: percentile(cpu, 0.5) };
}

/** The machine's own `node` (the first on PATH outside node_modules), when it is older than 26. */
function systemNode(): { path: string; version: string } | null {
  const path = (process.env.PATH ?? '').split(':').filter((d) => d !== '' && !d.includes('node_modules'));
  for (const dir of path) {
    const candidate = join(dir, 'node');
    const r = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    const version = r.stdout.trim();
    return Number(version.replace(/^v/, '').split('.')[0]) < 26 ? { path: candidate, version } : null;
  }
  return null;
}

export function timeInstalled(): boolean {
  return spawnSync('/usr/bin/time', ['-f', '%U', 'true']).status === 0;
}

export async function startupTimes(runs: number): Promise<StartupResult> {
  const node = process.execPath;
  const nodeEmpty = await sample(node, ['-e', '0'], runs);
  const check = await sample(node, [BIN, ...CHECK], runs);
  const sys = systemNode();
  return {
    runs,
    nodeEmpty,
    check,
    systemNode:
      sys === null
        ? null
        : {
            version: sys.version,
            nodeEmpty: await sample(sys.path, ['-e', '0'], runs),
            check: await sample(sys.path, [BIN, ...CHECK], runs),
            launcher: await sample(LAUNCHER, CHECK, runs, {
              ...process.env,
              PATH: `${dirname(sys.path)}:${process.env.PATH ?? ''}`,
            }),
          },
  };
}
