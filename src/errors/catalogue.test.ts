/** The catalogue is well-formed and docs/ERRORS.md documents every code. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CATALOGUE } from './catalogue.ts';
import { renderErrorsDoc } from './errors-doc.ts';

test('every code is PCL_* in upper snake case with a summary and a fix', () => {
  const codes = Object.keys(CATALOGUE);
  assert.ok(codes.length > 20, `expected a real catalogue, found ${codes.length} codes`);
  for (const [code, info] of Object.entries(CATALOGUE)) {
    assert.match(code, /^PCL_[A-Z0-9]+(_[A-Z0-9]+)+$/, code);
    assert.ok(info.summary.length > 10, `${code} summary`);
    assert.ok(info.fix.length > 10, `${code} fix`);
  }
});

test('docs/ERRORS.md is generated from the catalogue and up to date', () => {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'ERRORS.md'), 'utf8');
  assert.equal(doc, renderErrorsDoc(), 'docs/ERRORS.md is stale: run `node scripts/gen-errors-doc.ts`');
  for (const code of Object.keys(CATALOGUE)) assert.ok(doc.includes(`### ${code}`), code);
});

/** Every product source file outside src/errors (tests excluded): where a code has to be used to be worth listing. */
function productSources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) {
      if (full !== join(SRC, 'errors')) out.push(...productSources(full));
    } else if (entry.endsWith('.ts') && !entry.endsWith('.test.ts') && !entry.endsWith('.bench.ts')) {
      out.push(full);
    }
  }
  return out;
}
const SRC = join(import.meta.dirname, '..');

test('every catalogued code is used by the product (a code nobody emits documents nothing)', () => {
  const text = productSources(SRC)
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  const unused = Object.keys(CATALOGUE).filter((code) => !new RegExp(`\\b${code}\\b`).test(text));
  assert.deepEqual(unused, [], `codes in the catalogue that no product code emits: ${unused.join(', ')}`);
});
