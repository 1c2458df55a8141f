/** What the audit reports: a finding per problem, each with a stable code, a layer, the resource and a fix. */
import type { ErrorCode } from '../errors/catalogue.ts';
import type { Severity, SourcePos } from '../config/types.ts';

/** Seed 000's five fence layers, or `config` for a problem in the egress configuration itself. */
export type AuditLayer = 1 | 2 | 3 | 4 | 5 | 'config';

export interface ResourceRef {
  readonly kind: string;
  /** '' for cluster-scoped kinds and for settings. */
  readonly namespace: string;
  readonly name: string;
}

export interface Finding {
  readonly code: ErrorCode;
  readonly layer: AuditLayer;
  readonly severity: Severity;
  readonly resource: ResourceRef;
  readonly message: string;
  /** A YAML snippet ready to apply (comments say what to do where no manifest can). */
  readonly fix: string;
  /** Where the resource is written, when it is written anywhere. Not part of the JSON report. */
  readonly location: SourcePos | null;
}

export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { info: 0, warning: 1, error: 2 };

/** Order findings for reports: layer, then severity (errors first), then resource. */
export function compareFindings(a: Finding, b: Finding): number {
  const la = a.layer === 'config' ? 6 : a.layer;
  const lb = b.layer === 'config' ? 6 : b.layer;
  if (la !== lb) return la - lb;
  const sa = SEVERITY_RANK[a.severity];
  const sb = SEVERITY_RANK[b.severity];
  if (sa !== sb) return sb - sa;
  const ka = `${a.resource.kind}/${a.resource.namespace}/${a.resource.name}/${a.code}`;
  const kb = `${b.resource.kind}/${b.resource.namespace}/${b.resource.name}/${b.code}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
