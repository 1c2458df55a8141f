/**
 * The validation pipeline for one document of a known kind: apiVersion, structural schema, then the semantic
 * rules (CRD CEL and istiod webhook checks from src/config/rules), each finding placed at its file:line:column.
 */
import type { ErrorCode } from '../errors/catalogue.ts';
import { formatPath } from './types.ts';
import type { Diagnostic, FieldPath, Severity, SourcePos } from './types.ts';
import type { Settings } from './settings-types.ts';
import type { KindDefinition } from './schema/index.ts';
import { validateSchema } from './schema/validate.ts';
import type { IssueKind } from './schema/validate.ts';
import { SEMANTIC_RULES } from './rules/index.ts';
import type { RuleContext } from './rules/rule-context.ts';
import { messageOf } from '../errors/message-of.ts';

const ISSUE_CODES: Readonly<Record<IssueKind, ErrorCode>> = {
  required: 'PCL_CONFIG_REQUIRED',
  unknown: 'PCL_CONFIG_UNKNOWN_FIELD',
  type: 'PCL_CONFIG_TYPE',
  enum: 'PCL_CONFIG_ENUM',
  range: 'PCL_CONFIG_RANGE',
  size: 'PCL_CONFIG_SIZE',
  pattern: 'PCL_CONFIG_PATTERN',
  duplicate: 'PCL_CONFIG_DUPLICATE_VALUE',
  exclusive: 'PCL_CONFIG_EXCLUSIVE_FIELDS',
};

/** Who a document is, for diagnostics. */
export interface DocumentIdentity {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

/** Builds diagnostics for one document: positions come from its YAML nodes. */
export class DocumentReporter {
  readonly diagnostics: Diagnostic[] = [];
  readonly #posOf: (path: FieldPath) => SourcePos;
  readonly #identity: DocumentIdentity;

  constructor(identity: DocumentIdentity, posOf: (path: FieldPath) => SourcePos) {
    this.#identity = identity;
    this.#posOf = posOf;
  }

  report(severity: Severity, code: ErrorCode, path: FieldPath, message: string): void {
    const pos = this.#posOf(path);
    const { kind, namespace, name } = this.#identity;
    this.diagnostics.push({
      code,
      severity,
      file: pos.file,
      line: pos.line,
      column: pos.column,
      kind,
      namespace,
      name,
      path: formatPath(path),
      message,
    });
  }

  get errorCount(): number {
    return this.diagnostics.filter((d) => d.severity === 'error').length;
  }
}

/**
 * Validate a document of a known kind. Returns true when it may be applied (no errors).
 * Semantic rules run only when the structural check passed, so they may trust types and required fields.
 */
export function validateDocument(
  doc: Readonly<Record<string, unknown>>,
  definition: KindDefinition,
  identity: DocumentIdentity,
  settings: Settings,
  reporter: DocumentReporter,
): boolean {
  const apiVersion = doc.apiVersion;
  if (typeof apiVersion === 'string' && !definition.apiVersions.includes(apiVersion)) {
    reporter.report(
      'error',
      'PCL_CONFIG_API_VERSION',
      ['apiVersion'],
      `Unsupported value: ${JSON.stringify(apiVersion)}: ${definition.kind} is accepted as apiVersion ${definition.apiVersions.map((v) => JSON.stringify(v)).join(', ')}`,
    );
  }
  for (const issue of validateSchema(definition.document, doc)) {
    reporter.report('error', ISSUE_CODES[issue.kind], issue.path, issue.message);
  }
  if (reporter.errorCount > 0) return false;

  const ctx: RuleContext = {
    kind: identity.kind,
    apiVersion: String(apiVersion),
    namespace: identity.namespace,
    name: identity.name,
    settings,
    error: (path, code, message) => reporter.report('error', code, path, message),
    warn: (path, code, message) => reporter.report('warning', code, path, message),
  };
  for (const rule of SEMANTIC_RULES[definition.kind] ?? []) {
    try {
      rule(doc, ctx);
    } catch (err) {
      // A rule bug must not take the whole load down; the document is refused so nothing unchecked applies.
      reporter.report(
        'error',
        'PCL_CONFIG_RULE_FAILED',
        [],
        `validation rule ${rule.name || '(anonymous)'} failed: ${messageOf(err)}`,
      );
    }
  }
  return reporter.errorCount === 0;
}
