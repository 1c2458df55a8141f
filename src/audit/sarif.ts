/**
 * The audit report as SARIF 2.1.0 for code-scanning tools: one rule per finding code (text from the error
 * catalogue), one result per finding, located at the manifest line of the resource when it has one.
 */
import { CATALOGUE, type ErrorCode } from '../errors/catalogue.ts';
import type { AuditReport } from './audit.ts';
import type { Finding } from './finding.ts';

const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';
const LEVEL: Readonly<Record<Finding['severity'], 'error' | 'warning' | 'note'>> = {
  error: 'error',
  warning: 'warning',
  info: 'note',
};

export interface SarifOptions {
  readonly toolVersion: string;
  /** Turn a finding's file (as the loader names it) into the URI the scanning tool should show. */
  readonly uriOf: (file: string) => string;
  /** Where a finding with no place of its own is shown (the --config path): SARIF viewers need a physical location. */
  readonly fallbackUri?: string;
}

function ruleFor(code: ErrorCode, severity: Finding['severity']): unknown {
  const info = CATALOGUE[code];
  return {
    id: code,
    name: code,
    shortDescription: { text: info.summary },
    fullDescription: { text: info.summary },
    help: { text: info.fix },
    defaultConfiguration: { level: LEVEL[severity] },
  };
}

function resourceName(f: Finding): string {
  const r = f.resource;
  return [r.kind, r.namespace, r.name].filter((x) => x !== '').join('/');
}

export function toSarif(report: AuditReport, opts: SarifOptions): unknown {
  const ruleIndex = new Map<string, number>();
  const rules: unknown[] = [];
  for (const f of report.findings) {
    if (ruleIndex.has(f.code)) continue;
    ruleIndex.set(f.code, rules.length);
    rules.push(ruleFor(f.code, f.severity));
  }
  const results = report.findings.map((f) => {
    const logical = [{ fullyQualifiedName: resourceName(f), kind: 'resource' }];
    const location: Record<string, unknown> = { logicalLocations: logical };
    if (f.location !== null && f.location.file !== '') {
      location.physicalLocation = {
        artifactLocation: { uri: opts.uriOf(f.location.file) },
        ...(f.location.line > 0
          ? { region: { startLine: f.location.line, startColumn: Math.max(1, f.location.column) } }
          : {}),
      };
    } else if (opts.fallbackUri !== undefined) {
      location.physicalLocation = { artifactLocation: { uri: opts.fallbackUri } };
    }
    return {
      ruleId: f.code,
      ruleIndex: ruleIndex.get(f.code),
      level: LEVEL[f.severity],
      message: { text: f.message },
      locations: [location],
      properties: { layer: f.layer, resource: f.resource, fix: f.fix },
    };
  });
  return {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'portcullis', version: opts.toolVersion, rules } },
        results,
        properties: { reachability: report.reachability },
      },
    ],
  };
}
