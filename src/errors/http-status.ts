/** The HTTP status of each refusal, read from the error catalogue so no handler hard-codes one. */
import { CATALOGUE, type ErrorCode } from './catalogue.ts';
import type { CodeInfo } from './define.ts';

/**
 * The status a refusal that carries no catalogued status is answered with. Nothing should reach it (a test in
 * http-status.test.ts checks the handlers' codes); if something does, it is still a refusal, never a 200.
 */
export const UNCATALOGUED_STATUS = 500;

/** The HTTP status to answer a refusal carrying `code` with. */
export function statusOf(code: ErrorCode): number {
  const info: CodeInfo = CATALOGUE[code];
  return info.httpStatus ?? UNCATALOGUED_STATUS;
}
