/** The quickstart's DNS stand-in answers real queries from node:dns and survives garbage. */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { test } from 'node:test';
import { parseQuery, startDnsServer } from './dns-server.ts';

test('answers A and AAAA for known names, NXDOMAIN for others, and ignores garbage', async (t) => {
  const dns = await startDnsServer({ 'httpbin.org': ['127.0.0.10', '::1'] });
  t.after(() => dns.close());
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([`127.0.0.1:${dns.address.port}`]);
  assert.deepEqual(await r.resolve4('HTTPBIN.org'), ['127.0.0.10']);
  assert.deepEqual(await r.resolve6('httpbin.org'), ['::1']);
  await assert.rejects(r.resolve4('evil.example'), (e: NodeJS.ErrnoException) => e.code === 'ENOTFOUND');
  // Garbage datagrams are dropped; the server still answers afterwards.
  const s = createSocket('udp4');
  for (const g of [
    Buffer.alloc(0),
    Buffer.from('hello'),
    Buffer.alloc(12, 0xff),
    Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 200, 1, 2]),
  ]) {
    await new Promise<void>((res) => s.send(g, dns.address.port, '127.0.0.1', () => res()));
  }
  s.close();
  assert.deepEqual(await r.resolve4('httpbin.org'), ['127.0.0.10']);
});

test('parseQuery rejects responses, truncated names and label overruns', () => {
  assert.equal(parseQuery(Buffer.alloc(11)), null);
  const resp = Buffer.alloc(17);
  resp.writeUInt16BE(0x8000, 2);
  resp.writeUInt16BE(1, 4);
  assert.equal(parseQuery(resp), null);
  const overrun = Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0x61]);
  assert.equal(parseQuery(overrun), null);
});
