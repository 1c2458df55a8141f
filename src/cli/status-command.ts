/** `portcullis status --config PATH [--settings FILE] [-o table|json|yaml]`: conditions and errors; exit 1 on any error. */
import { stringify } from 'yaml';
import { formatStatusTable, statusReport } from '../mesh/status.ts';
import { type FlagTable, HELP_FLAG, type Io, parseFlags, required } from './args.ts';
import { CONFIG_FLAG, outputFlag, SETTINGS_FLAG } from './common-flags.ts';
import { renderHelp } from './help.ts';
import { loadSnapshot } from './load-snapshot.ts';

const USAGE = 'portcullis status --config PATH [--settings FILE] [-o table|json|yaml]';
const SUMMARY = "show every resource's status conditions and every configuration error";

export const FLAGS = {
  config: CONFIG_FLAG,
  settings: SETTINGS_FLAG,
  output: outputFlag(['table', 'json', 'yaml'], 'the report format: a table for people, JSON or YAML for scripts', '-o json'),
  help: HELP_FLAG,
} as const satisfies FlagTable;

export async function run(argv: string[], io: Io): Promise<number> {
  const flags = parseFlags('status', USAGE, argv, FLAGS);
  if (flags.help) {
    io.stdout.write(renderHelp('status', SUMMARY, USAGE, FLAGS, 'Exit codes: 0 no errors, 1 a configuration error, 2 bad input.'));
    return 0;
  }
  const snap = await loadSnapshot(required('status', USAGE, 'config', flags.config), flags.settings, io);
  const report = statusReport(snap);
  if (flags.output === 'json') io.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else if (flags.output === 'yaml') io.stdout.write(stringify(report));
  else io.stdout.write(formatStatusTable(report));
  return report.errors.length > 0 ? 1 : 0;
}
