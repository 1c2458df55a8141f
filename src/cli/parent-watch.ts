/**
 * Stop with the process that started us. A launcher (the quickstart) sets PORTCULLIS_PARENT_PID to its own pid; when
 * that process is gone, even by SIGKILL, we are re-parented, and we stop as on SIGTERM (draining as usual). Linux's
 * PR_SET_PDEATHSIG would do this in the kernel, but Node does not expose it. The variable is removed from our
 * environment at once, so serve's cluster workers (whose parent is serve) do not inherit it.
 */
export const PARENT_PID_ENV = 'PORTCULLIS_PARENT_PID';

export function watchParent(env: Record<string, string | undefined>, intervalMs = 500): void {
  const expected = Number(env[PARENT_PID_ENV]);
  delete env[PARENT_PID_ENV];
  if (!Number.isInteger(expected) || expected <= 1) return;
  const timer = setInterval(() => {
    if (process.ppid === expected) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  }, intervalMs);
  timer.unref();
}
