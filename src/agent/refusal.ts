/**
 * Why a tunnel was not opened, and how each proxy protocol tells the client: an HTTP status with the reason in a
 * header and the body, or a SOCKS5 reply code (RFC 1928 §6). Pure, so the mapping is table-tested.
 */
import type { AgentCode } from '../errors/agent-codes.ts';
import { statusOf } from '../errors/http-status.ts';
import { CODE_HEADER, headerSafe, REASON_HEADER } from '../errors/refusal-header.ts';

export type RefusalKind =
  /** Policy said no: the gateway's 401, or egressPolicies locally. */
  | 'denied'
  /** The gateway could not reach the destination (its 503). */
  | 'unavailable'
  /** The gateway itself could not be reached or answered nonsense. */
  | 'gateway'
  /** A direct (egressPolicies Allow) destination could not be reached, or its name not resolved. */
  | 'unreachable'
  /** The client asked for something malformed. */
  | 'badRequest';

export interface Refusal {
  readonly kind: RefusalKind;
  /** The agent's code for what happened (logged). */
  readonly code: AgentCode;
  /** One line a person can act on; shown to the client. */
  readonly reason: string;
  /** The code of the decision behind a denial (e.g. PCL_AUTHZ_..., PCL_EGRESS_POLICY_DENY), when one is known. */
  readonly decidingCode?: string;
  /** The HBONE status the gateway answered, when it answered. */
  readonly gatewayStatus?: number;
  /** The socket error code (ECONNREFUSED, ENOTFOUND, ...), when a connection failed. */
  readonly errno?: string;
}

/** The refusal headers, from their one home (the gateway sends the same names on its refusals). */
export { CODE_HEADER, REASON_HEADER };

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  403: 'Forbidden',
  431: 'Request Header Fields Too Large',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/**
 * The HTTP status a proxy client sees: the code's `httpStatus` in the catalogue (403 denied, 503 upstream unreachable,
 * 502 gateway or direct failure, 400/431 malformed).
 */
export function httpStatusFor(r: Refusal): number {
  return statusOf(r.code);
}

export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? 'Error';
}

/** RFC 1928 §6 reply codes. */
export const SOCKS_REPLY = {
  succeeded: 0x00,
  generalFailure: 0x01,
  notAllowed: 0x02,
  networkUnreachable: 0x03,
  hostUnreachable: 0x04,
  connectionRefused: 0x05,
  ttlExpired: 0x06,
  commandNotSupported: 0x07,
  addressTypeNotSupported: 0x08,
} as const;

/** The SOCKS5 reply code matching a refusal (the same meaning the HTTP status carries). */
export function socksReplyFor(r: Refusal): number {
  switch (r.kind) {
    case 'denied':
      return SOCKS_REPLY.notAllowed;
    case 'unavailable':
      return SOCKS_REPLY.hostUnreachable;
    case 'badRequest':
      return SOCKS_REPLY.generalFailure;
    case 'gateway':
    case 'unreachable':
      switch (r.errno) {
        case 'ECONNREFUSED':
          return SOCKS_REPLY.connectionRefused;
        case 'ENETUNREACH':
          return SOCKS_REPLY.networkUnreachable;
        case 'EHOSTUNREACH':
        case 'ETIMEDOUT':
        case 'ENOTFOUND':
        case 'EAI_AGAIN':
          return SOCKS_REPLY.hostUnreachable;
        default:
          return r.kind === 'unreachable' ? SOCKS_REPLY.hostUnreachable : SOCKS_REPLY.generalFailure;
      }
  }
}

/** The complete HTTP/1.1 response for a refusal: status, reason header, deciding-code header, plain-text body. */
export function refusalResponse(
  r: Refusal,
  what: string,
): { status: number; headers: Record<string, string>; body: string } {
  const status = httpStatusFor(r);
  const code = r.decidingCode ?? r.code;
  const who = r.gatewayStatus !== undefined ? ` by the gateway (HBONE ${r.gatewayStatus})` : '';
  const body = `portcullis agent: ${what} refused${who}: ${r.reason} [${code}]\n`;
  return {
    status,
    headers: {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      [REASON_HEADER]: headerSafe(r.reason),
      [CODE_HEADER]: code,
      connection: 'close',
    },
    body,
  };
}

/** Serialize `refusalResponse` as raw HTTP/1.1 bytes (for sockets no longer owned by node's HTTP server). */
export function rawRefusalResponse(r: Refusal, what: string): string {
  const { status, headers, body } = refusalResponse(r, what);
  const lines = [`HTTP/1.1 ${status} ${statusText(status)}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}
