/**
 * SOCKS5 (RFC 1928) handshake parsing, incremental and pure: the method selection and the CONNECT request, with the
 * RFC's reply codes for what the agent does not offer (only "no authentication" and CONNECT, as ztunnel's SOCKS5
 * outbound port).
 */
import { formatAuthority, parseAuthority } from '../net/authority.ts';
import { SOCKS_REPLY } from './refusal.ts';
import type { AgentTarget } from './route.ts';

export const SOCKS_VERSION = 0x05;
export const METHOD_NO_AUTH = 0x00;
export const METHOD_NONE_ACCEPTABLE = 0xff;
const CMD_CONNECT = 0x01;
const ATYP_IPV4 = 0x01;
const ATYP_DOMAIN = 0x03;
const ATYP_IPV6 = 0x04;

export type SocksParse<T> =
  | { readonly status: 'incomplete' }
  | { readonly status: 'ok'; readonly value: T; readonly consumed: number }
  /** `reply` is the RFC 1928 reply to send before closing; absent means close without a reply (not SOCKS5). */
  | { readonly status: 'error'; readonly reason: string; readonly reply?: number };

/** Method selection: VER NMETHODS METHODS... The value is whether "no authentication" was offered. */
export function parseGreeting(buf: Buffer): SocksParse<{ readonly noAuthOffered: boolean }> {
  if (buf.length < 1) return { status: 'incomplete' };
  if (buf[0] !== SOCKS_VERSION) return { status: 'error', reason: `unsupported SOCKS version ${buf[0]}` };
  if (buf.length < 2) return { status: 'incomplete' };
  const n = buf[1];
  if (buf.length < 2 + n) return { status: 'incomplete' };
  const methods = buf.subarray(2, 2 + n);
  return { status: 'ok', value: { noAuthOffered: methods.includes(METHOD_NO_AUTH) }, consumed: 2 + n };
}

/** The request: VER CMD RSV ATYP DST.ADDR DST.PORT. Only CONNECT; IPv4, IPv6 and domain names. */
export function parseRequest(buf: Buffer): SocksParse<AgentTarget> {
  if (buf.length < 1) return { status: 'incomplete' };
  if (buf[0] !== SOCKS_VERSION)
    return { status: 'error', reason: `unsupported SOCKS version ${buf[0]} in the request` };
  if (buf.length < 4) return { status: 'incomplete' };
  const cmd = buf[1];
  if (cmd !== CMD_CONNECT) {
    const name = cmd === 0x02 ? 'BIND' : cmd === 0x03 ? 'UDP ASSOCIATE' : `0x${cmd.toString(16).padStart(2, '0')}`;
    return {
      status: 'error',
      reason: `SOCKS5 command ${name} is not supported (only CONNECT)`,
      reply: SOCKS_REPLY.commandNotSupported,
    };
  }
  const atyp = buf[3];
  let host: string;
  let at: number;
  if (atyp === ATYP_IPV4) {
    if (buf.length < 4 + 4 + 2) return { status: 'incomplete' };
    host = [...buf.subarray(4, 8)].join('.');
    at = 8;
  } else if (atyp === ATYP_IPV6) {
    if (buf.length < 4 + 16 + 2) return { status: 'incomplete' };
    const groups: string[] = [];
    for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(4 + i * 2).toString(16));
    // The URL parser prints an IPv6 address in its canonical compressed form (RFC 5952), e.g. ::1.
    host = new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
    at = 20;
  } else if (atyp === ATYP_DOMAIN) {
    if (buf.length < 5) return { status: 'incomplete' };
    const len = buf[4];
    if (buf.length < 5 + len + 2) return { status: 'incomplete' };
    host = buf.subarray(5, 5 + len).toString('latin1');
    at = 5 + len;
  } else {
    return {
      status: 'error',
      reason: `SOCKS5 address type 0x${atyp.toString(16).padStart(2, '0')} is not supported`,
      reply: SOCKS_REPLY.addressTypeNotSupported,
    };
  }
  const port = buf.readUInt16BE(at);
  // Validate as an authority, so a SOCKS destination obeys exactly the rules a CONNECT target does.
  const parsed = parseAuthority(formatAuthority(host, port));
  if (!parsed.ok) {
    return {
      status: 'error',
      reason: parsed.reason.replace(/^malformed :authority/, 'bad SOCKS5 destination'),
      reply: SOCKS_REPLY.generalFailure,
    };
  }
  const { authority } = parsed;
  return {
    status: 'ok',
    value: { host: authority.host, port: authority.port, isIp: authority.isIp },
    consumed: at + 2,
  };
}

/** A reply: VER REP RSV ATYP BND.ADDR BND.PORT, with BND 0.0.0.0:0 (clients of a CONNECT proxy ignore it). */
export function encodeReply(code: number): Buffer {
  return Buffer.from([SOCKS_VERSION, code, 0x00, ATYP_IPV4, 0, 0, 0, 0, 0, 0]);
}
