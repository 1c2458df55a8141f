/** Error codes owned by the dataplane layer. Codes are stable: never rename one, only add. */
import { defineCodes } from './define.ts';

export const dataplaneCodes = defineCodes({
});
