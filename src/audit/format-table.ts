/** The audit report for people: findings grouped by layer with their fix, then the reachability table. */
import type { AuditReport } from './audit.ts';
import type { AuditLayer, Finding } from './finding.ts';

const LAYER_NAMES: Readonly<Record<string, string>> = {
  1: 'layer 1 capture',
  2: 'layer 2 NetworkPolicy fence',
  3: 'layer 3 unknown destinations',
  4: 'layer 4 hostNetwork',
  5: 'layer 5 perimeter',
  config: 'configuration',
};

function layerName(l: AuditLayer): string {
  return LAYER_NAMES[String(l)];
}

function resourceText(f: Finding): string {
  const r = f.resource;
  return `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;
}

function indent(text: string, by: string): string {
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => by + l)
    .join('\n');
}

export function formatAuditTable(report: AuditReport): string {
  const count = (s: Finding['severity']) => report.findings.filter((f) => f.severity === s).length;
  const lines: string[] = [];
  lines.push(`portcullis audit: ${count('error')} error(s), ${count('warning')} warning(s), ${count('info')} info`);
  let layer: string | null = null;
  for (const f of report.findings) {
    const name = layerName(f.layer);
    if (name !== layer) {
      lines.push('', `== ${name} ==`);
      layer = name;
    }
    const where = f.location?.file ? `  (${f.location.file}${f.location.line > 0 ? `:${f.location.line}` : ''})` : '';
    lines.push(`${f.severity.toUpperCase().padEnd(7)} ${f.code}  ${resourceText(f)}${where}`);
    lines.push(indent(f.message, '  '));
    lines.push('  fix:');
    lines.push(indent(f.fix, '    '));
  }
  if (report.findings.length === 0)
    lines.push('', 'All five layers hold and the egress configuration has no problems.');

  lines.push('', '== reachability: who may reach what outside (through the egress gateway) ==');
  const rows = report.reachability.map((r) => [
    r.identity,
    r.destinations.length === 0 ? '(nothing)' : r.destinations.map((d) => `${d.host}:${d.port}`).join(', '),
    r.bypass.length === 0 ? 'no' : `yes: layer ${r.bypass.join(', ')} open`,
  ]);
  const header = ['IDENTITY', 'DESTINATIONS', 'CAN BYPASS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (cols: string[]) => cols.map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  lines.push(fmt(header));
  for (const r of rows) lines.push(fmt(r));
  if (rows.length === 0) lines.push('(no workload identities: no Pods or pod templates in workload namespaces)');
  return lines.join('\n') + '\n';
}
