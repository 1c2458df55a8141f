/** `portcullis status --config DIR [--settings FILE] [-o table|json|yaml]`: conditions and errors; exit 1 on any error. */
import { stringify } from 'yaml';
import { PortcullisError } from '../errors/catalogue.ts';
import { formatStatusTable, statusReport } from '../mesh/status.ts';
import { type Io, parseFlags } from './args.ts';
import { chooseSource, KUBE_FLAGS, KUBE_USAGE, kubeSnapshotFromFlags } from '../kube/kube-flags.ts';
import { loadSnapshot } from './load-snapshot.ts';

const USAGE = `portcullis status ${KUBE_USAGE} [--settings FILE] [-o table|json|yaml]`;

export async function run(argv: string[], io: Io): Promise<number> {
  const flags = parseFlags('status', USAGE, argv, {
    config: { type: 'string' },
    settings: { type: 'string' },
    output: { type: 'string', short: 'o', default: 'table' },
    help: { type: 'boolean', short: 'h' },
    ...KUBE_FLAGS,
  });
  if (flags.help) {
    io.stdout.write(`Usage: ${USAGE}\n`);
    return 0;
  }
  const output = flags.output ?? 'table';
  if (!['table', 'json', 'yaml'].includes(output)) {
    throw new PortcullisError('PCL_CLI_BAD_VALUE', `portcullis status: -o must be table, json or yaml (got "${output}")`);
  }
  const snap = chooseSource('status', USAGE, flags)
    ? (await kubeSnapshotFromFlags(flags, process.env)).snapshot
    : await loadSnapshot(flags.config!, flags.settings);
  const report = statusReport(snap);
  if (output === 'json') io.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else if (output === 'yaml') io.stdout.write(stringify(report));
  else io.stdout.write(formatStatusTable(report));
  return report.errors.length > 0 ? 1 : 0;
}
