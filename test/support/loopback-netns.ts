/**
 * Run a test file again inside a new network namespace that holds only `lo` (`unshare --net`, root only), so a test
 * that feeds the gateway a non-loopback address (the metadata address, a VIP) can never send a packet off the
 * machine, whatever a regression makes the gateway dial.
 */
import { execFile, spawnSync } from 'node:child_process';
import { networkInterfaces } from 'node:os';

const ENV = 'PCL_LOOPBACK_NETNS';

/** True in the copy of a test file running inside the namespace. */
export const IN_LOOPBACK_NETNS = process.env[ENV] === '1';

/** Why a namespace cannot be made here (not root, no unshare or ip), or false when it can. */
export function netnsUnavailable(): string | false {
  if (process.getuid?.() !== 0) return 'not root: unshare --net needs CAP_SYS_ADMIN';
  const probe = spawnSync('unshare', ['--net', '--', 'ip', 'link', 'set', 'lo', 'up'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) return `unshare --net / ip link unavailable: ${probe.error?.message ?? probe.stderr.trim()}`;
  return false;
}

/** Inside the namespace: the interfaces are `lo` only (the tests check it before they send anything). */
export function onlyLoopback(): boolean {
  return Object.keys(networkInterfaces()).every((name) => name === 'lo');
}

/** The environment of the copy: marked, and without the test runner's own marker (node:test would refuse to nest). */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, [ENV]: '1' };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

/** Run `node --test file` in a fresh loopback-only namespace; resolves with its exit status and output. */
export function runInLoopbackNetns(file: string, timeoutMs: number): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(
      'unshare',
      ['--net', '--', 'sh', '-c', 'ip link set lo up && exec "$0" --test --test-reporter=tap "$1"', process.execPath, file],
      { encoding: 'utf8', timeout: timeoutMs, env: childEnv(), maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const status = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        resolve({ status, output: `${stdout}\n${stderr}${err && status === null ? `\n${err.message}` : ''}` });
      },
    );
  });
}
