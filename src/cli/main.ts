/** `portcullis`: dispatch to one command, loading only that command's modules. Each exports `run(argv, io)`. */
import type { Io } from './args.ts';
import { enablePrivateCompileCache } from './private-compile-cache.js';
import { watchParent } from './parent-watch.ts';
import { renderDiagnostic } from './render-diagnostic.ts';

type Command = (argv: string[], io: Io) => Promise<number>;

/** Every command: its one-line summary, and how to load it (a dynamic import, so `check` never loads the data plane). */
export const COMMANDS: Record<
  string,
  { readonly summary: string; readonly subcommands?: readonly string[]; load(): Promise<Command> }
> = {
  serve: {
    summary: 'run the HBONE egress gateway (control plane, data plane, admin port)',
    load: async () => (await import('./serve-command.ts')).run,
  },
  agent: {
    summary: "carry a workload's outbound traffic to the gateway over HBONE with its SPIFFE certificate",
    load: async () => (await import('./agent-command.ts')).run,
  },
  check: {
    summary: 'explain the allow/deny decision for one connection (or run a file of policy test cases)',
    load: async () => (await import('./check-command.ts')).run,
  },
  status: {
    summary: "show every resource's status conditions and every configuration error",
    load: async () => (await import('./status-command.ts')).run,
  },
  audit: {
    summary: 'audit the five-layer egress fence and print who can reach what outside',
    load: async () => (await import('./audit-command.ts')).run,
  },
  suggest: {
    summary: 'write the policy that allows exactly the observed egress (from access logs or a running gateway)',
    load: async () => (await import('./suggest-command.ts')).run,
  },
  install: {
    summary: 'print the manifests that run a gateway in a cluster (kubectl apply -f -)',
    load: async () => (await import('./install-command.ts')).run,
  },
  ca: {
    summary: "run a development CA: 'ca init' and 'ca issue'",
    subcommands: ['init', 'issue'],
    load: async () => (await import('./ca-command.ts')).run,
  },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length)) + 2;
  return `portcullis: identity-based egress control for Istio ambient meshes

Usage: portcullis <command> [flags]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(width)} ${c.summary}`)
  .join('\n')}

Run 'portcullis <command> --help' for a command's flags, each with its default and an example.
`;
}

export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(help());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === 'version') {
    io.stdout.write(`portcullis ${(await import('./version.ts')).VERSION}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    const { didYouMean } = await import('../config/did-you-mean.ts');
    const guess = didYouMean(name, Object.keys(COMMANDS));
    const hint = `${guess ? `did you mean 'portcullis ${guess}'? ` : ''}commands: ${Object.keys(COMMANDS).join(', ')}`;
    io.stderr.write(
      `${renderDiagnostic('error', 'PCL_CLI_USAGE', `unknown command "${name}"`, name, hint)}\n${help()}`,
    );
    return 2;
  }
  try {
    return await (await command.load())(rest, io);
  } catch (err) {
    const sub = command.subcommands?.includes(rest[0] ?? '') ? `${name} ${rest[0]}` : name;
    // Loaded only on failure: the error catalogue's tables are start-up time a successful command never needs.
    const rendered = (await import('./render-error.ts')).renderError(err, sub);
    io.stderr.write(rendered.text);
    return rendered.exitCode;
  }
}

/** Run as the `portcullis` process (bin/portcullis.mjs, or `node src/cli/main.ts`): argv, real stdio, exit code. */
export async function runAsProcess(): Promise<void> {
  // Cache compiled code (TypeScript stripped, V8 bytecode) across runs, in a folder only this user can write: it
  // roughly halves a short command's start-up. The commands are imported dynamically, after this call, so they are
  // what the cache holds. (Through bin/portcullis.mjs it is already enabled; this covers `node src/cli/main.ts`.)
  enablePrivateCompileCache();
  watchParent(process.env);
  const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
  // Long-running commands (serve, agent) return only when they stop. A failure exits at once: a half-started
  // gateway's watchers, a cluster worker's IPC channel or its workers must not keep a failed command alive.
  // (stderr and stdout are synchronous for files and pipes on Linux, so what was written is out.)
  if (code !== 0) process.exit(code);
  process.exitCode = code;
}

if (import.meta.main) await runAsProcess();
