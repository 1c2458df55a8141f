/** Run the portcullis CLI in-process (fast) or as a child process (proves the real entry point), capturing output. */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';

export const REPO = join(import.meta.dirname, '..', '..');
export const EXAMPLES = join(REPO, 'examples');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  });
  return { code, stdout, stderr };
}

/** Run `bin/portcullis.mjs` with the system's `node` (whatever version) to prove the entry point works. */
export function runBin(argv: string[], nodeBinary = process.execPath): Promise<CliResult> {
  return runNode([join(REPO, 'bin', 'portcullis.mjs'), ...argv], { nodeBinary });
}

/** Run `node` (this test's, unless `nodeBinary`) with `args`, optionally with extra environment, capturing output. */
export function runNode(
  args: string[],
  opts: { nodeBinary?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(opts.nodeBinary ?? process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/**
 * A temp config folder made from example files: `files` picks files of examples/<dir> by name (all when omitted),
 * `extra` adds or replaces files by name. Returns the folder and a cleanup function.
 */
export function configFrom(
  dir: string,
  opts: { files?: string[]; extra?: Record<string, string> } = {},
): { dir: string; cleanup(): void } {
  const out = mkdtempSync(join(tmpdir(), 'portcullis-cfg-'));
  const src = join(EXAMPLES, dir);
  for (const f of readdirSync(src)) {
    if (opts.files && !opts.files.includes(f)) continue;
    cpSync(join(src, f), join(out, f));
  }
  for (const [name, text] of Object.entries(opts.extra ?? {})) writeFileSync(join(out, name), text);
  return { dir: out, cleanup: () => rmSync(out, { recursive: true, force: true }) };
}
