/** The %%source.principal%% header: overwritten with the verified identity, used for matching, never forwarded. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  headerLines,
  headerMap,
  headerMapOf,
  outgoingRequestHeaders,
  outgoingRequestRaw,
  outgoingResponseHeaders,
  outgoingResponseRaw,
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

test('the one-pass forms over rawHeaders give what the list forms give', () => {
  const samples: string[][] = [
    ['Host', 'x'],
    ['Host', 'x', 'Accept', '*/*', 'accept', 'text/plain'],
    ['Host', 'x', '%%source.principal%%', APP1, 'X-A', '1', '%%SOURCE.PRINCIPAL%%', APP1, 'x-a', '2'],
    ['Host', 'x', 'Connection', 'keep-alive, X-Secret', 'X-Secret', 's', 'connection', ' x-other ,', 'X-Other', 'o'],
    ['Host', 'x', 'Keep-Alive', 'timeout=5', 'TE', 'trailers', 'Trailer', 'x', 'Upgrade', 'h2c', 'Expect', '100'],
    ['Host', 'x', 'Content-Length', '3', 'Transfer-Encoding', 'chunked', 'Proxy-Connection', 'close', 'Y', ''],
    ['Set-Cookie', 'a', 'Set-Cookie', 'b', 'Connection', 'close, Set-Cookie2', 'Set-Cookie2', 'c'],
  ];
  for (const raw of samples) {
    const lines = withVerifiedPrincipal(headerLines(raw), APP2);
    assert.deepEqual([...headerMapOf(raw, APP2)].sort(), [...headerMap(lines)].sort(), raw.join('|'));
    const listForm = outgoingRequestHeaders(lines).filter(([n]) => n.toLowerCase() !== 'content-length');
    assert.deepEqual(outgoingRequestRaw(raw, 'up.example'), ['Host', 'up.example', ...listForm.flat()], raw.join('|'));
    assert.deepEqual(outgoingResponseRaw(raw), outgoingResponseHeaders(headerLines(raw)).flat(), raw.join('|'));
  }
  // What must never leave, whatever the case: the principal header, hop-by-hop and Connection-listed fields.
  const out = outgoingRequestRaw(samples[3].concat(samples[2]), 'h');
  for (const gone of ['x-secret', 'x-other', 'connection', SOURCE_PRINCIPAL_HEADER, 'host']) {
    assert.ok(!out.slice(2).some((v, i) => i % 2 === 0 && v.toLowerCase() === gone), gone);
  }
});
