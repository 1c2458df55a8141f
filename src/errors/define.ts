/** The shape of one entry in the error catalogue: a stable code, what it means, and what to do about it. */
export interface CodeInfo {
  /** One line: what happened. */
  readonly summary: string;
  /** What the user should do. Shown by `check`, `audit`, `status` and in docs/ERRORS.md. */
  readonly fix: string;
  /**
   * The HTTP status a refusal with this code is answered with, for codes that are answered on the wire (HBONE CONNECT
   * refusals, L7 waypoint responses, agent proxy responses). Read it with `statusOf` (src/errors/http-status.ts).
   */
  readonly httpStatus?: number;
}

/** Identity helper that keeps the literal keys of a code table, so `keyof typeof table` is a union of codes. */
export function defineCodes<const T extends Record<string, CodeInfo>>(codes: T): T {
  return codes;
}
