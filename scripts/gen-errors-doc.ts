/** Regenerate docs/ERRORS.md from the error catalogue. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderErrorsDoc } from '../src/errors/errors-doc.ts';

writeFileSync(join(import.meta.dirname, '..', 'docs', 'ERRORS.md'), renderErrorsDoc());
console.log('wrote docs/ERRORS.md');
