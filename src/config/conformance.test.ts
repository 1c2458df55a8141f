/**
 * Conformance against istio/api's own CRD test data (`tests/testdata/*-{valid,invalid}.yaml`), read in place from
 * ../shared/conformance: every valid document loads with no error; every invalid one is refused with an error
 * whose `path: message` contains the document's `_err` text (case-insensitive).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfigTexts } from './load.ts';
import { parseYamlFile } from './yaml-documents.ts';

const TESTDATA = path.resolve(import.meta.dirname, '../../../shared/conformance/istio-api-testdata');

interface Case {
  readonly file: string;
  readonly index: number;
  readonly name: string;
  readonly expectedError: string | undefined;
  readonly doc: Record<string, unknown>;
}

function readCases(): Case[] {
  const cases: Case[] = [];
  for (const file of readdirSync(TESTDATA)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    const parsed = parseYamlFile({ path: file, text: readFileSync(path.join(TESTDATA, file), 'utf8') });
    assert.deepEqual(parsed.errors, [], `${file} must parse`);
    parsed.documents.forEach(({ value: v, index }) => {
      const value = v as Record<string, unknown> | null;
      if (value === null || typeof value !== 'object') return;
      // `_err` is Istio's test annotation, not part of the object: strip it here, never in the loader.
      const { _err, ...doc } = value;
      const meta = doc.metadata as { name?: string } | undefined;
      cases.push({
        file,
        index,
        name: `${file}#${index} ${meta?.name ?? ''}`,
        expectedError: _err as string | undefined,
        doc,
      });
    });
  }
  return cases;
}

test('istio/api CRD test data', async (t) => {
  if (!existsSync(TESTDATA)) {
    t.skip(`../shared/conformance not found: ${TESTDATA} is absent, so the istio/api conformance cases cannot run`);
    return;
  }
  const cases = readCases();
  assert.ok(cases.length >= 20, `expected the istio/api test data to hold many cases, found ${cases.length}`);
  for (const c of cases) {
    await t.test(c.name, () => {
      const result = loadConfigTexts([{ path: `${c.file}#${c.index}`, text: JSON.stringify(c.doc) }]);
      const errors = result.diagnostics.filter((d) => d.severity === 'error');
      const texts = errors.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message));
      if (c.file.endsWith('-valid.yaml')) {
        assert.deepEqual(texts, [], `valid document was refused`);
        assert.equal(result.resources.length, 1);
      } else {
        assert.ok(c.expectedError, 'an invalid case must carry _err');
        const want = c.expectedError.toLowerCase();
        assert.ok(
          texts.some((m) => m.toLowerCase().includes(want)),
          `expected an error containing ${JSON.stringify(c.expectedError)}, got ${JSON.stringify(texts)}`,
        );
        assert.equal(result.resources.length, 0, 'an invalid document must be left out');
      }
    });
  }
});
