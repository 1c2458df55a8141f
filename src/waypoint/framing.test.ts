/** The framing stage and path normalization: one path for authorization, routing and the upstream, Istio's modes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authorityPortProblem, frameRequest, type Framed, type ParsedRequest } from './framing.ts';
import { Refusal } from './refusal.ts';
import { canonicalPath } from './routing/path.ts';

function parsed(over: Partial<ParsedRequest> = {}): ParsedRequest {
  return {
    method: 'GET',
    url: '/',
    httpVersionMajor: 1,
    httpVersion: '1.1',
    hostLines: ['api.example.com'],
    connectionLines: [],
    transferEncoding: undefined,
    contentLength: undefined,
    ...over,
  };
}

function framed(over: Partial<ParsedRequest>, mode: Parameters<typeof frameRequest>[1] = 'BASE'): Framed {
  const r = frameRequest(parsed(over), mode);
  if (r instanceof Refusal) throw new Error(`refused: ${r.code} ${r.reason}`);
  return r;
}

function refused(over: Partial<ParsedRequest>, mode: Parameters<typeof frameRequest>[1] = 'BASE'): Refusal {
  const r = frameRequest(parsed(over), mode);
  assert.ok(r instanceof Refusal, `expected a refusal for ${JSON.stringify(over)}`);
  return r;
}

test('BASE (Istio default): dot segments, also percent-encoded, are removed before anything decides', () => {
  const cases: [string, string][] = [
    ['/public/../admin', '/admin'],
    ['/public/./../internal/delete', '/internal/delete'],
    ['/public/%2e%2e/admin', '/admin'],
    ['/public/%2E%2e/admin', '/admin'],
    ['/public/.%2e/admin', '/admin'],
    ['/a/%2e/b', '/a/b'],
    ['/../../etc/passwd', '/etc/passwd'],
    ['/%61dmin', '/admin'],
    ['/a%7eb', '/a~b'],
    ['/a%2fb', '/a%2Fb'],
    ['/a//b', '/a//b'],
    ['/a b'.replace(' ', '"'), '/a%22b'],
    ['/x?q=/../y', '/x'],
  ];
  for (const [input, want] of cases) assert.equal(framed({ url: input }).target.path, want, input);
  assert.equal(
    framed({ url: '/x/../y?a=%2e%2e&b=/../c' }).target.query,
    'a=%2e%2e&b=/../c',
    'the query is kept byte for byte',
  );
});

test('MERGE_SLASHES and DECODE_AND_MERGE_SLASHES only when the setting asks; NONE keeps the path as sent', () => {
  assert.equal(framed({ url: '/a//b///c' }, 'MERGE_SLASHES').target.path, '/a/b/c');
  assert.equal(framed({ url: '/a%2fb' }, 'MERGE_SLASHES').target.path, '/a%2Fb');
  assert.equal(framed({ url: '/public%2f..%2fadmin' }, 'DECODE_AND_MERGE_SLASHES').target.path, '/admin');
  assert.equal(framed({ url: '/a%5Cb//c' }, 'DECODE_AND_MERGE_SLASHES').target.path, '/a/b/c');
  assert.equal(framed({ url: '/public/../admin' }, 'NONE').target.path, '/public/../admin');
});

test('paths that cannot be normalised safely are refused with 400 and a code', () => {
  for (const url of ['/a%zz', '/a%', '/a%2', '/a\\..\\admin', '/a%00b', '/a%0d%0ab']) {
    const r = refused({ url });
    assert.equal(r.status, 400, url);
    assert.equal(r.code, 'PCL_WAYPOINT_PATH_NOT_NORMALIZABLE', url);
    assert.match(r.reason, /cannot be normalised safely/);
  }
  assert.equal(refused({ url: '*' }).code, 'PCL_WAYPOINT_BAD_REQUEST');
  assert.deepEqual(canonicalPath('/a\\b', 'NONE'), { ok: true, path: '/a\\b' });
});

test('a Connection header naming Content-Length, Transfer-Encoding or Host is refused (400)', () => {
  for (const line of ['content-length', 'close, Content-Length', 'keep-alive,transfer-encoding', 'HOST']) {
    const r = refused({ connectionLines: [line], contentLength: '5' });
    assert.equal(r.status, 400);
    assert.equal(r.code, 'PCL_WAYPOINT_CONNECTION_FRAMING');
  }
  assert.equal(framed({ connectionLines: ['keep-alive, x-custom'] }).method, 'GET');
  assert.equal(framed({ contentLength: '12' }).contentLength, '12');
  const chunked = framed({ transferEncoding: 'chunked' });
  assert.equal(chunked.chunked, true);
  assert.equal(chunked.contentLength, null);
  assert.equal(refused({ transferEncoding: 'gzip, chunked' }).status, 501);
});

test('authority ports: 1-65535 without leading zeros (Host and absolute-form)', () => {
  for (const host of [
    'api.example.com:0443',
    'api.example.com:00080',
    'api.example.com:0',
    'api.example.com:65536',
    '[::1]:080',
  ]) {
    const r = refused({ hostLines: [host] });
    assert.equal(r.code, 'PCL_WAYPOINT_BAD_REQUEST', host);
    assert.match(r.reason, /not a port number 1-65535 without leading zeros/);
  }
  assert.equal(authorityPortProblem('api.example.com:443'), null);
  assert.equal(authorityPortProblem('[2001:db8::1]:8080'), null);
  assert.equal(authorityPortProblem('api.example.com'), null);
  assert.equal(refused({ url: 'http://api.example.com:0443/x' }).code, 'PCL_WAYPOINT_BAD_REQUEST');
});

test('absolute-form: its authority replaces Host, its path is normalised by the same rules (not WHATWG URL)', () => {
  const f = framed({ url: 'http://api.example.com/public/%2e%2e/admin?x=1' });
  assert.equal(f.authority, 'api.example.com');
  assert.deepEqual(f.target, { path: '/admin', query: 'x=1' });
  assert.equal(framed({ url: 'http://api.example.com' }).target.path, '/');
  assert.equal(refused({ url: 'http://user@api.example.com/' }).code, 'PCL_WAYPOINT_BAD_REQUEST');
  assert.equal(refused({ url: 'http://api.example.com/a\\b' }).code, 'PCL_WAYPOINT_PATH_NOT_NORMALIZABLE');
  assert.match(refused({ hostLines: ['a', 'b'] }).reason, /more than one Host/);
  assert.match(refused({ hostLines: [] }).reason, /missing Host/);
  assert.match(refused({ httpVersionMajor: 0, httpVersion: '0.9' }).reason, /HTTP\/0\.9/);
});
