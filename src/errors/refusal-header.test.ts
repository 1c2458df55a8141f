/** The one sanitiser of refusal header values: no line breaks or non-ASCII get through, and values are bounded. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { codedReason, headerSafe, MAX_REASON_CHARS } from './refusal-header.ts';

test('header values cannot inject lines, carry non-ASCII or grow without bound', () => {
  assert.equal(headerSafe('denied\r\nx-evil: 1'), 'denied x-evil: 1');
  assert.equal(headerSafe('\tcafé\u0000\n'), 'caf');
  assert.equal(headerSafe('x'.repeat(5000)).length, MAX_REASON_CHARS);
  assert.equal(codedReason('PCL_X', 'no\r\nway'), 'PCL_X: no way');
  assert.doesNotMatch(headerSafe(String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i))), /[^\x20-\x7e]/);
});
