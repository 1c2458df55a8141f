/** `portcullis serve` as a child process: start it, wait for its ready line, read its log, stop it with a signal. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './cli.ts';
import { readLogLines, waitForLogLine } from './log-file.ts';

const NODE = join(REPO, 'node_modules', '.bin', 'node');
const READY = /^portcullis serve: listening on (\S+) \(HBONE\), admin on (\S+)$/m;

export interface ServeProcess {
  readonly child: ChildProcess;
  /** `host:port` */
  readonly hbone: { readonly host: string; readonly port: number };
  readonly admin: string;
  stdout(): string;
  stderr(): string;
  /** The JSON lines of the access log so far. */
  logLines(): Record<string, unknown>[];
  /** Wait until a log line matches `pred` (the log is written asynchronously). */
  waitForLog(pred: (line: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>>;
  /** GET a path on the admin port. */
  admin_get(path: string): Promise<{ status: number; text: string }>;
  /** Send a signal and resolve with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolve with the exit code once the process exits on its own. */
  exited(): Promise<number | null>;
}

function splitHostPort(text: string): { host: string; port: number } {
  const i = text.lastIndexOf(':');
  return { host: text.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(text.slice(i + 1)) };
}

export async function startServe(
  args: string[],
  logFile: string,
  opts: { onStderr?: (all: string) => void } = {},
): Promise<ServeProcess> {
  const child = spawn(NODE, [join(REPO, 'src', 'cli', 'main.ts'), 'serve', '--log-file', logFile, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let leakReported = false;
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => {
    err += d;
    opts.onStderr?.(err);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const check = (): void => {
      // The ready line is a human line, on stderr (stdout is the JSON access log when no --log-file is given).
      const m = READY.exec(err);
      if (m) {
        child.stderr!.off('data', check);
        resolve(m);
      }
    };
    child.stderr!.on('data', check);
    void exited.then((code) =>
      reject(new Error(`portcullis serve exited ${code} before it was ready:\n${out}\n${err}`)),
    );
  });
  const logLines = (): Record<string, unknown>[] => readLogLines(logFile);
  return {
    child,
    hbone: splitHostPort(match[1]),
    admin: match[2],
    stdout: () => out,
    stderr: () => err,
    logLines,
    async waitForLog(pred, what) {
      try {
        return await waitForLogLine(logFile, pred, what);
      } catch (e) {
        throw new Error(`${(e as Error).message}\nstderr:\n${err}`);
      }
    },
    async admin_get(path) {
      const res = await fetch(`http://${match[2]}${path}`);
      return { status: res.status, text: await res.text() };
    },
    exited: () => exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      // serve exits on its own once everything is closed; its watchdog line means a handle outlived close(). Said
      // once (the test that stopped it fails), so a cleanup stopping it again still runs the other cleanups.
      if (!leakReported && err.includes('a leftover handle held the process')) {
        leakReported = true;
        throw new Error(`serve leaked a handle:\n${err}`);
      }
      return code;
    },
  };
}
