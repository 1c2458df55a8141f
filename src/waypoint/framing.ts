/**
 * The first stage of an L7 request: what llhttp accepted is checked for what it does not refuse itself (Host, the
 * HTTP version, the transfer coding, a `Connection` header naming the framing), the authority's port is checked
 * (no leading zeros), and the target is reduced to the one normalised path the request will be authorized,
 * routed and forwarded with. Pure.
 */
import type { PathNormalization } from '../config/settings-types.ts';
import { Refusal, type Staged } from './refusal.ts';
import { parseTarget, type RequestTarget } from './routing/path.ts';

/** What the parser gave us, as plain values. */
export interface ParsedRequest {
  readonly method: string;
  readonly url: string;
  readonly httpVersionMajor: number;
  readonly httpVersion: string;
  /** Every `Host` line. */
  readonly hostLines: readonly string[];
  /** Every `Connection` line. */
  readonly connectionLines: readonly string[];
  readonly transferEncoding: string | undefined;
  readonly contentLength: string | undefined;
}

/** A request whose framing, authority and target are settled. */
export interface Framed {
  readonly method: string;
  /** The authority the request names: the Host header, or absolute-form's authority (which replaces it). */
  readonly authority: string;
  /** The normalised path and the query as received: authorized, routed and forwarded as is. */
  readonly target: RequestTarget;
  /** The body is chunked; otherwise `contentLength` frames it (null: no body). */
  readonly chunked: boolean;
  readonly contentLength: string | null;
}

/** Fields whose removal as hop-by-hop would change the message's framing or its authority (RFC 9110 §7.6.1). */
const NEVER_HOP_BY_HOP = new Set(['content-length', 'transfer-encoding', 'host']);

const bad = (reason: string): Refusal => new Refusal('PCL_WAYPOINT_BAD_REQUEST', reason, 'DPE');

/**
 * Settle a request's framing and target, or refuse it.
 *
 * @example
 * const framed = frameRequest({ method: 'GET', url: '/public/../admin', ... }, 'BASE'); // target.path === '/admin'
 */
export function frameRequest(req: ParsedRequest, mode: PathNormalization): Staged<Framed> {
  let authority = req.hostLines[0] ?? '';
  let target = req.url;
  if (req.httpVersionMajor !== 1) {
    // llhttp reads a bare `GET /` as HTTP/0.9; Envoy refuses it, and so do we.
    return bad(`HTTP/${req.httpVersion} is not supported; send HTTP/1.1`);
  }
  const absolute = /^(https?):\/\/([^/?#]*)(.*)$/is.exec(target);
  if (absolute) {
    // Absolute-form: its authority replaces Host (RFC 9112 §3.2.2). The path is taken as written (WHATWG URL parsing
    // would normalise it by other rules than the ones the request is authorized by).
    if (absolute[2] === '' || absolute[2].includes('@')) {
      return bad(`malformed request target "${target.slice(0, 200)}"`);
    }
    authority = absolute[2];
    target = absolute[3] === '' ? '/' : absolute[3].startsWith('/') ? absolute[3] : `/${absolute[3]}`;
  }
  if (req.hostLines.length !== 1 || authority === '') {
    const what = req.hostLines.length > 1 ? 'more than one Host header' : 'missing Host header';
    return bad(`${what} (RFC 9112 §3.2)`);
  }
  const portProblem = authorityPortProblem(authority);
  if (portProblem !== null) return bad(portProblem);
  for (const line of req.connectionLines) {
    for (const token of line.split(',')) {
      const name = token.trim().toLowerCase();
      if (NEVER_HOP_BY_HOP.has(name)) {
        return new Refusal(
          'PCL_WAYPOINT_CONNECTION_FRAMING',
          `Connection header names "${name}": framing and Host are never hop-by-hop (RFC 9110 §7.6.1, RFC 9112 §6.1)`,
          'DPE',
        );
      }
    }
  }
  const te = req.transferEncoding;
  if (te !== undefined && te.trim().toLowerCase() !== 'chunked') {
    const reason = `Transfer-Encoding "${te}" is not supported; only chunked is`;
    return new Refusal('PCL_WAYPOINT_UNSUPPORTED_TRANSFER_ENCODING', reason, 'DPE');
  }
  const parsed = parseTarget(target, mode);
  if (!parsed.ok) {
    const code = target.startsWith('/') ? 'PCL_WAYPOINT_PATH_NOT_NORMALIZABLE' : 'PCL_WAYPOINT_BAD_REQUEST';
    return new Refusal(code, parsed.reason, 'DPE');
  }
  return {
    method: req.method,
    authority,
    target: parsed.target,
    chunked: te !== undefined,
    contentLength: te === undefined ? (req.contentLength ?? null) : null,
  };
}

/**
 * Why an authority's port is refused, or null. A port is 1-65535 written without leading zeros: `host:0443` is
 * refused rather than read as 443, so the port a policy matched and the port a log or an upstream reads are one.
 */
export function authorityPortProblem(authority: string): string | null {
  const m = /^(\[[^\]]*\]|[^:[\]]*)(?::(.*))?$/.exec(authority);
  if (!m) return `malformed authority "${authority.slice(0, 200)}"`;
  const port = m[2];
  if (port === undefined || port === '') return null;
  if (!/^[1-9][0-9]{0,4}$/.test(port) || Number(port) > 65535) {
    return `authority port "${port.slice(0, 20)}" is not a port number 1-65535 without leading zeros`;
  }
  return null;
}
