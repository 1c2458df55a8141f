#!/usr/bin/env node
// Entry point for the `portcullis` command. Portcullis runs its TypeScript sources directly on Node >= 26
// (type stripping). When started by an older system Node, re-run this file under the Node 26 that `npm ci` pinned
// in node_modules, so the command works the same from npm scripts, `npx portcullis`, `npm link` and a plain shell.
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const major = Number(process.versions.node.split('.')[0]);

if (major >= 26) {
  // Before the first TypeScript module is loaded, so the whole command comes from the compile cache (kept in a
  // folder only this user can write: src/cli/private-compile-cache.js says why).
  const { enablePrivateCompileCache } = await import(
    pathToFileURL(join(root, 'src', 'cli', 'private-compile-cache.js')).href
  );
  enablePrivateCompileCache();
  const cli = await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
  await cli.runAsProcess();
} else {
  // Loaded here only: the Node 26 path above never needs them (every module costs start-up time).
  const { spawn } = await import('node:child_process');
  const { existsSync } = await import('node:fs');
  const pinned = join(root, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(pinned)) {
    process.stderr.write(
      `portcullis: Node ${process.versions.node} is too old (need >= 26) and the pinned Node 26 is not installed.\n` +
        `Run 'npm ci' in ${root} first.\n`,
    );
    process.exit(2);
  }
  // A launcher that asked to be watched (PORTCULLIS_PARENT_PID, see src/cli/parent-watch.ts) is our parent, not the
  // child's: we watch it, and the child watches us.
  const env = { ...process.env };
  const launcher = Number(env.PORTCULLIS_PARENT_PID);
  if (launcher > 1) env.PORTCULLIS_PARENT_PID = String(process.pid);
  const child = spawn(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit', env });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  if (launcher > 1) setInterval(() => process.ppid === launcher || child.kill('SIGTERM'), 500).unref();
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
