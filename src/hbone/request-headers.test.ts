/** ztunnel's metadata headers: Forwarded, traceparent, baggage. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildBaggage, buildForwarded, newTraceparent, parseForwardedFor } from './request-headers.ts';

test('builds ztunnel metadata headers', () => {
  // ztunnel's build_forwarded unit test values.
  assert.equal(buildForwarded('127.0.0.1', 80), 'for="127.0.0.1:80"');
  assert.equal(buildForwarded('::1', 80), 'for="[::1]:80"');
  assert.equal(buildForwarded('127.0.0.1', 80, 'example.com'), 'for="127.0.0.1:80";host=example.com');
  assert.equal(parseForwardedFor('for="[::1]:80";host=example.com'), '[::1]:80');
  assert.equal(parseForwardedFor('host=x'), null);
  assert.match(newTraceparent(), /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  assert.notEqual(newTraceparent(), newTraceparent());
  assert.equal(
    buildBaggage({ 'k8s.cluster.name': 'c1', 'service.name': undefined, 'k8s.namespace.name': 'ns' }),
    'k8s.cluster.name=c1,k8s.namespace.name=ns',
  );
});
