/** Classify an upstream failure into the code a user can act on (its status is 503 unreachable / TLS, 502 invalid). */
import type { WaypointCode } from '../errors/waypoint-codes.ts';

export interface UpstreamFailure {
  readonly code: WaypointCode;
  readonly reason: string;
}

// OpenSSL verification results node reports as `err.code` (X509_V_ERR_* names).
const CA_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
]);

/** Map an error from the upstream request to a response. `where` names the upstream (`10.0.0.1:443 (sni x)`). */
export function classifyUpstreamError(err: Error & { code?: string }, where: string): UpstreamFailure {
  const code = err.code ?? '';
  if (code === 'PCL_WAYPOINT_UPSTREAM_SAN') return { code, reason: `${where}: ${err.message}` };
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return {
      code: 'PCL_WAYPOINT_UPSTREAM_SAN',
      reason: `${where}: upstream certificate SAN check failed: ${err.message}`,
    };
  }
  if (CA_ERRORS.has(code)) {
    return {
      code: 'PCL_WAYPOINT_UPSTREAM_CA',
      reason: `${where}: upstream certificate failed CA verification: ${code}`,
    };
  }
  if (code.startsWith('HPE_')) {
    return {
      code: 'PCL_WAYPOINT_UPSTREAM_INVALID_RESPONSE',
      reason: `${where}: invalid upstream response: ${err.message}`,
    };
  }
  if (code.startsWith('ERR_SSL_') && /CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN/.test(code)) {
    return {
      code: 'PCL_WAYPOINT_UPSTREAM_UNREACHABLE',
      reason: `${where}: upstream rejected the client certificate (${code})`,
    };
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return {
      code: 'PCL_WAYPOINT_UPSTREAM_INVALID_RESPONSE',
      reason: `${where}: upstream did not answer TLS (${code}); is the port plain HTTP?`,
    };
  }
  const what = code || err.message;
  return {
    code: 'PCL_WAYPOINT_UPSTREAM_UNREACHABLE',
    reason: `${where}: upstream connect error or disconnect/reset before headers: ${what}`,
  };
}
