/**
 * The one catalogue of Portcullis error codes. Each domain keeps its table in its own file
 * (so parallel work never collides); this module merges them and is the only place to look codes up.
 * docs/ERRORS.md is checked against it by a test.
 */
import type { CodeInfo } from './define.ts';
import { configCodes } from './config-codes.ts';
import { validationCodes } from './validation-codes.ts';
import { hboneCodes } from './hbone-codes.ts';
import { meshCodes } from './mesh-codes.ts';
import { policyCodes } from './policy-codes.ts';
import { identityCodes } from './identity-codes.ts';
import { dataplaneCodes } from './dataplane-codes.ts';
import { auditCodes } from './audit-codes.ts';
import { cliCodes } from './cli-codes.ts';
import { waypointCodes } from './waypoint-codes.ts';
import { agentCodes } from './agent-codes.ts';
import { learnCodes } from './learn-codes.ts';
import { kubeCodes } from './kube-codes.ts';

export const CATALOGUE = {
  ...configCodes,
  ...validationCodes,
  ...hboneCodes,
  ...meshCodes,
  ...policyCodes,
  ...identityCodes,
  ...dataplaneCodes,
  ...auditCodes,
  ...cliCodes,
  ...waypointCodes,
  ...agentCodes,
  ...learnCodes,
  ...kubeCodes,
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof CATALOGUE;

/** Look up a code's catalogue entry. */
export function describe(code: ErrorCode): CodeInfo {
  return CATALOGUE[code];
}
