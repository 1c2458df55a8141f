/**
 * Run a test file inside a fresh network namespace holding only loopback (`unshare --net`, then `ip link set lo up`),
 * so a test that names a non-loopback address (metadata, private ranges) can never send a packet off the machine,
 * even when the code under test regresses and dials it. The outer run re-executes the file in the namespace and
 * passes when every test inside passed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

const MARK = 'PORTCULLIS_LOOPBACK_NETNS';

/** True inside the namespace (the re-executed run). */
export const IN_LOOPBACK_NETNS = process.env[MARK] === '1';

/** Why the namespace cannot be made here (a plain message for `skip`), or false. */
export function loopbackNetnsUnavailable(): string | false {
  if (process.getuid?.() !== 0) return 'needs root for unshare --net (CI runs as root)';
  for (const tool of ['/usr/bin/unshare', '/usr/sbin/ip']) {
    if (!existsSync(tool) && !existsSync(tool.replace('/usr', ''))) {
      return `${tool.split('/').pop()} not installed (util-linux, iproute2)`;
    }
  }
  return false;
}

/** The interfaces this process sees; inside the namespace, only `lo`. */
export function interfaceNames(): string[] {
  return Object.keys(networkInterfaces()).sort();
}

/** The environment of the inner run: marked, and without the outer test runner's context (it would skip the file). */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, [MARK]: '1' };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

export interface NetnsRun {
  readonly status: number | null;
  readonly output: string;
  readonly passed: number;
  readonly failed: number;
}

/** Re-run `file` with `node --test` in a new network namespace whose only interface is loopback, brought up. */
export function runInLoopbackNetns(file: string, timeoutMs: number): NetnsRun {
  const r = spawnSync(
    'unshare',
    ['--net', '--', 'sh', '-c', 'ip link set lo up && exec "$0" --test-reporter=tap "$1"', process.execPath, file],
    { env: childEnv(), encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
  );
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `\n${r.error.message}` : ''}`;
  const count = (what: string): number => Number(new RegExp(`^# ${what} (\\d+)$`, 'm').exec(output)?.[1] ?? -1);
  return { status: r.status, output, passed: count('pass'), failed: count('fail') };
}
