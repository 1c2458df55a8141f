/**
 * `portcullis audit --config PATH [--settings FILE] [-o table|json|sarif] [--fail-on error|warning]`: check seed 000's
 * five fence layers and the egress configuration, and print who may reach what outside.
 * Exit codes: 0 clean (below --fail-on), 1 a finding reaches --fail-on, 2 bad input.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { describe } from '../errors/catalogue.ts';
import { compareFindings, type Finding } from '../audit/finding.ts';
import { auditReportJson, reachesFailOn, runAudit } from '../audit/audit.ts';
import { formatAuditTable } from '../audit/format-table.ts';
import { toSarif } from '../audit/sarif.ts';
import { type FlagTable, HELP_FLAG, type Io, parseFlags } from './args.ts';
import { CONFIG_FLAG, outputFlag, SETTINGS_FLAG } from './common-flags.ts';
import { configBanner } from './config-banner.ts';
import { renderHelp } from './help.ts';
import { KUBE_FLAG_ROWS } from './kube-flag-rows.ts';
import { chooseSource, KUBE_USAGE } from '../kube/source-choice.ts';
import { loadSnapshot } from './load-snapshot.ts';
import { VERSION } from './version.ts';

const USAGE = `portcullis audit ${KUBE_USAGE} [--settings FILE] [-o table|json|sarif] [--fail-on error|warning]`;
const SUMMARY = 'audit the five-layer egress fence and print who can reach what outside';

const FLAGS = {
  config: { ...CONFIG_FLAG, defaultText: 'none (required without --kube)' },
  ...KUBE_FLAG_ROWS,
  settings: SETTINGS_FLAG,
  output: outputFlag(
    ['table', 'json', 'sarif'],
    'the report format: a table, JSON, or SARIF 2.1.0 for code-scanning tools',
    '-o sarif',
  ),
  'fail-on': {
    type: 'string',
    default: 'error',
    choices: ['error', 'warning'],
    description: 'the lowest finding severity that makes the exit code 1',
    example: '--fail-on warning',
  },
  help: HELP_FLAG,
} as const satisfies FlagTable;

export async function run(argv: string[], io: Io): Promise<number> {
  const flags = parseFlags('audit', USAGE, argv, FLAGS);
  if (flags.help) {
    io.stdout.write(
      renderHelp(
        'audit',
        SUMMARY,
        USAGE,
        FLAGS,
        'Exit codes: 0 clean (below --fail-on), 1 a finding reaches --fail-on, 2 bad input.',
      ),
    );
    return 0;
  }
  const output = flags.output;
  const kube = chooseSource('audit', USAGE, flags);
  const config = flags.config ?? '';
  const loaded = kube
    ? await (await import('../kube/kube-flags.ts')).kubeSnapshotFromFlags(flags, process.env, { audit: true })
    : null;
  const snap = loaded !== null ? loaded.snapshot : await loadSnapshot(config, flags.settings, io);
  const audited = runAudit(snap);
  // A kind the cluster does not serve (Kyverno not installed) is a finding: the layer it would add is absent.
  const missingKinds: Finding[] = (loaded?.missing ?? []).map((r) => ({
    code: 'PCL_KUBE_CRD_MISSING',
    layer: 'config',
    severity: 'warning',
    resource: { kind: 'CustomResourceDefinition', namespace: '', name: `${r.resource}.${r.group}` },
    message: `the API server does not serve ${r.kind} (${r.group}/${r.version}): no ${r.kind} is considered`,
    fix: `# install the ${r.group} CRDs if you rely on ${r.kind} objects`,
    location: null,
  }));
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
  const report = {
    ...audited,
    findings: [...audited.findings, ...missingKinds, ...targetNotFound].sort(compareFindings),
  };
  // The banner: how many errors, and which invalid resources fail closed (and so shape the reachability table).
  const banner = configBanner(
    snap.diagnostics.filter((d) => d.severity === 'error').length,
    snap.invalid.filter((i) => i.active),
  )
    .map((l) => `${l}\n`)
    .join('');

  // Machine-readable output stays exactly its format on stdout; the banner goes to stderr there.
  if (output === 'table') io.stdout.write(banner);
  else io.stderr.write(banner);
  if (output === 'json') io.stdout.write(JSON.stringify(auditReportJson(report), null, 2) + '\n');
  else if (output === 'sarif') {
    // Manifest files are named relative to the --config folder (or, for one file, its folder); an explicit
    // --settings file is named as given; objects read from the API are named as Kind namespace/name.
    const root = kube ? '' : statSync(config).isFile() ? path.dirname(config) : config;
    const uriOf = (file: string): string =>
      (file === flags.settings || kube ? file : path.join(root, file)).split(path.sep).join('/');
    const fallbackUri = kube ? 'kubernetes-api' : config.split(path.sep).join('/');
    io.stdout.write(JSON.stringify(toSarif(report, { toolVersion: VERSION, uriOf, fallbackUri }), null, 2) + '\n');
  } else io.stdout.write(formatAuditTable(report));
  return reachesFailOn(report, flags['fail-on'] as 'error' | 'warning') ? 1 : 0;
}
