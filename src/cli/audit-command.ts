/**
 * `portcullis audit --config DIR [--settings FILE] [-o table|json|sarif] [--fail-on error|warning]`: check seed 000's
 * five fence layers and the egress configuration, and print who may reach what outside.
 * Exit codes: 0 clean (below --fail-on), 1 a finding reaches --fail-on, 2 bad input.
 */
import path from 'node:path';
import { PortcullisError, describe } from '../errors/catalogue.ts';
import { compareFindings, type Finding } from '../audit/finding.ts';
import { auditReportJson, reachesFailOn, runAudit } from '../audit/audit.ts';
import { formatAuditTable } from '../audit/format-table.ts';
import { toSarif } from '../audit/sarif.ts';
import { type Io, parseFlags, required } from './args.ts';
import { configBanner } from './config-banner.ts';
import { loadSnapshot } from './load-snapshot.ts';

const USAGE = 'portcullis audit --config DIR [--settings FILE] [-o table|json|sarif] [--fail-on error|warning]';
const VERSION = '0.1.0';

export async function run(argv: string[], io: Io): Promise<number> {
  const flags = parseFlags('audit', USAGE, argv, {
    config: { type: 'string' },
    settings: { type: 'string' },
    output: { type: 'string', short: 'o', default: 'table' },
    'fail-on': { type: 'string', default: 'error' },
    help: { type: 'boolean', short: 'h' },
  });
  if (flags.help) {
    io.stdout.write(`Usage: ${USAGE}\n`);
    return 0;
  }
  const output = flags.output ?? 'table';
  if (!['table', 'json', 'sarif'].includes(output)) {
    throw new PortcullisError('PCL_CLI_BAD_VALUE', `portcullis audit: -o must be table, json or sarif (got "${output}")`);
  }
  const failOn = flags['fail-on'] ?? 'error';
  if (failOn !== 'error' && failOn !== 'warning') {
    throw new PortcullisError('PCL_CLI_BAD_VALUE', `portcullis audit: --fail-on must be error or warning (got "${failOn}")`);
  }
  const configDir = required('audit', USAGE, 'config', flags.config);
  const snap = await loadSnapshot(configDir, flags.settings);
  const audited = runAudit(snap);
  // An invalid policy whose targets do not exist denies nothing yet: a warning (TargetNotFound), as in `status`.
  const targetNotFound: Finding[] = snap.diagnostics
    .filter((d) => d.code === 'PCL_MESH_INVALID_TARGET_NOT_FOUND')
    .map((d) => ({
      code: d.code,
      layer: 'config',
      severity: 'warning',
      resource: { kind: d.kind ?? 'AuthorizationPolicy', namespace: d.namespace ?? '', name: d.name ?? '' },
      message: `${d.file}:${d.line}:${d.column}: ${d.message}`,
      fix: `# ${describe(d.code).fix}`,
      location: { file: d.file, line: d.line, column: d.column },
    }));
  const report = { ...audited, findings: [...audited.findings, ...targetNotFound].sort(compareFindings) };
  // The banner: how many errors, and which invalid resources fail closed (and so shape the reachability table).
  const banner = configBanner(
    snap.diagnostics.filter((d) => d.severity === 'error').length,
    snap.invalid.filter((i) => i.active),
  ).map((l) => `${l}\n`).join('');

  // Machine-readable output stays exactly its format on stdout; the banner goes to stderr there.
  if (output === 'table') io.stdout.write(banner);
  else io.stderr.write(banner);
  if (output === 'json') io.stdout.write(JSON.stringify(auditReportJson(report), null, 2) + '\n');
  else if (output === 'sarif') {
    // Manifest files are named relative to --config; an explicit --settings file is named as given.
    const uriOf = (file: string): string =>
      (file === flags.settings ? file : path.join(configDir, file)).split(path.sep).join('/');
    io.stdout.write(JSON.stringify(toSarif(report, { toolVersion: VERSION, uriOf }), null, 2) + '\n');
  } else io.stdout.write(formatAuditTable(report));
  return reachesFailOn(report, failOn) ? 1 : 0;
}
