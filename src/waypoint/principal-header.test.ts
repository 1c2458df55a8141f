/** The %%source.principal%% header: overwritten with the verified identity, used for matching, never forwarded. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  headerLines,
  headerMap,
  outgoingRequestHeaders,
  outgoingResponseHeaders,
  SOURCE_PRINCIPAL_HEADER,
  withVerifiedPrincipal,
} from './principal-header.ts';

const APP1 = 'spiffe://cluster.local/ns/team-namespace/sa/app1';
const APP2 = 'spiffe://cluster.local/ns/team-namespace/sa/app2';

test('every client value of the principal header (any case) is replaced by the verified one', () => {
  const raw = ['Host', 'x', '%%source.principal%%', APP1, '%%SOURCE.PRINCIPAL%%', APP1, 'Accept', '*/*'];
  const lines = withVerifiedPrincipal(headerLines(raw), APP2);
  assert.deepEqual(lines, [
    ['Host', 'x'],
    ['Accept', '*/*'],
    [SOURCE_PRINCIPAL_HEADER, APP2],
  ]);
  assert.equal(headerMap(lines).get(SOURCE_PRINCIPAL_HEADER), APP2);
});

test('repeated headers are joined with "," for matching, as Envoy presents them', () => {
  assert.equal(
    headerMap([
      ['X-A', '1'],
      ['x-a', '2'],
    ]).get('x-a'),
    '1,2',
  );
});

test('the principal header and hop-by-hop fields never leave; Connection-listed fields neither', () => {
  const out = outgoingRequestHeaders([
    ['Host', 'x'],
    ['Connection', 'keep-alive, X-Secret'],
    ['X-Secret', 's'],
    ['Keep-Alive', 'timeout=5'],
    ['Transfer-Encoding', 'chunked'],
    ['Expect', '100-continue'],
    ['Upgrade', 'websocket'],
    ['%%Source.Principal%%', APP1],
    [SOURCE_PRINCIPAL_HEADER, APP2],
    ['Content-Length', '3'],
    ['Accept', '*/*'],
  ]);
  assert.deepEqual(out, [
    ['Content-Length', '3'],
    ['Accept', '*/*'],
  ]);
  assert.deepEqual(
    outgoingResponseHeaders([
      ['Connection', 'close'],
      ['Set-Cookie', 'a'],
      ['Set-Cookie', 'b'],
    ]),
    [
      ['Set-Cookie', 'a'],
      ['Set-Cookie', 'b'],
    ],
  );
});
