/**
 * Run a test file again inside a fresh network namespace holding only loopback (`unshare --net`, then
 * `ip link set lo up`; root only), so a test that feeds the gateway a non-loopback address (the metadata address,
 * private ranges, a VIP) can never send a packet off the machine, whatever a regression makes the gateway dial. The
 * outer run re-executes the file in the namespace and passes when every test inside passed.
 */
import { execFile, spawnSync } from 'node:child_process';
import { networkInterfaces } from 'node:os';

const MARK = 'PORTCULLIS_LOOPBACK_NETNS';

/** True in the copy of a test file running inside the namespace. */
export const IN_LOOPBACK_NETNS = process.env[MARK] === '1';

/** Why the namespace cannot be made here (a plain message for `skip`: not root, no unshare or ip), or false. */
export function loopbackNetnsUnavailable(): string | false {
  if (process.getuid?.() !== 0) return 'not root: unshare --net needs CAP_SYS_ADMIN (CI runs as root)';
  const probe = spawnSync('unshare', ['--net', '--', 'ip', 'link', 'set', 'lo', 'up'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    return `unshare --net / ip link unavailable (util-linux, iproute2): ${probe.error?.message ?? probe.stderr.trim()}`;
  }
  return false;
}

/** The interfaces this process sees; inside the namespace, only `lo`. */
export function interfaceNames(): string[] {
  return Object.keys(networkInterfaces()).sort();
}

/** Inside the namespace: the interfaces are `lo` only (the tests check it before they send anything). */
export function onlyLoopback(): boolean {
  return interfaceNames().every((name) => name === 'lo');
}

/** The environment of the copy: marked, and without the test runner's own marker (node:test would refuse to nest). */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, [MARK]: '1' };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

export interface NetnsRun {
  readonly status: number | null;
  readonly output: string;
  /** The TAP summary's counts (-1 when the run printed none). */
  readonly passed: number;
  readonly failed: number;
}

/** Run `node --test file` in a fresh loopback-only namespace (without blocking this process's event loop). */
export function runInLoopbackNetns(file: string, timeoutMs: number): Promise<NetnsRun> {
  return new Promise((resolve) => {
    execFile(
      'unshare',
      [
        '--net',
        '--',
        'sh',
        '-c',
        'ip link set lo up && exec "$0" --test --test-reporter=tap "$1"',
        process.execPath,
        file,
      ],
      { encoding: 'utf8', timeout: timeoutMs, env: childEnv(), maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const status = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        const output = `${stdout}\n${stderr}${err && status === null ? `\n${err.message}` : ''}`;
        const count = (what: string): number => Number(new RegExp(`^# ${what} (\\d+)$`, 'm').exec(output)?.[1] ?? -1);
        resolve({ status, output, passed: count('pass'), failed: count('fail') });
      },
    );
  });
}
