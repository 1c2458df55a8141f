/** Error codes owned by the audit layer. Codes are stable: never rename one, only add. */
import { defineCodes } from './define.ts';

export const auditCodes = defineCodes({
});
