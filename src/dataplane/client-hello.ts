/**
 * Read the SNI of a TLS ClientHello without terminating TLS. Hostile-input safe: every read is bounds-checked,
 * nothing throws, and a bad input yields a reason. Follows RFC 8446 §4.1.2 (ClientHello), §5.1 (records, including
 * a handshake message fragmented over several records) and RFC 6066 §3 (server_name).
 */

/** The most ClientHello bytes the gateway buffers before giving up (a real one is a few hundred bytes to ~2 KiB). */
export const MAX_CLIENT_HELLO_BYTES = 32 * 1024;

const RECORD_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const EXT_ENCRYPTED_CLIENT_HELLO = 0xfe0d;
// The draft "encrypted_server_name" extension (draft-ietf-tls-esni up to -02, shipped by Firefox and Cloudflare):
// the real server name travels encrypted, so the SNI the hello shows (if any) proves nothing.
const EXT_ENCRYPTED_SERVER_NAME = 0xffce;
const SNI_HOST_NAME = 0;
const MAX_RECORD_PAYLOAD = 16384 + 2048; // RFC 8446 §5.2 allows TLSCiphertext up to 2^14 + 256; be lenient.

export interface ClientHelloInfo {
  /** The server_name host_name, lower-cased; null when the extension is absent. */
  readonly sni: string | null;
  readonly alpn: readonly string[];
  /** The ClientHello carries an encrypted_client_hello extension (its real SNI is hidden). */
  readonly ech: boolean;
  /** The ClientHello carries the draft encrypted_server_name (ESNI, 0xffce) extension: its real SNI is hidden too. */
  readonly esni: boolean;
  /** How many bytes of the input the ClientHello records took. */
  readonly length: number;
}

export type ClientHelloResult =
  | { readonly status: 'ok'; readonly hello: ClientHelloInfo }
  /** More bytes are needed; call again with a longer buffer. */
  | { readonly status: 'incomplete' }
  | { readonly status: 'invalid'; readonly reason: string };

const invalid = (reason: string): ClientHelloResult => ({ status: 'invalid', reason });

/** A bounds-checked reader over one byte range. Reads past the end set `failed` and return 0. */
class Reader {
  readonly buf: Uint8Array;
  pos: number;
  readonly end: number;
  failed = false;

  constructor(buf: Uint8Array, start: number, end: number) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  remaining(): number {
    return this.end - this.pos;
  }

  u8(): number {
    if (this.pos + 1 > this.end) return this.fail();
    return this.buf[this.pos++];
  }

  u16(): number {
    if (this.pos + 2 > this.end) return this.fail();
    const v = (this.buf[this.pos] << 8) | this.buf[this.pos + 1];
    this.pos += 2;
    return v;
  }

  u24(): number {
    if (this.pos + 3 > this.end) return this.fail();
    const v = (this.buf[this.pos] << 16) | (this.buf[this.pos + 1] << 8) | this.buf[this.pos + 2];
    this.pos += 3;
    return v;
  }

  /** A sub-reader over the next `n` bytes (failing when fewer remain). */
  sub(n: number): Reader {
    if (n < 0 || this.pos + n > this.end) {
      this.fail();
      return new Reader(this.buf, this.end, this.end);
    }
    const r = new Reader(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }

  skip(n: number): void {
    if (n < 0 || this.pos + n > this.end) this.fail();
    else this.pos += n;
  }

  private fail(): number {
    this.failed = true;
    this.pos = this.end;
    return 0;
  }
}

/**
 * Reassemble the handshake bytes from consecutive handshake records. Returns the handshake bytes and how many input
 * bytes they spanned, or the reason they cannot be a ClientHello.
 */
function collectHandshake(
  input: Uint8Array,
):
  | { status: 'ok'; handshake: Uint8Array; consumed: number }
  | { status: 'incomplete' }
  | { status: 'invalid'; reason: string } {
  const parts: Uint8Array[] = [];
  let have = 0;
  let need = -1; // total handshake bytes (4-byte header + body), known once the header is in
  let pos = 0;
  while (need < 0 || have < need) {
    if (input.length - pos < 5) return { status: 'incomplete' };
    const type = input[pos];
    if (type !== RECORD_HANDSHAKE) {
      return pos === 0
        ? {
            status: 'invalid',
            reason: `not a TLS handshake record (first byte 0x${type.toString(16).padStart(2, '0')})`,
          }
        : { status: 'invalid', reason: 'the ClientHello is interleaved with a non-handshake record' };
    }
    const major = input[pos + 1];
    if (major !== 3) return { status: 'invalid', reason: `not a TLS record (version ${major}.${input[pos + 2]})` };
    const len = (input[pos + 3] << 8) | input[pos + 4];
    if (len === 0) return { status: 'invalid', reason: 'empty handshake record' };
    if (len > MAX_RECORD_PAYLOAD) return { status: 'invalid', reason: `record length ${len} exceeds the TLS maximum` };
    if (input.length - pos - 5 < len) return { status: 'incomplete' };
    parts.push(input.subarray(pos + 5, pos + 5 + len));
    have += len;
    pos += 5 + len;
    if (need < 0 && have >= 4) {
      const head = concat(parts, 4);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO)
        return { status: 'invalid', reason: `first handshake message is type ${head[0]}, not ClientHello` };
      need = 4 + ((head[1] << 16) | (head[2] << 8) | head[3]);
      if (need > MAX_CLIENT_HELLO_BYTES)
        return {
          status: 'invalid',
          reason: `ClientHello of ${need} bytes exceeds the ${MAX_CLIENT_HELLO_BYTES}-byte limit`,
        };
    }
    if (pos > MAX_CLIENT_HELLO_BYTES + 5)
      return { status: 'invalid', reason: 'ClientHello records exceed the size limit' };
  }
  // Bytes of a following handshake message in the last record are allowed (and ignored).
  return { status: 'ok', handshake: concat(parts, need), consumed: pos };
}

