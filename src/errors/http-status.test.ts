/** Every refusal a handler answers on the wire takes its HTTP status from the catalogue, and each status is valid. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { CATALOGUE, type ErrorCode } from './catalogue.ts';
import type { CodeInfo } from './define.ts';
import { statusOf, UNCATALOGUED_STATUS } from './http-status.ts';

const SRC = join(import.meta.dirname, '..');
const info = (code: string): CodeInfo => (CATALOGUE as Record<string, CodeInfo>)[code];

/** The sources that answer refusals on the wire: the HBONE server, the L4 data plane and what it decides with, L7, agent. */
const HANDLERS = ['hbone/server.ts', 'dataplane', 'upstream', 'policy', 'mesh/decide.ts', 'waypoint', 'agent'];

/**
 * Codes those sources name that are never answered with an HTTP status: allow decisions, connections closed before
 * or after the CONNECT is answered (TLS, HTTP/2 session, SNI check after 200), SOCKS5-only replies, configuration
 * errors. A code in this list must not get an httpStatus, so the list cannot go stale.
 */
const NEVER_ANSWERED = new Set([
  'PCL_AGENT_CLIENT_ABORTED',
  'PCL_AGENT_HANDSHAKE_TIMEOUT',
  'PCL_AGENT_SOCKS_UNSUPPORTED',
  'PCL_AGENT_UNKNOWN_PROTOCOL',
  'PCL_AUTHZ_ALLOWED_BY_POLICY',
  'PCL_AUTHZ_ALLOWED_NO_POLICIES',
  'PCL_DATAPLANE_CLIENT_HELLO_INVALID',
  'PCL_DATAPLANE_HTTP_TUNNEL',
  'PCL_DATAPLANE_IDLE_TIMEOUT',
  'PCL_DATAPLANE_SNI_MISMATCH',
  'PCL_DATAPLANE_SNI_MISSING',
  'PCL_EGRESS_POLICY_ALLOW',
  'PCL_EGRESS_POLICY_INVALID_CIDR',
  'PCL_HBONE_ALPN_REFUSED',
  'PCL_HBONE_CONNECTION_LIMIT',
  'PCL_HBONE_HANDSHAKE_LIMIT',
  'PCL_HBONE_HANDSHAKE_TIMEOUT',
  'PCL_HBONE_KEEPALIVE_TIMEOUT',
  'PCL_HBONE_PEER_IDENTITY_REFUSED',
  'PCL_HBONE_PROTOCOL_ERROR',
  'PCL_HBONE_RAPID_RESET',
  'PCL_HBONE_SESSION_IDLE',
  'PCL_HBONE_TLS_HANDSHAKE_FAILED',
  'PCL_HBONE_TUNNEL_CLOSED',
]);

function sources(rel: string): string[] {
  const full = join(SRC, rel);
  if (!statSync(full).isDirectory()) return [full];
  return readdirSync(full, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.bench.ts'))
    .map((f) => join(full, f));
}

function handlerCodes(): Set<string> {
  const codes = new Set<string>();
  for (const rel of HANDLERS) {
    for (const file of sources(rel)) {
      for (const m of readFileSync(file, 'utf8').matchAll(/'(PCL_[A-Z0-9_]+)'/g))
        if (m[1] in CATALOGUE) codes.add(m[1]);
    }
  }
  return codes;
}

test('every catalogued httpStatus is a known HTTP error status', () => {
  const withStatus = Object.keys(CATALOGUE).filter((code) => info(code).httpStatus !== undefined);
  assert.ok(withStatus.length >= 40, `expected the refusal codes to carry statuses, found ${withStatus.length}`);
  for (const code of withStatus) {
    const status = info(code).httpStatus as number;
    assert.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code}: ${status} is not 4xx/5xx`);
    assert.ok(STATUS_CODES[status] !== undefined, `${code}: ${status} is not a registered HTTP status`);
  }
});

test('every code the handlers name has an httpStatus, or is listed as never answered with one', () => {
  const codes = handlerCodes();
  assert.ok(codes.size > 50, `expected the handlers to name many codes, found ${codes.size}`);
  const missing = [...codes].filter((c) => info(c).httpStatus === undefined && !NEVER_ANSWERED.has(c));
  assert.deepEqual(missing, [], `codes answered on the wire without an httpStatus: ${missing.join(', ')}`);
  for (const code of NEVER_ANSWERED) {
    assert.ok(code in CATALOGUE, `${code} is not in the catalogue`);
    assert.equal(info(code).httpStatus, undefined, `${code} is listed as never answered but has an httpStatus`);
  }
  for (const code of Object.keys(CATALOGUE)) {
    if (/^PCL_WAYPOINT_/.test(code)) assert.ok(info(code).httpStatus !== undefined, `waypoint Refusal code ${code}`);
  }
});

test('statusOf reads the catalogue, and a code without a status still refuses', () => {
  assert.equal(statusOf('PCL_HBONE_BAD_AUTHORITY'), 400);
  assert.equal(statusOf('PCL_AUTHZ_DENIED_EXPLICIT'), 401);
  assert.equal(statusOf('PCL_HBONE_HEADERS_TOO_LARGE'), 431);
  assert.equal(statusOf('PCL_WAYPOINT_NO_ROUTE'), 404);
  assert.equal(statusOf('PCL_AGENT_GATEWAY_DENIED'), 403);
  const none: ErrorCode = 'PCL_HBONE_SESSION_IDLE';
  assert.equal(statusOf(none), UNCATALOGUED_STATUS);
  assert.ok(UNCATALOGUED_STATUS >= 500);
});
