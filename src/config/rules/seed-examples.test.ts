/** The product's seed examples (examples/seed-000, seed-002) must pass every semantic rule with no error. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { SEMANTIC_RULES } from './index.ts';
import { runRules } from '../../../test/support/fake-rule-context.ts';

const EXAMPLES = resolve(import.meta.dirname, '../../../examples');

describe('seed examples pass the semantic rules', () => {
  for (const seed of ['seed-000', 'seed-002']) {
    it(seed, () => {
      const dir = join(EXAMPLES, seed);
      let checked = 0;
      for (const file of readdirSync(dir)
        .filter((f) => f.endsWith('.yaml'))
        .sort()) {
        for (const parsed of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
          const doc: unknown = parsed.toJS();
          if (doc === null || typeof doc !== 'object') continue;
          const rules = SEMANTIC_RULES[String((doc as Record<string, unknown>).kind)];
          if (rules === undefined) continue;
          const ctx = runRules(rules, doc as Record<string, unknown>);
          assert.deepEqual(
            ctx.errors.map((e) => `${file}: ${e.text}`),
            [],
          );
          checked++;
        }
      }
      assert.ok(checked >= 4, `expected the seed to hold at least 4 documents with semantic rules, checked ${checked}`);
    });
  }

  it('seed 000 gateway-policies DENY rule on namespaces carries no HTTP-only warning', () => {
    const text = readFileSync(join(EXAMPLES, 'seed-000', 'gateway-policies.yaml'), 'utf8');
    const deny = parseAllDocuments(text)
      .map((d) => d.toJS() as Record<string, unknown>)
      .find((d) => (d.spec as Record<string, unknown>).action === 'DENY');
    assert.ok(deny);
    assert.deepEqual(runRules(SEMANTIC_RULES.AuthorizationPolicy, deny).findings, []);
  });
});
