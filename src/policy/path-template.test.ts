/** `paths` values: Istio's string forms and the `{*}` / `{**}` templates (proto `Operation.paths`). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePathMatcher, compilePathTemplate, isPathTemplate } from './path-template.ts';

test('plain paths use exact / prefix / suffix / presence', () => {
  assert.equal(compilePathMatcher('/exact')('/exact'), true);
  assert.equal(compilePathMatcher('/exact')('/exact/'), false);
  assert.equal(compilePathMatcher('/prefix/*')('/prefix/a/b'), true);
  assert.equal(compilePathMatcher('*/suffix')('/a/b/suffix'), true);
  assert.equal(compilePathMatcher('*')('/'), true);
});

test('{*} matches exactly one segment', () => {
  const m = compilePathMatcher('/foo/{*}');
  assert.equal(m('/foo/bar'), true);
  assert.equal(m('/foo/bar/baz'), false);
  assert.equal(m('/foo/'), false);
  const mid = compilePathMatcher('/foo/{*}/bar');
  assert.equal(mid('/foo/x/bar'), true);
  assert.equal(mid('/foo/x/y/bar'), false);
});

test('{**} matches across segments', () => {
  const m = compilePathMatcher('/foo/{**}/');
  assert.equal(m('/foo/bar/'), true);
  assert.equal(m('/foo/bar/baz.txt/'), true);
  assert.equal(m('/foo/bar/baz.txt'), false);
  const lead = compilePathMatcher('/{**}/path/template');
  assert.equal(lead('/a/b/path/template'), true);
  assert.equal(lead('/a/b/path/other'), false);
  const both = compilePathMatcher('/foo/{*}/bar/{**}');
  assert.equal(both('/foo/buzz/bar/'), true);
  assert.equal(both('/foo/buzz/bar/baz'), true);
  assert.equal(both('/foo/a/b/bar/baz'), false);
});

test('template literals are escaped, and templates are detected', () => {
  assert.equal(isPathTemplate('/a/{*}'), true);
  assert.equal(isPathTemplate('/a/*'), false);
  const re = compilePathTemplate('/v1.0/{*}+x');
  assert.equal(re.test('/v1.0/seg+x'), true);
  assert.equal(re.test('/v1a0/seg+x'), false);
});
