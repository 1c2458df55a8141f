/**
 * Every benchmark of `npm run bench` run once at toy size, so none of them rots: the report must hold every
 * section with numbers in it. No timing assertions: how fast is the benchmark's business, not the test's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runBench, SECTIONS } from '../bench/run.ts';

/** Every leaf of `value` that is a number, with its path. */
function numbers(value: unknown, path = ''): [string, number][] {
  if (typeof value === 'number') return [[path, value]];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => numbers(v, path === '' ? k : `${path}.${k}`));
}

// Every benchmark at toy size takes about a minute alone; three agents on two cores can more than double it.
test('npm run bench --toy: every section runs and reports numbers', { timeout: 600_000 }, async () => {
  const report = await runBench({ toy: true });
  assert.equal(report.scale, 'toy');
  for (const section of SECTIONS) {
    const data = report.sections[section];
    assert.ok(data !== undefined, `section ${section} is missing from the report`);
    const rows = report.rows.filter((r) => r.section === section);
    assert.ok(rows.length > 0, `section ${section} has no table rows`);
    const skipped = rows.filter((r) => r.status.startsWith('skipped'));
    // A peer may be absent (the row says so); everything else must carry a finite number.
    for (const r of rows)
      if (!r.status.startsWith('skipped'))
        assert.ok(r.value !== null && Number.isFinite(r.value), `${section}: "${r.measure}" has no number`);
    if (skipped.length === rows.length) continue;
    const nums = numbers(data);
    assert.ok(nums.length > 0, `section ${section} has no numeric fields`);
    for (const [path, n] of nums) assert.ok(!Number.isNaN(n), `${section}.${path} is NaN`);
  }
  assert.ok(report.machine.nproc > 0);
});
