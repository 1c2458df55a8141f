/** `portcullis`: dispatch to one command. Each command module exports `run(argv, io) => Promise<exit code>`. */
import { PortcullisError, describe } from '../errors/catalogue.ts';
import type { Io } from './args.ts';

const HELP = `portcullis: identity-based egress control for Istio ambient meshes

Usage: portcullis <command> [flags]

Commands:
  serve    run the HBONE egress gateway (control plane, data plane, admin port)
  agent    carry a workload's outbound traffic to the gateway over HBONE with its SPIFFE certificate
  check    explain the allow/deny decision for one connection (or run a file of policy test cases)
  status   show every resource's status conditions and every configuration error
  audit    audit the five-layer egress fence and print who can reach what outside
  ca       run a development CA: 'ca init' and 'ca issue'
  suggest  write the policy that allows exactly the observed egress (from access logs or a running gateway)

Run 'portcullis <command> --help' for a command's flags.
`;

type Command = (argv: string[], io: Io) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  status: async () => (await import('./status-command.ts')).run,
  check: async () => (await import('./check-command.ts')).run,
  ca: async () => (await import('../identity/ca-cli.ts')).runCaCommand,
  serve: async () => (await import('./serve-command.ts')).run,
  agent: async () => (await import('./agent-command.ts')).run,
  audit: async () => (await import('./audit-command.ts')).run,
  suggest: async () => (await import('./suggest-command.ts')).run,
};

export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(HELP);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === 'version') {
    io.stdout.write('portcullis 0.1.0\n');
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    io.stderr.write(`portcullis: unknown command "${name}"\n\n${HELP}`);
    return 2;
  }
  try {
    const command = await load();
    return await command(rest, io);
  } catch (err) {
    if (err instanceof PortcullisError) {
      io.stderr.write(`${err.message}\n`);
      const info = describe(err.code);
      if (err.code !== 'PCL_CLI_USAGE') io.stderr.write(`[${err.code}] ${info.fix}\n`);
      return 2;
    }
    io.stderr.write(`portcullis ${name}: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
  // Long-running commands (serve, agent) return only when they stop.
  process.exitCode = code;
}
