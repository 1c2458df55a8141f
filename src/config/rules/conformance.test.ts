/**
 * Runs the semantic rules over Istio's own CRD test documents (istio/api tests/testdata, read in place from
 * ../shared/conformance): every *-valid.yaml document passes, every *-invalid.yaml document whose `_err` is a
 * CEL or webhook rule fails with a `path: message` text containing `_err`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { SEMANTIC_RULES } from './index.ts';
import { runRules } from '../../../test/support/fake-rule-context.ts';

const REPO_ROOT = resolve(import.meta.dirname, '../../..');
const TESTDATA = resolve(REPO_ROOT, '../shared/conformance/istio-api-testdata');

/** `_err` texts that come from the OpenAPI schema (required fields, listType=map keys): the schema validator's job. */
const STRUCTURAL_ERRORS: Readonly<Record<string, string>> = {
  'spec: Required value': 'structural: required `spec` (schema validator)',
  'spec.hosts: Required value': 'structural: required `spec.hosts` (schema validator)',
  'Duplicate value': 'structural: listType=map duplicate port name (schema validator)',
  'spec.trafficPolicy.loadBalancer.warmup.duration: Required value':
    'structural: required `warmup.duration` (schema validator)',
};

interface TestDocument {
  readonly file: string;
  readonly index: number;
  readonly expectedError: string | undefined;
  readonly doc: Record<string, unknown>;
}

function loadDocuments(): TestDocument[] {
  const out: TestDocument[] = [];
  for (const file of readdirSync(TESTDATA)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    parseAllDocuments(readFileSync(join(TESTDATA, file), 'utf8')).forEach((parsed, index) => {
      const value: unknown = parsed.toJS();
      if (value === null || typeof value !== 'object') return;
      const { _err, ...doc } = value as Record<string, unknown>;
      out.push({ file, index, expectedError: typeof _err === 'string' ? _err : undefined, doc });
    });
  }
  return out;
}

const present = existsSync(TESTDATA);

describe('conformance: istio-api-testdata', () => {
  if (!present) {
    it('istio-api-testdata', (t) =>
      t.skip(
        `../shared/conformance not found: ${TESTDATA} is absent, so Istio's CRD test documents cannot be checked`,
      ));
    return;
  }
  const documents = loadDocuments();

  it('finds documents for every kind with semantic rules it covers', () => {
    const kinds = new Set(documents.map((d) => d.doc.kind));
    for (const kind of ['AuthorizationPolicy', 'ServiceEntry', 'DestinationRule', 'EnvoyFilter'])
      assert.ok(kinds.has(kind), kind);
  });

  for (const d of documents) {
    const kind = String(d.doc.kind);
    const name = String((d.doc.metadata as Record<string, unknown> | undefined)?.name);
    const label = `${d.file}#${d.index} ${kind}/${name}`;
    if (d.file.endsWith('-valid.yaml')) {
      it(`${label} is accepted`, () => {
        const ctx = runRules(SEMANTIC_RULES[kind] ?? [], d.doc);
        assert.deepEqual(
          ctx.errors.map((e) => e.text),
          [],
        );
      });
      continue;
    }
    const expected = d.expectedError;
    if (expected === undefined) continue;
    const structural = STRUCTURAL_ERRORS[expected];
    // Structural cases are the schema's, and src/config/conformance.test.ts checks them through the loader.
    if (structural !== undefined) continue;
    it(`${label} is rejected with ${JSON.stringify(expected)}`, () => {
      const rules = SEMANTIC_RULES[kind];
      assert.ok(rules !== undefined, `no semantic rules for ${kind}`);
      const ctx = runRules(rules, d.doc);
      assert.ok(
        ctx.errors.some((e) => e.text.includes(expected)),
        `no error contains ${JSON.stringify(expected)}; got ${JSON.stringify(ctx.errors.map((e) => e.text))}`,
      );
    });
  }
});
