/**
 * The text shape of one diagnostic: `error[CODE]: message`, `  --> where`, `  hint: ...`. Apart from render-error.ts
 * so that a command which only warns, or succeeds, never loads the error catalogue's tables.
 */
import type { ErrorCode } from '../errors/catalogue.ts';

/** Render one diagnostic line block; warnings use the same shape as errors. */
export function renderDiagnostic(
  kind: 'error' | 'warning',
  code: ErrorCode | string,
  message: string,
  where?: string,
  hint?: string,
): string {
  const lines = [`${kind}[${code}]: ${message}`];
  if (where) lines.push(`  --> ${where}`);
  if (hint) lines.push(`  hint: ${hint}`);
  return lines.join('\n') + '\n';
}