function concat(parts: readonly Uint8Array[], n: number): Uint8Array {
  if (parts.length === 1 || parts[0].length >= n) return parts[0].subarray(0, n);
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    const take = Math.min(p.length, n - off);
    out.set(p.subarray(0, take), off);
    off += take;
    if (off === n) break;
  }
  return out;
}

const HOSTNAME_BYTE = /^[a-z0-9._-]+$/;

/**
 * Parse the start of a TLS connection as a ClientHello.
 *
 * @example
 * const r = parseClientHello(firstBytes);
 * if (r.status === 'ok' && r.hello.sni === 'httpbin.org') forward();
 */
export function parseClientHello(input: Uint8Array): ClientHelloResult {
  const collected = collectHandshake(input);
  if (collected.status !== 'ok') return collected;
  const hs = collected.handshake;
  const r = new Reader(hs, 4, hs.length);
  const legacyVersion = r.u16();
  if (r.failed) return invalid('truncated ClientHello');
  if (legacyVersion >> 8 !== 3) return invalid(`ClientHello version 0x${legacyVersion.toString(16)} is not TLS`);
  r.skip(32); // random
  const sessionIdLen = r.u8();
  if (sessionIdLen > 32) return invalid(`legacy_session_id of ${sessionIdLen} bytes (at most 32)`);
  r.skip(sessionIdLen);
  const suitesLen = r.u16();
  if (!r.failed && (suitesLen < 2 || suitesLen % 2 !== 0))
    return invalid(`cipher_suites length ${suitesLen} is not a positive even number`);
  r.skip(suitesLen);
  const compLen = r.u8();
  if (!r.failed && compLen < 1) return invalid('no compression methods');
  r.skip(compLen);
  if (r.failed) return invalid('truncated ClientHello');

  let sni: string | null = null;
  const alpn: string[] = [];
  let ech = false;
  let esni = false;
  // Extensions are optional before TLS 1.3 (a bare TLS 1.2 ClientHello has none, and so no SNI).
  if (r.remaining() > 0) {
    const extLen = r.u16();
    const exts = r.sub(extLen);
    if (r.failed) return invalid('extensions overrun the ClientHello');
    if (r.remaining() !== 0) return invalid('trailing bytes after the extensions');
    const seen = new Set<number>();
    while (exts.remaining() > 0) {
      const type = exts.u16();
      const len = exts.u16();
      const body = exts.sub(len);
      if (exts.failed) return invalid('truncated extension');
      // RFC 8446 §4.2: "There MUST NOT be more than one extension of the same type in a given extension block."
      if (seen.has(type)) return invalid(`duplicate extension ${type}`);
      seen.add(type);
      if (type === EXT_SERVER_NAME) {
        const parsed = parseServerName(body);
        if ('error' in parsed) return invalid(parsed.error);
        sni = parsed.name;
      } else if (type === EXT_ALPN) {
        const list = body.sub(body.u16());
        while (!list.failed && list.remaining() > 0) {
          const n = list.u8();
          const p = list.sub(n);
          if (list.failed || n === 0) return invalid('bad ALPN extension');
          alpn.push(Buffer.from(hs.subarray(p.pos, p.end)).toString('latin1'));
        }
        if (list.failed || body.failed) return invalid('bad ALPN extension');
      } else if (type === EXT_ENCRYPTED_CLIENT_HELLO) {
        ech = true;
      } else if (type === EXT_ENCRYPTED_SERVER_NAME) {
        esni = true;
      }
    }
  }
  return { status: 'ok', hello: { sni, alpn, ech, esni, length: collected.consumed } };
}

/** The host_name of a server_name extension, or why there is none usable. */
function parseServerName(body: Reader): { readonly name: string } | { readonly error: string } {
  const listLen = body.u16();
  const list = body.sub(listLen);
  if (body.failed || body.remaining() !== 0) return { error: 'bad server_name extension length' };
  let name: string | null = null;
  while (list.remaining() > 0) {
    const type = list.u8();
    const len = list.u16();
    const value = list.sub(len);
    if (list.failed) return { error: 'truncated server_name entry' };
    if (type !== SNI_HOST_NAME) continue;
    // RFC 6066 §3: "The ServerNameList MUST NOT contain more than one name of the same name_type."
    if (name !== null) return { error: 'more than one host_name in server_name' };
    if (len === 0 || len > 255) return { error: `server_name host_name of ${len} bytes` };
    const text = Buffer.from(value.buf.subarray(value.pos, value.end)).toString('latin1').toLowerCase();
    // RFC 6066: "HostName" is an ASCII DNS name without a trailing dot; anything else is not a name we can match.
    if (!HOSTNAME_BYTE.test(text) || text.startsWith('.') || text.endsWith('.') || text.includes('..')) {
      return { error: `server_name ${JSON.stringify(text)} is not a DNS host name` };
    }
    name = text;
  }
  if (name === null) return { error: 'server_name carries no host_name' };
  return { name };
}
