/** ztunnel's `string_match` test cases, plus Istio's pattern forms. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileStringMatch, stringMatches, anyStringMatches } from './string-match.ts';

test('string_match (ztunnel rbac.rs test_case table)', () => {
  const exact = compileStringMatch('foo');
  assert.equal(stringMatches(exact, 'foo'), true);
  assert.equal(stringMatches(exact, 'not'), false);
  assert.equal(stringMatches(exact, ''), false);
  const prefix = compileStringMatch('foo*');
  assert.equal(stringMatches(prefix, 'foobar'), true);
  assert.equal(stringMatches(prefix, 'notfoo'), false);
  assert.equal(stringMatches(prefix, ''), false);
  const suffix = compileStringMatch('*foo');
  assert.equal(stringMatches(suffix, 'barfoo'), true);
  assert.equal(stringMatches(suffix, 'foonot'), false);
  assert.equal(stringMatches(suffix, ''), false);
  const presence = compileStringMatch('*');
  assert.equal(stringMatches(presence, 'foo'), true);
  assert.equal(stringMatches(presence, ''), false);
});

test('istiod stringToMatch mapping: * → presence, *x → suffix, x* → prefix, else exact', () => {
  assert.deepEqual(compileStringMatch('*'), { kind: 3, value: '' });
  assert.deepEqual(compileStringMatch('*.example.com'), { kind: 2, value: '.example.com' });
  assert.deepEqual(compileStringMatch('cluster.local/ns/a/*'), { kind: 1, value: 'cluster.local/ns/a/' });
  assert.deepEqual(compileStringMatch('abc'), { kind: 0, value: 'abc' });
  // Prefix "abc*" matches "abc" itself; suffix "*abc" matches "abc" (proto Rule comment).
  assert.equal(stringMatches(compileStringMatch('abc*'), 'abc'), true);
  assert.equal(stringMatches(compileStringMatch('*abc'), 'abc'), true);
});

test('case-insensitive compile lower-cases the pattern; list items are ORed', () => {
  const list = [compileStringMatch('Example.COM', true), compileStringMatch('*.Other.org', true)];
  assert.equal(anyStringMatches(list, 'example.com'), true);
  assert.equal(anyStringMatches(list, 'a.other.org'), true);
  assert.equal(anyStringMatches(list, 'example.net'), false);
  assert.equal(anyStringMatches([], 'x'), false);
});
