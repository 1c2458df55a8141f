/**
 * The commands README.md shows, read from the README itself so a test runs them exactly as written: each command line
 * of a ```sh block, with the `# ...` lines under it as the output it promises (each must appear, in order).
 * ```sh blocks are the walkthrough, runnable on this machine; the cluster's commands ("Run it in a cluster") are in
 * ```bash blocks, which need a cluster and are not run here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './cli.ts';

export interface ReadmeCommand {
  /** The command as written, without a trailing `# comment`. */
  readonly command: string;
  /** The promised output lines (the `# ` lines right under the command), trimmed. */
  readonly expected: readonly string[];
  /** The README section (its `**N. ...**` step or `## heading`) the command is in, for messages. */
  readonly where: string;
}

/** Every command line in the README's ```sh blocks whose first word is in `programs`. */
export function readmeCommands(programs: readonly string[]): ReadmeCommand[] {
  const lines = readFileSync(join(REPO, 'README.md'), 'utf8').split('\n');
  const out: { command: string; expected: string[]; where: string }[] = [];
  let inBlock = false;
  let where = '';
  let current: { command: string; expected: string[]; where: string } | null = null;
  for (const [i, line] of lines.entries()) {
    if (/^```sh\s*$/.test(line)) {
      inBlock = true;
      continue;
    }
    if (inBlock && /^```\s*$/.test(line)) {
      inBlock = false;
      current = null;
      continue;
    }
    if (!inBlock) {
      const step = /^(\*\*\d+\.[^*]*\*\*|## .*)/.exec(line);
      if (step) where = step[1];
      continue;
    }
    if (line.startsWith('#')) {
      if (current) current.expected.push(line.replace(/^#\s?/, '').trim());
      continue;
    }
    // A command ends where two or more spaces start a `#` comment.
    const command = line.replace(/\s{2,}#.*$/, '').trim();
    if (command === '' || !programs.includes(command.split(' ')[0])) {
      current = null;
      continue;
    }
    current = { command, expected: [], where: `README.md:${i + 1} (${where})` };
    out.push(current);
  }
  return out;
}

/** The promised lines missing from `output`, in order: each must occur in a later line than the one before. */
export function missingLines(output: string, expected: readonly string[]): string[] {
  const lines = output.split('\n').map((l) => l.trim());
  const missing: string[] = [];
  let from = 0;
  for (const e of expected) {
    const at = lines.findIndex((l, i) => i >= from && l.includes(e));
    if (at < 0) missing.push(e);
    else from = at + 1;
  }
  return missing;
}
