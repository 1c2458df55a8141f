/**
 * `portcullis audit --config DIR [--settings FILE] [-o table|json|sarif] [--fail-on error|warning]`: check seed 000's
 * five fence layers and the egress configuration, and print who may reach what outside.
 * Exit codes: 0 clean (below --fail-on), 1 a finding reaches --fail-on, 2 bad input.
 */
import path from 'node:path';
import { PortcullisError } from '../errors/catalogue.ts';
import { auditReportJson, reachesFailOn, runAudit } from '../audit/audit.ts';
import { formatAuditTable } from '../audit/format-table.ts';
import { toSarif } from '../audit/sarif.ts';
import { type Io, parseFlags } from './args.ts';
import { compareFindings, type Finding } from '../audit/finding.ts';
import { chooseSource, KUBE_FLAGS, KUBE_USAGE, kubeSnapshotFromFlags } from '../kube/kube-flags.ts';
import { loadSnapshot } from './load-snapshot.ts';

const USAGE = `portcullis audit ${KUBE_USAGE} [--settings FILE] [-o table|json|sarif] [--fail-on error|warning]`;
const VERSION = '0.1.0';

export async function run(argv: string[], io: Io): Promise<number> {
  const flags = parseFlags('audit', USAGE, argv, {
    config: { type: 'string' },
    settings: { type: 'string' },
    output: { type: 'string', short: 'o', default: 'table' },
    'fail-on': { type: 'string', default: 'error' },
    help: { type: 'boolean', short: 'h' },
    ...KUBE_FLAGS,
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
  const kube = chooseSource('audit', USAGE, flags);
  const configDir = flags.config ?? '';
  let report;
  if (kube) {
    // A kind the cluster does not serve (Kyverno not installed) is a finding: the layer it would add is absent.
    const { snapshot, missing } = await kubeSnapshotFromFlags(flags, process.env, { audit: true });
    const base = runAudit(snapshot);
    const extra: Finding[] = missing.map((r) => ({
      code: 'PCL_KUBE_CRD_MISSING',
      layer: 'config',
      severity: 'warning',
      resource: { kind: 'CustomResourceDefinition', namespace: '', name: `${r.resource}.${r.group}` },
      message: `the API server does not serve ${r.kind} (${r.group}/${r.version}): no ${r.kind} is considered`,
      fix: `# install the ${r.group} CRDs if you rely on ${r.kind} objects`,
      location: null,
    }));
    report = { ...base, findings: [...base.findings, ...extra].sort(compareFindings) };
  } else report = runAudit(await loadSnapshot(configDir, flags.settings));

  if (output === 'json') io.stdout.write(JSON.stringify(auditReportJson(report), null, 2) + '\n');
  else if (output === 'sarif') {
    // Manifest files are named relative to --config; an explicit --settings file is named as given.
    const uriOf = (file: string): string =>
      (file === flags.settings || kube ? file : path.join(configDir, file)).split(path.sep).join('/');
    io.stdout.write(JSON.stringify(toSarif(report, { toolVersion: VERSION, uriOf }), null, 2) + '\n');
  } else io.stdout.write(formatAuditTable(report));
  return reachesFailOn(report, failOn) ? 1 : 0;
}
