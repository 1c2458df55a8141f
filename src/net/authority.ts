/**
 * The `host:port` authority: an HBONE CONNECT `:authority` (ztunnel `HboneAddress`), and every destination a user
 * writes (`check --to`, agent flags). One parser, so the gateway and the commands agree on what is malformed.
 */
import { ipFamily } from './ip-syntax.ts';

export interface HboneAuthority {
  /** IP literal (without brackets) or lower-cased hostname. */
  readonly host: string;
  readonly port: number;
  readonly isIp: boolean;
  /** The authority as received. */
  readonly raw: string;
}

export type AuthorityParseResult =
  | { readonly ok: true; readonly authority: HboneAuthority }
  | { readonly ok: false; readonly reason: string };

// No leading zeros: `host:0443` is refused rather than read as 443, so every reader of the authority sees one port.
const PORT_RE = /^(?:0|[1-9][0-9]{0,4})$/;
const LABEL_RE = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const MAX_HOSTNAME = 253;

/**
 * Parse an authority like ztunnel does (a socket address first, else host + port), but strictly: the port must be
 * 1–65535 in plain decimal, a hostname must be DNS labels, and a name whose last label is numeric is refused
 * because resolvers read `1.2.3` as an IPv4 address (an SSRF trick).
 */
export function parseAuthority(raw: string): AuthorityParseResult {
  const fail = (reason: string): AuthorityParseResult => ({
    ok: false,
    reason: `malformed :authority "${raw}": ${reason}`,
  });
  if (raw.length === 0) return fail('empty');
  if (raw.length > MAX_HOSTNAME + 8 + 2) return fail('too long');
  let host: string;
  let portText: string;
  if (raw.startsWith('[')) {
    const close = raw.indexOf(']');
    if (close < 0 || raw[close + 1] !== ':') return fail('expected [ipv6]:port');
    host = raw.slice(1, close);
    portText = raw.slice(close + 2);
    if (ipFamily(host) !== 6) return fail(`"${host}" is not an IPv6 address`);
  } else {
    const colon = raw.lastIndexOf(':');
    if (colon < 0) return fail('missing port');
    host = raw.slice(0, colon);
    portText = raw.slice(colon + 1);
    if (host.includes(':')) return fail('an IPv6 address must be written in brackets, [addr]:port');
  }
  if (!PORT_RE.test(portText)) return fail(`port "${portText}" is not a number 1-65535 without leading zeros`);
  const port = Number(portText);
  if (port < 1 || port > 65535) return fail(`port ${port} is out of range 1-65535`);
  const family = ipFamily(host);
  if (family === 6) return { ok: true, authority: { host: host.toLowerCase(), port, isIp: true, raw } };
  if (family === 4) return { ok: true, authority: { host, port, isIp: true, raw } };
  const name = host.toLowerCase();
  if (name.length === 0) return fail('empty host');
  if (name.length > MAX_HOSTNAME) return fail('hostname longer than 253 characters');
  const labels = name.split('.');
  for (const label of labels) {
    if (!LABEL_RE.test(label)) return fail(`"${host}" is not a valid hostname`);
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1])) return fail(`"${host}" looks like a partial IP address`);
  return { ok: true, authority: { host: name, port, isIp: false, raw } };
}

/** Format a host and port as an authority, bracketing IPv6 (`[::1]:80`). */
export function formatAuthority(host: string, port: number): string {
  return ipFamily(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
