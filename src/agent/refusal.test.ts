/** A refusal reaches each protocol in its own words: HTTP status + reason header/body, or a SOCKS5 reply code. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { httpStatusFor, rawRefusalResponse, socksReplyFor, type Refusal } from './refusal.ts';

const r = (kind: Refusal['kind'], extra: Partial<Refusal> = {}): Refusal => ({
  kind,
  code: 'PCL_AGENT_GATEWAY_DENIED',
  reason: 'why',
  ...extra,
});

test('HTTP status per code and SOCKS5 reply per kind', () => {
  const table: [Refusal, number, number][] = [
    [r('denied'), 403, 0x02],
    [r('denied', { code: 'PCL_AGENT_EGRESS_DENIED' }), 403, 0x02],
    [r('denied', { code: 'PCL_AGENT_DNS_FAILED' }), 403, 0x02],
    [r('unavailable', { code: 'PCL_AGENT_UPSTREAM_UNAVAILABLE' }), 503, 0x04],
    [r('gateway', { code: 'PCL_AGENT_GATEWAY_UNREACHABLE', errno: 'ECONNREFUSED' }), 502, 0x05],
    [r('gateway', { code: 'PCL_AGENT_GATEWAY_UNREACHABLE', errno: 'ETIMEDOUT' }), 502, 0x04],
    [r('gateway', { code: 'PCL_AGENT_GATEWAY_ERROR' }), 502, 0x01],
    [r('unreachable', { code: 'PCL_AGENT_DIRECT_FAILED', errno: 'ENETUNREACH' }), 502, 0x03],
    [r('unreachable', { code: 'PCL_AGENT_DIRECT_FAILED', errno: 'ENOTFOUND' }), 502, 0x04],
    [r('badRequest', { code: 'PCL_AGENT_BAD_REQUEST' }), 400, 0x01],
    [r('badRequest', { code: 'PCL_AGENT_SELF_CONNECT' }), 400, 0x01],
    [r('badRequest', { code: 'PCL_AGENT_HEADERS_TOO_LARGE' }), 431, 0x01],
  ];
  for (const [refusal, status, reply] of table) {
    assert.equal(httpStatusFor(refusal), status, JSON.stringify(refusal));
    assert.equal(socksReplyFor(refusal), reply, JSON.stringify(refusal));
  }
});

test('the raw response names the reason and the deciding code; header values cannot inject lines', () => {
  const text = rawRefusalResponse(
    r('denied', {
      reason: 'explicitly denied by: istio-system/deny\r\nx-evil: 1',
      decidingCode: 'PCL_AUTHZ_DENIED',
      gatewayStatus: 401,
    }),
    'CONNECT httpbin.org:443',
  );
  const [head, body] = text.split('\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 403 Forbidden\r\n/);
  assert.match(head, /\r\nx-portcullis-reason: explicitly denied by: istio-system\/deny x-evil: 1\r\n/);
  assert.match(head, /\r\nx-portcullis-code: PCL_AUTHZ_DENIED\r\n/);
  assert.doesNotMatch(head, /\r\nx-evil/);
  assert.equal(
    body,
    'portcullis agent: CONNECT httpbin.org:443 refused by the gateway (HBONE 401): explicitly denied by: istio-system/deny\r\nx-evil: 1 [PCL_AUTHZ_DENIED]\n',
  );
  assert.match(head, new RegExp(`content-length: ${Buffer.byteLength(body)}\\r\\n`));
});
