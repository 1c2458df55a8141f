/** Render the error catalogue as docs/ERRORS.md: one anchored section per code, grouped by prefix. */
import { CATALOGUE } from './catalogue.ts';

export function renderErrorsDoc(): string {
  const lines = [
    '# Portcullis error codes',
    '',
    'Every error, warning, audit finding and decision reason carries one of these stable codes. This file is generated',
    'from `src/errors/` by `node scripts/gen-errors-doc.ts`; a test fails when it is out of date.',
    '',
  ];
  const codes = Object.keys(CATALOGUE).sort() as (keyof typeof CATALOGUE)[];
  let group = '';
  for (const code of codes) {
    const g = code.split('_')[1] ?? '';
    if (g !== group) {
      group = g;
      lines.push(`## ${g}`, '');
    }
    const info = CATALOGUE[code];
    lines.push(`### ${code}`, '', info.summary, '');
    if ('httpStatus' in info) lines.push(`**HTTP status:** ${info.httpStatus}`, '');
    lines.push(`**What to do:** ${info.fix}`, '');
  }
  return lines.join('\n');
}
