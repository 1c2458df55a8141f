/**
 * How the waypoint answers a request it will not forward: one `Refusal` value (status, catalogue code, reason,
 * Envoy response flags) that every stage of a request returns instead of throwing, written in one place.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import { statusOf } from '../errors/http-status.ts';
import { CODE_HEADER, headerSafe, REASON_HEADER } from '../errors/refusal-header.ts';
import type { WaypointCode } from '../errors/waypoint-codes.ts';

/**
 * A request the waypoint answers itself. The status is the code's `httpStatus` in the catalogue; `flags` are Envoy's
 * response flags for the access log (`NR`, `UF`, ...).
 */
export class Refusal {
  readonly status: number;
  readonly code: WaypointCode;
  readonly reason: string;
  readonly flags: string;

  constructor(code: WaypointCode, reason: string, flags = '-') {
    this.status = statusOf(code);
    this.code = code;
    this.reason = reason;
    this.flags = flags;
  }
}

/** A stage's result: its value, or why the request stops here. */
export type Staged<T> = T | Refusal;

/** Write a refusal: status, `x-portcullis-code`, `x-portcullis-reason`, the reason as the body. */
export function writeRefusal(res: ServerResponse, refusal: Refusal, close: boolean): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${refusal.reason}\n`;
  const headers: Record<string, string> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    [CODE_HEADER]: refusal.code,
    [REASON_HEADER]: headerSafe(refusal.reason),
  };
  if (close) headers.connection = 'close';
  res.writeHead(refusal.status, headers);
  res.end(body);
}

/** The 400 written straight to the stream when the parser refuses a request (no response object exists). */
export function rawBadRequest(reason: string): string {
  const body = `${reason}\n`;
  const status = statusOf('PCL_WAYPOINT_BAD_REQUEST');
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
    'content-type: text/plain; charset=utf-8\r\n' +
    `${CODE_HEADER}: PCL_WAYPOINT_BAD_REQUEST\r\n` +
    `${REASON_HEADER}: ${headerSafe(reason)}\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n` +
    'connection: close\r\n\r\n' +
    body
  );
}
