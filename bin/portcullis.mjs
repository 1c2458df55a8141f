#!/usr/bin/env node
// Entry point for the `portcullis` command. Portcullis runs its TypeScript sources directly on Node >= 26
// (type stripping). When started by an older system Node, re-run under the Node 26 that `npm ci` pinned
// in node_modules, so the command works the same from npm scripts, `npx portcullis` and a plain shell.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'src', 'cli', 'main.ts');
const major = Number(process.versions.node.split('.')[0]);

if (major >= 26) {
  const cli = await import(pathToFileURL(main).href);
  process.exitCode = await cli.main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
} else {
  const pinned = join(root, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(pinned)) {
    process.stderr.write(
      `portcullis: Node ${process.versions.node} is too old (need >= 26) and the pinned Node 26 is not installed.\n` +
        `Run 'npm ci' in ${root} first.\n`,
    );
    process.exit(2);
  }
  const child = spawn(pinned, [main, ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
