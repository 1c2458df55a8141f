/** What a semantic validation rule (Istio webhook or CRD CEL rule) sees and how it reports. */
import type { ErrorCode } from '../../errors/catalogue.ts';
import type { FieldPath } from '../types.ts';
import type { Settings } from '../settings-types.ts';

export interface RuleContext {
  readonly kind: string;
  readonly apiVersion: string;
  readonly namespace: string;
  readonly name: string;
  readonly settings: Settings;
  /** Report an error at a field path (relative to the document root, e.g. ['spec','hosts',0]). */
  error(path: FieldPath, code: ErrorCode, message: string): void;
  /** Report a warning: the resource is still applied. */
  warn(path: FieldPath, code: ErrorCode, message: string): void;
}

/**
 * A semantic rule runs only on a document that passed structural (schema) validation, so it may trust
 * types, enums and required fields. It receives the whole document (apiVersion, kind, metadata, spec).
 */
export type SemanticRule = (doc: Readonly<Record<string, unknown>>, ctx: RuleContext) => void;
