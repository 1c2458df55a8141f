/**
 * The error every Portcullis module throws. Apart from the catalogue's tables, so that a command which succeeds never
 * loads them (each module is start-up time); the code is checked against the catalogue by its type alone.
 */
import type { ErrorCode } from './catalogue.ts';

/** An Error that carries a catalogue code; the message is specific, the code's `fix` says what to do. */
export class PortcullisError extends Error {
  readonly code: ErrorCode;
  /** What to do about this particular error (the catalogue's `fix` is the general advice). */
  readonly hint?: string;
  /** Where the problem is: `file:line`, or the flag as typed. */
  readonly where?: string;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; hint?: string; where?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PortcullisError';
    this.code = code;
    if (options?.hint !== undefined) this.hint = options.hint;
    if (options?.where !== undefined) this.where = options.where;
  }
}
