/** ClientHello parser: real hellos from node's TLS client, then truncated, fragmented, garbage and oversized inputs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { MAX_CLIENT_HELLO_BYTES, parseClientHello } from './client-hello.ts';
import { checkSni } from './sni-check.ts';

/** Capture the first flight a node TLS client sends to a plain TCP server (which never answers). */
async function captureHello(options: {
  servername?: string;
  ALPNProtocols?: string[];
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
}): Promise<Buffer> {
  let chunks: Buffer[] = [];
  const captured = new Promise<Buffer>((resolve) => {
    const server = createServer((sock) => {
      sock.on('data', (d: Buffer) => {
        chunks.push(d);
        const all = Buffer.concat(chunks);
        // The record header says how long the first record is; wait for all of it.
        if (all.length >= 5 && all.length >= 5 + all.readUInt16BE(3)) {
          sock.destroy();
          server.close();
          resolve(all);
        }
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      const client = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
      client.on('error', () => {});
    });
  });
  const out = await captured;
  chunks = [];
  return out;
}

test('reads the SNI and ALPN of a real TLS 1.3 ClientHello', async () => {
  const hello = await captureHello({ servername: 'httpbin.org', ALPNProtocols: ['h2', 'http/1.1'] });
  const r = parseClientHello(hello);
  assert.equal(r.status, 'ok');
  if (r.status !== 'ok') return;
  assert.equal(r.hello.sni, 'httpbin.org');
  assert.deepEqual(r.hello.alpn, ['h2', 'http/1.1']);
  assert.equal(r.hello.ech, false);
  assert.equal(r.hello.length, hello.length);
});

test('a ClientHello without SNI parses with sni null; upper case SNI is lower-cased', async () => {
  const none = parseClientHello(await captureHello({ servername: '' }));
  assert.equal(none.status, 'ok');
  if (none.status === 'ok') assert.equal(none.hello.sni, null);
  const upper = parseClientHello(await captureHello({ servername: 'HTTPBIN.org', maxVersion: 'TLSv1.2' }));
  assert.equal(upper.status, 'ok');
  if (upper.status === 'ok') assert.equal(upper.hello.sni, 'httpbin.org');
});

test('every strict prefix of a ClientHello is incomplete, never invalid', async () => {
  const hello = await captureHello({ servername: 'api.example.com' });
  for (let n = 0; n < hello.length; n++) {
    assert.equal(parseClientHello(hello.subarray(0, n)).status, 'incomplete', `prefix of ${n} bytes`);
  }
});

test('a ClientHello fragmented over several records is reassembled; trailing bytes are left alone', async () => {
  const hello = await captureHello({ servername: 'httpbin.org' });
  const body = hello.subarray(5);
  const record = (payload: Buffer): Buffer => {
    const head = Buffer.from([22, 3, 1, 0, 0]);
    head.writeUInt16BE(payload.length, 3);
    return Buffer.concat([head, payload]);
  };
  const split = Buffer.concat([record(body.subarray(0, 3)), record(body.subarray(3, 100)), record(body.subarray(100))]);
  const more = Buffer.concat([split, Buffer.from([23, 3, 3, 0, 1, 0])]);
  const r = parseClientHello(more);
  assert.equal(r.status, 'ok');
  if (r.status === 'ok') {
    assert.equal(r.hello.sni, 'httpbin.org');
    assert.equal(r.hello.length, split.length);
  }
  for (let n = 0; n < split.length; n++) assert.equal(parseClientHello(split.subarray(0, n)).status, 'incomplete');
});

test('garbage, plaintext HTTP and other TLS records are invalid with a reason', () => {
  const cases: [Buffer, RegExp][] = [
    [Buffer.from('GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n'), /not a TLS handshake record/],
    [Buffer.from([23, 3, 3, 0, 5, 1, 2, 3, 4, 5]), /not a TLS handshake record/],
    [Buffer.from([22, 2, 0, 0, 5, 1, 2, 3, 4, 5]), /not a TLS record/],
    [Buffer.from([22, 3, 1, 0, 0]), /empty handshake record/],
    [Buffer.from([22, 3, 1, 0xff, 0xff]), /exceeds the TLS maximum/],
    [Buffer.from([22, 3, 1, 0, 4, 2, 0, 0, 0]), /not ClientHello/],
    [Buffer.from([22, 3, 1, 0, 4, 1, 0, 0, 0]), /truncated ClientHello/],
    // A handshake header claiming a 16 MiB ClientHello.
    [Buffer.from([22, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff]), /exceeds the \d+-byte limit/],
  ];
  for (const [input, reason] of cases) {
    const r = parseClientHello(input);
    assert.equal(r.status, 'invalid', input.toString('hex'));
    if (r.status === 'invalid') assert.match(r.reason, reason);
  }
});

test('a hand-built hello with a bad, duplicated or odd server_name is refused', () => {
  const sniExt = (entries: Buffer[]): Buffer => {
    const list = Buffer.concat(entries);
    const ext = Buffer.alloc(6);
    ext.writeUInt16BE(0, 0);
    ext.writeUInt16BE(list.length + 2, 2);
    ext.writeUInt16BE(list.length, 4);
    return Buffer.concat([ext, list]);
  };
  const name = (text: string | Buffer): Buffer => {
    const b = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
    const h = Buffer.alloc(3);
    h.writeUInt16BE(b.length, 1);
    return Buffer.concat([h, b]);
  };
  const hello = (exts: Buffer[]): Buffer => {
    const extBlock = Buffer.concat(exts);
    const extLen = Buffer.alloc(2);
    extLen.writeUInt16BE(extBlock.length);
    const body = Buffer.concat([
      Buffer.from([3, 3]),
      Buffer.alloc(32),
      Buffer.from([0, 0, 2, 0x13, 0x01, 1, 0]),
      extLen,
      extBlock,
    ]);
    const hs = Buffer.concat([Buffer.from([1, 0, 0, 0]), body]);
    hs.writeUIntBE(body.length, 1, 3);
    const rec = Buffer.from([22, 3, 1, 0, 0]);
    rec.writeUInt16BE(hs.length, 3);
    return Buffer.concat([rec, hs]);
  };
  const ok = parseClientHello(hello([sniExt([name('Good.Example')])]));
  assert.deepEqual(ok.status === 'ok' && ok.hello.sni, 'good.example');
  const bad: [Buffer, RegExp][] = [
    [hello([sniExt([name('a.example'), name('b.example')])]), /more than one host_name/],
    [hello([sniExt([name('a.example')]), sniExt([name('b.example')])]), /duplicate extension/],
    [hello([sniExt([name('evil\u0000.example')])]), /not a DNS host name/],
    [hello([sniExt([name('trailing.dot.')])]), /not a DNS host name/],
    [hello([sniExt([name('')])]), /host_name of 0 bytes/],
    [hello([sniExt([])]), /no host_name/],
  ];
  for (const [input, reason] of bad) {
    const r = parseClientHello(input);
    assert.equal(r.status, 'invalid');
    if (r.status === 'invalid') assert.match(r.reason, reason);
  }
  // An encrypted_client_hello extension is reported: its inner SNI cannot be checked.
  const echExt = Buffer.from([0xfe, 0x0d, 0, 1, 0]);
  const withEch = parseClientHello(hello([sniExt([name('public.example')]), echExt]));
  assert.ok(withEch.status === 'ok' && withEch.hello.ech);
  // The draft ESNI extension (0xffce) hides the real server name as well: reported, and the SNI check refuses it.
  const esniExt = Buffer.from([0xff, 0xce, 0, 2, 0x13, 0x01]);
  const withEsni = parseClientHello(hello([sniExt([name('allowed.example')]), esniExt]));
  assert.ok(withEsni.status === 'ok');
  assert.equal(withEsni.hello.esni, true);
  assert.equal(withEsni.hello.ech, false);
  const verdict = checkSni(withEsni.hello, ['allowed.example']);
  assert.equal(verdict.ok, false);
  if (!verdict.ok) {
    assert.equal(verdict.code, 'PCL_DATAPLANE_SNI_MISSING');
    assert.match(verdict.reason, /ESNI, 0xffce/);
  }
  const plain = parseClientHello(hello([sniExt([name('allowed.example')])]));
  assert.ok(plain.status === 'ok' && !plain.hello.esni);
  assert.deepEqual(checkSni(plain.hello, ['allowed.example']), { ok: true });
});

test('random and bit-flipped inputs never throw', async () => {
  const hello = await captureHello({ servername: 'httpbin.org', ALPNProtocols: ['h2'] });
  for (let i = 0; i < 2000; i++) {
    const mutated = Buffer.from(hello);
    for (let k = 0; k < 4; k++) mutated[(Math.random() * mutated.length) | 0] ^= 1 << ((Math.random() * 8) | 0);
    const r = parseClientHello(mutated);
    assert.ok(['ok', 'incomplete', 'invalid'].includes(r.status));
    const garbage = randomBytes((Math.random() * 600) | 0);
    if (i % 2 === 0 && garbage.length > 0) garbage[0] = 22;
    assert.ok(['ok', 'incomplete', 'invalid'].includes(parseClientHello(garbage).status));
  }
  assert.equal(parseClientHello(Buffer.alloc(MAX_CLIENT_HELLO_BYTES * 2, 22)).status, 'invalid');
});
