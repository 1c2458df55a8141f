/**
 * The configuration's errors as every surface shows them: one identity per error (so `serve` logs it once when it
 * appears and once when it is fixed), counts by kind for the metrics, and the lines `/ready` and the commands print.
 * Pure: reads snapshots only.
 */
import type { Diagnostic } from '../config/types.ts';
import type { ConfigProblem, Snapshot } from './snapshot.ts';

/**
 * One configuration error. `kind` is the resource kind, `Settings` for the settings file, or `File` for a file-level
 * error (YAML syntax...); `ref` is '' for a file-level error.
 */
export interface ConfigIssue extends ConfigProblem {
  /** Stable across reloads while the error is the same (its line may move; it is still the same error). */
  readonly id: string;
}

function kindOf(d: Diagnostic): string {
  if (d.kind !== undefined && d.kind !== '') return d.kind;
  return d.code.startsWith('PCL_SETTINGS_') ? 'Settings' : 'File';
}

function refOf(d: Diagnostic): string {
  if (d.name === undefined) return '';
  return d.namespace ? `${d.namespace}/${d.name}` : d.name;
}

/** Every error of the snapshot (its load and its compile), each once. */
export function configIssues(snap: Snapshot): ConfigIssue[] {
  const seen = new Set<string>();
  const out: ConfigIssue[] = [];
  for (const d of snap.diagnostics) {
    if (d.severity !== 'error') continue;
    const kind = kindOf(d);
    const ref = refOf(d);
    const id = [d.code, kind, ref, ref === '' ? d.file : '', d.path ?? '', d.message].join('\0');
    if (seen.has(id)) continue;
    seen.add(id);
    const message = d.path ? `${d.path}: ${d.message}` : d.message;
    out.push({ id, kind, ref, file: d.file, line: d.line, code: d.code, message });
  }
  return out;
}

/** What changed between two reloads: errors that appeared and errors that were fixed (or deleted). */
export function diffIssues(
  before: readonly ConfigIssue[],
  after: readonly ConfigIssue[],
): { appeared: ConfigIssue[]; fixed: ConfigIssue[] } {
  const had = new Set(before.map((i) => i.id));
  const has = new Set(after.map((i) => i.id));
  return { appeared: after.filter((i) => !had.has(i.id)), fixed: before.filter((i) => !has.has(i.id)) };
}

/** Error counts by kind (every kind that has one), for `portcullis_config_errors{kind}`. */
export function errorsByKind(issues: readonly ConfigIssue[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of issues) out[i.kind] = (out[i.kind] ?? 0) + 1;
  return out;
}

/** `file:line [CODE] Kind ref: message`, the one-line form of an error in logs, `/ready` and banners. */
function formatIssue(i: ConfigIssue): string {
  return `${i.file}:${i.line} [${i.code}] ${i.kind}${i.ref === '' ? '' : ` ${i.ref}`}: ${i.message}`;
}

/** The lines `/ready` appends while it serves with errors (none when there are none). */
export function readyLines(snap: Snapshot): string[] {
  const issues = configIssues(snap);
  if (issues.length === 0) return [];
  const lines = [`configuration errors: ${issues.length} (each invalid resource fails closed until it is fixed)`];
  for (const i of issues) lines.push(`  ${formatIssue(i)}`);
  for (const inv of snap.invalid) lines.push(`  fails closed: ${inv.kind} ${inv.ref}: ${inv.effect}`);
  return lines;
}

/** A policy that does not do what it says: a target that does not resolve, or no layer it attaches to. */
export interface PolicyWarning {
  readonly ref: string;
  readonly file: string;
  readonly line: number;
  readonly kind: 'unresolved-target' | 'unattached';
  readonly message: string;
}

/** Reasons of a policy's Accepted=False condition that mean "a target does not resolve". */
const UNRESOLVED = new Set(['TargetNotFound', 'AncestorNotBound']);

/**
 * Warnings `status` counts: policies with a target that does not resolve (TargetNotFound, even when other targets
 * attach) and policies attached to nothing. (An invalid policy whose targets do not exist is a warning diagnostic,
 * PCL_MESH_INVALID_TARGET_NOT_FOUND.)
 */
export function policyWarnings(snap: Snapshot): PolicyWarning[] {
  const out: PolicyWarning[] = [];
  for (const p of snap.policies.values()) {
    const conds = snap.conditions.get(p.key) ?? [];
    const where = p.resource.source;
    const unresolved = conds.find(
      (c) => (c.status === 'False' && UNRESOLVED.has(c.reason)) || c.reason === 'PartiallyInvalid',
    );
    if (unresolved !== undefined) {
      out.push({
        ref: p.ref,
        file: where.file,
        line: where.line,
        kind: 'unresolved-target',
        message: `${unresolved.reason}: ${unresolved.message}`,
      });
    } else if (p.compiled === null) {
      const why = conds.find((c) => c.status === 'False');
      out.push({
        ref: p.ref,
        file: where.file,
        line: where.line,
        kind: 'unattached',
        message: why ? `${why.reason}: ${why.message}` : 'attached to no layer',
      });
    }
  }
  return out;
}
