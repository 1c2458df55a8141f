/**
 * `portcullis audit`'s pure core: check seed 000's five fence layers and the egress configuration on one snapshot,
 * and build the reachability table. No files, no sockets: the CLI loads the snapshot and prints the report.
 *
 * @example
 * const report = runAudit(compileSnapshot(await loadConfigDir('examples/seed-000')));
 * if (reachesFailOn(report, 'error')) process.exitCode = 1;
 */
import type { Severity } from '../config/types.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import { auditCapture } from './capture.ts';
import { buildClusterModel } from './cluster-model.ts';
import { auditConfig } from './config-checks.ts';
import { compareFindings, SEVERITY_RANK, type Finding } from './finding.ts';
import { auditHostNetwork } from './host-network.ts';
import { auditNetworkPolicy } from './network-policy.ts';
import { auditPerimeter } from './perimeter.ts';
import { computeReachability, type ReachabilityRow } from './reachability.ts';
import { auditUnknownDestinations } from './unknown-destinations.ts';

export interface AuditReport {
  readonly findings: readonly Finding[];
  readonly reachability: readonly ReachabilityRow[];
}

export function runAudit(snapshot: Snapshot): AuditReport {
  const model = buildClusterModel(snapshot);
  const layers = [
    auditCapture(model),
    auditNetworkPolicy(model),
    auditUnknownDestinations(model),
    auditHostNetwork(model),
    auditPerimeter(model),
  ];
  const findings = [...layers.flatMap((l) => l.findings), ...auditConfig(model)].sort(compareFindings);
  return { findings, reachability: computeReachability(model, layers) };
}

/** Does any finding reach `failOn` (error: errors only; warning: warnings and errors)? */
export function reachesFailOn(report: AuditReport, failOn: Exclude<Severity, 'info'>): boolean {
  return report.findings.some((f) => SEVERITY_RANK[f.severity] >= SEVERITY_RANK[failOn]);
}

/** The machine-readable report, exactly `{findings:[{code,layer,severity,resource,message,fix}], reachability:[...]}`. */
export function auditReportJson(report: AuditReport): unknown {
  return {
    findings: report.findings.map((f) => ({
      code: f.code,
      layer: f.layer,
      severity: f.severity,
      resource: { kind: f.resource.kind, namespace: f.resource.namespace, name: f.resource.name },
      message: f.message,
      fix: f.fix,
    })),
    reachability: report.reachability.map((r) => ({
      identity: r.identity,
      destinations: r.destinations.map((d) => ({ host: d.host, port: d.port })),
      bypass: [...r.bypass],
    })),
  };
}
