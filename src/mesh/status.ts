/** The status report `portcullis status` prints: every resource with its conditions, then every diagnostic. */
import type { Diagnostic } from '../config/types.ts';
import type { Condition } from './conditions.ts';
import type { Snapshot } from './snapshot.ts';

export interface StatusResource {
  kind: string;
  apiVersion: string;
  namespace: string;
  name: string;
  source: string;
  conditions: Condition[];
  addresses?: { value: string; host?: string; type?: string }[];
  listeners?: { name: string; conditions: Condition[] }[];
}

export interface StatusDiagnostic {
  code: string;
  file: string;
  line: number;
  column: number;
  kind: string | null;
  namespace: string | null;
  name: string | null;
  path: string | null;
  message: string;
}

export interface StatusReport {
  resources: StatusResource[];
  errors: StatusDiagnostic[];
  warnings: StatusDiagnostic[];
  ignored: { kind: string; apiVersion: string; namespace: string; name: string; source: string }[];
}

function toStatusDiagnostic(d: Diagnostic): StatusDiagnostic {
  return {
    code: d.code,
    file: d.file,
    line: d.line,
    column: d.column,
    kind: d.kind ?? null,
    namespace: d.namespace ?? null,
    name: d.name ?? null,
    path: d.path ?? null,
    message: d.message,
  };
}

export function statusReport(snap: Snapshot): StatusReport {
  const resources: StatusResource[] = [];
  for (const r of snap.load.resources) {
    const entry: StatusResource = {
      kind: r.kind,
      apiVersion: r.apiVersion,
      namespace: r.metadata.namespace,
      name: r.metadata.name,
      // An object read from the Kubernetes API has no line: its name is the place.
      source: r.source.line > 0 ? `${r.source.file}:${r.source.line}` : r.source.file,
      conditions: [...(snap.conditions.get(r.key) ?? [])],
    };
    if (r.kind === 'ServiceEntry') {
      const se = snap.serviceEntries.get(r.key);
      if (se && se.vips.length > 0) entry.addresses = se.vips.map((v) => ({ value: v.value, host: v.host }));
    }
    if (r.kind === 'Gateway') {
      const gw = snap.gateways.get(r.key);
      if (gw?.mode && gw.ready) entry.addresses = [{ type: 'Hostname', value: gw.serviceHost }];
      if (gw?.mode) {
        entry.listeners = gw.resource.spec.listeners.map((l) => ({
          name: l.name,
          conditions: [...(snap.conditions.get(`${r.key}#listener/${l.name}`) ?? [])],
        }));
      }
    }
    resources.push(entry);
  }
  return {
    resources,
    errors: snap.diagnostics.filter((d) => d.severity === 'error').map(toStatusDiagnostic),
    warnings: snap.diagnostics.filter((d) => d.severity !== 'error').map(toStatusDiagnostic),
    ignored: snap.load.ignored.map((i) => ({
      kind: i.kind,
      apiVersion: i.apiVersion,
      namespace: i.namespace,
      name: i.name,
      source: `${i.source.file}:${i.source.line}`,
    })),
  };
}

/** A human table: one block per resource, conditions indented, then diagnostics as `file:line:col CODE message`. */
export function formatStatusTable(report: StatusReport): string {
  const lines: string[] = [];
  for (const r of report.resources) {
    const id = r.namespace ? `${r.namespace}/${r.name}` : r.name;
    lines.push(`${r.kind} ${id}  (${r.source})`);
    for (const c of r.conditions) lines.push(`    ${c.type}=${c.status}  ${c.reason}: ${c.message}`);
    for (const l of r.listeners ?? [])
      for (const c of l.conditions)
        lines.push(`    listener ${l.name}: ${c.type}=${c.status}  ${c.reason}: ${c.message}`);
    for (const a of r.addresses ?? []) lines.push(`    address ${a.value}${a.host ? `  (${a.host})` : ''}`);
  }
  if (report.ignored.length > 0) {
    lines.push('', 'Ignored (kinds Portcullis does not act on):');
    for (const i of report.ignored)
      lines.push(`    ${i.kind} ${i.namespace ? i.namespace + '/' : ''}${i.name}  (${i.source})`);
  }
  const diag = (label: string, list: StatusDiagnostic[]) => {
    if (list.length === 0) return;
    lines.push('', `${label}:`);
    for (const d of list) {
      const who = d.kind && d.line > 0 ? ` ${d.kind} ${d.namespace ? d.namespace + '/' : ''}${d.name ?? ''}` : '';
      const where = d.line > 0 ? `${d.file}:${d.line}:${d.column}` : d.file;
      lines.push(`    ${where} ${d.code}${who}${d.path ? ` ${d.path}` : ''}: ${d.message}`);
    }
  };
  diag('Errors', report.errors);
  diag('Warnings', report.warnings);
  lines.push(
    '',
    `${report.resources.length} resources, ${report.errors.length} errors, ${report.warnings.length} warnings`,
  );
  return lines.join('\n') + '\n';
}
