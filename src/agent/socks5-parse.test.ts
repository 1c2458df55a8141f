/** SOCKS5 handshake parsing (RFC 1928): incremental input, address types, and the reply code for each refusal. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeReply, parseGreeting, parseRequest } from './socks5-parse.ts';

const req = (...bytes: number[]): Buffer => Buffer.from(bytes);

test('greeting: incomplete until all methods arrived; no-auth detected; other versions refused without a reply', () => {
  assert.deepEqual(parseGreeting(req()), { status: 'incomplete' });
  assert.deepEqual(parseGreeting(req(5, 2, 0)), { status: 'incomplete' });
  assert.deepEqual(parseGreeting(req(5, 2, 2, 0)), { status: 'ok', value: { noAuthOffered: true }, consumed: 4 });
  assert.deepEqual(parseGreeting(req(5, 1, 2)), { status: 'ok', value: { noAuthOffered: false }, consumed: 3 });
  const v4 = parseGreeting(req(4, 1, 0, 80));
  assert.equal(v4.status, 'error');
  assert.equal(v4.status === 'error' && v4.reply, undefined);
});

test('request: IPv4, IPv6 (canonical form) and domain names', () => {
  assert.deepEqual(parseRequest(req(5, 1, 0, 1, 203, 0, 113, 9, 0x15, 0x38)), {
    status: 'ok',
    value: { host: '203.0.113.9', port: 5432, isIp: true },
    consumed: 10,
  });
  const v6 = Buffer.concat([req(5, 1, 0, 4), Buffer.from('00000000000000000000000000000001', 'hex'), req(0x01, 0xbb)]);
  assert.deepEqual(parseRequest(v6), { status: 'ok', value: { host: '::1', port: 443, isIp: true }, consumed: 22 });
  const name = Buffer.concat([req(5, 1, 0, 3, 11), Buffer.from('HTTPBIN.org'), req(0x01, 0xbb), req(0x16)]);
  assert.deepEqual(parseRequest(name), {
    status: 'ok',
    value: { host: 'httpbin.org', port: 443, isIp: false },
    consumed: 18,
  });
  assert.deepEqual(parseRequest(name.subarray(0, 10)), { status: 'incomplete' });
});

test('request refusals carry RFC 1928 reply codes', () => {
  const code = (b: Buffer): number | undefined => {
    const r = parseRequest(b);
    return r.status === 'error' ? r.reply : -1;
  };
  assert.equal(code(req(5, 2, 0, 1, 1, 2, 3, 4, 0, 80)), 0x07, 'BIND');
  assert.equal(code(req(5, 3, 0, 1, 1, 2, 3, 4, 0, 80)), 0x07, 'UDP ASSOCIATE');
  assert.equal(code(req(5, 1, 0, 9)), 0x08, 'unknown address type');
  assert.equal(code(req(5, 1, 0, 1, 1, 2, 3, 4, 0, 0)), 0x01, 'port 0');
  assert.equal(code(Buffer.concat([req(5, 1, 0, 3, 3), Buffer.from('a b'), req(0, 80)])), 0x01, 'not a host name');
  assert.equal(code(req(4, 1, 0, 1)), undefined, 'not SOCKS5: close without a reply');
});

test('replies are VER REP RSV ATYP=IPv4 0.0.0.0:0', () => {
  assert.deepEqual([...encodeReply(0x02)], [5, 2, 0, 1, 0, 0, 0, 0, 0, 0]);
});
