/**
 * `portcullis status --config PATH [--settings FILE] [-o table|json|yaml] [--fail-on error|warning]`: conditions,
 * errors and warnings (policies whose targets do not resolve or that attach to nothing count as warnings).
 * Exit 1 on any error, and on any warning with `--fail-on warning` (as `audit`); 2 on bad input.
 */
import { stringify } from 'yaml';
import { policyWarnings } from '../mesh/config-health.ts';
import { formatStatusTable, statusReport } from '../mesh/status.ts';
import { type FlagTable, HELP_FLAG, type Io, parseFlags } from './args.ts';
import { CONFIG_FLAG, outputFlag, SETTINGS_FLAG } from './common-flags.ts';
import { renderHelp } from './help.ts';
import { loadSnapshot } from './load-snapshot.ts';
import { KUBE_FLAG_ROWS } from './kube-flag-rows.ts';
import { chooseSource, KUBE_USAGE } from '../kube/source-choice.ts';

const USAGE = `portcullis status ${KUBE_USAGE} [--settings FILE] [-o table|json|yaml] [--fail-on error|warning]`;
const SUMMARY = "show every resource's status conditions and every configuration error";

const FLAGS = {
  config: { ...CONFIG_FLAG, defaultText: 'none (required without --kube)' },
  ...KUBE_FLAG_ROWS,
  settings: SETTINGS_FLAG,
  output: outputFlag(
    ['table', 'json', 'yaml'],
    'the report format: a table for people, JSON or YAML for scripts',
    '-o json',
  ),
  'fail-on': {
    type: 'string',
    default: 'error',
    choices: ['error', 'warning'],
    description:
      'the lowest severity that makes the exit code 1 (warnings: unresolved policy targets, unattached policies)',
    example: '--fail-on warning',
  },
  help: HELP_FLAG,
} as const satisfies FlagTable;

export async function run(argv: string[], io: Io): Promise<number> {
  const flags = parseFlags('status', USAGE, argv, FLAGS);
  if (flags.help) {
    io.stdout.write(
      renderHelp('status', SUMMARY, USAGE, FLAGS, 'Exit codes: 0 no errors, 1 a configuration error, 2 bad input.'),
    );
    return 0;
  }
  const output = flags.output;
  const failOn = flags['fail-on'];
  const snap = chooseSource('status', USAGE, flags)
    ? (await (await import('../kube/kube-flags.ts')).kubeSnapshotFromFlags(flags, process.env)).snapshot
    : await loadSnapshot(flags.config!, flags.settings, io);
  const report = statusReport(snap);
  const policies = policyWarnings(snap);
  const warningDiagnostics = snap.diagnostics.filter((d) => d.severity === 'warning');
  const invalidUnresolved = warningDiagnostics.filter((d) => d.code === 'PCL_MESH_INVALID_TARGET_NOT_FOUND').length;
  const unresolved = policies.filter((p) => p.kind === 'unresolved-target').length + invalidUnresolved;
  const unattached = policies.filter((p) => p.kind === 'unattached').length;
  const warningCount = warningDiagnostics.length + policies.length;
  const invalid = snap.invalid;
  if (output === 'json' || output === 'yaml') {
    const full = {
      ...report,
      policyWarnings: policies,
      invalid,
      summary: {
        resources: report.resources.length,
        errors: report.errors.length,
        warnings: warningCount,
        unresolvedTargets: unresolved,
        unattachedPolicies: unattached,
      },
    };
    io.stdout.write(output === 'json' ? JSON.stringify(full, null, 2) + '\n' : stringify(full));
  } else {
    // The table's own last line is its summary; this one replaces it with the policy warnings counted in.
    const table = formatStatusTable(report).replace(/\n[^\n]*\n$/, '\n');
    const lines: string[] = [];
    if (policies.length > 0) {
      lines.push('', 'Policy warnings:');
      for (const p of policies)
        lines.push(`    ${p.file}:${p.line} AuthorizationPolicy ${p.ref} (${p.kind}): ${p.message}`);
    }
    if (invalid.length > 0) {
      lines.push('', 'Fails closed (invalid, no last good version):');
      for (const i of invalid) lines.push(`    ${i.file}:${i.line} ${i.kind} ${i.ref}: ${i.effect}`);
    }
    lines.push(
      '',
      `${report.resources.length} resources, ${report.errors.length} errors, ${warningCount} warnings ` +
        `(${unresolved} unresolved policy targets, ${unattached} unattached policies)`,
    );
    io.stdout.write(table + lines.join('\n') + '\n');
  }
  if (report.errors.length > 0) return 1;
  return failOn === 'warning' && warningCount > 0 ? 1 : 0;
}
