/** Error codes owned by the hbone layer. Codes are stable: never rename one, only add. */
import { defineCodes } from './define.ts';

export const hboneCodes = defineCodes({
  PCL_HBONE_TLS_HANDSHAKE_FAILED: {
    summary:
      'The mTLS handshake failed: no client certificate, a certificate from another CA, an expired certificate, or not TLS 1.3.',
    fix: 'Give the client a current workload certificate issued by the mesh CA (root-cert.pem of the gateway) and use TLS 1.3.',
  },
  PCL_HBONE_ALPN_REFUSED: {
    summary: 'The client did not offer the ALPN protocol "h2"; HBONE is HTTP/2 only.',
    fix: 'Connect with an HBONE client (ztunnel or an HTTP/2 client offering ALPN h2) to the HBONE port.',
  },
  PCL_HBONE_HANDSHAKE_TIMEOUT: {
    summary: 'The TLS handshake did not complete in time.',
    fix: 'Check the network path to the gateway; raise the handshake timeout only if clients are known to be slow.',
  },
  PCL_HBONE_PEER_IDENTITY_REFUSED: {
    summary: "The client certificate has no SPIFFE URI SAN in the gateway's trust domain.",
    fix: 'Issue the client certificate with a SPIFFE ID in the mesh trust domain; see PCL_IDENTITY_NO_SPIFFE_SAN and PCL_IDENTITY_TRUST_DOMAIN_MISMATCH.',
  },
  PCL_HBONE_PROTOCOL_ERROR: {
    summary:
      'The client broke the HTTP/2 protocol (no connection preface, bad frames or header compression); its session was closed.',
    fix: 'Use a conforming HTTP/2 client; other sessions are not affected.',
  },
  PCL_HBONE_NON_CONNECT: {
    httpStatus: 400,
    summary: 'An HBONE stream used a method other than CONNECT; answered 400.',
    fix: 'Send an HTTP/2 CONNECT with :authority set to the destination ip:port or host:port.',
  },
  PCL_HBONE_BAD_AUTHORITY: {
    httpStatus: 400,
    summary:
      'The CONNECT :authority is not ip:port, [ipv6]:port or host:port with a port from 1 to 65535; answered 400.',
    fix: 'Set :authority to the destination as ztunnel does, e.g. 10.0.0.1:443, [fd00::1]:443 or httpbin.org:443.',
  },
  PCL_HBONE_HEADERS_TOO_LARGE: {
    httpStatus: 431,
    summary: 'The request header list is larger than the limit; answered 431.',
    fix: 'Send fewer or smaller headers (HBONE needs only :authority, baggage, forwarded and traceparent), or raise maxHeaderListSize.',
  },
  PCL_HBONE_TOO_MANY_TUNNELS: {
    httpStatus: 503,
    summary: 'The gateway already carries its maximum number of tunnels; the stream was answered 503.',
    fix: 'Retry later, run more gateway replicas, or raise maxTunnels if the host has the capacity.',
  },
  PCL_HBONE_RAPID_RESET: {
    summary:
      'The client reset too many streams before they were answered (HTTP/2 rapid reset, CVE-2023-44487); the session got GOAWAY ENHANCE_YOUR_CALM.',
    fix: 'Find the client that opens and cancels streams in a loop; raise maxResetsPerWindow only for a known well-behaved client.',
  },
  PCL_HBONE_KEEPALIVE_TIMEOUT: {
    summary: 'The peer did not answer an HTTP/2 PING in time; the session was dropped.',
    fix: 'Check the network path between the client and the gateway (an idle-timeout middlebox or a NetworkPolicy dropping 15008).',
  },
  PCL_HBONE_SESSION_IDLE: {
    summary: 'A session carried no tunnel for the idle timeout and was closed with GOAWAY.',
    fix: 'Nothing to do: clients open a new session when they need one.',
  },
  PCL_HBONE_HANDLER_FAILED: {
    httpStatus: 503,
    summary: 'The tunnel handler failed before answering; the stream was answered 503.',
    fix: 'See the gateway log for the underlying error.',
  },
  PCL_HBONE_CONNECT_FAILED: {
    summary: 'The HBONE client could not set up a session with the gateway (TCP, TLS or HTTP/2).',
    fix: 'Check the gateway address and port 15008, that a NetworkPolicy is not blocking it, and that both sides share the root certificate.',
  },
  PCL_HBONE_STATUS: {
    summary:
      'The gateway answered the CONNECT with a status other than 200 (400 malformed, 401 denied by policy, 503 unreachable).',
    fix: 'Read the status and reason: 401 means an AuthorizationPolicy or egressPolicies denied the caller; 503 means the destination has no such port or cannot be reached.',
  },
  PCL_HBONE_TUNNEL_CLOSED: {
    summary: 'The gateway closed an open tunnel (policy change, drain or shutdown).',
    fix: 'See the reason in the event; after a policy change the caller must be allowed again before it reconnects.',
  },
  PCL_HBONE_HANDSHAKE_LIMIT: {
    summary:
      'Too many connections were still in the TLS handshake (maxPendingHandshakes in all, or maxPendingHandshakesPerSource from one address); one was closed.',
    fix: 'Find the address that opens connections without finishing TLS (a scanner, a broken client); raise the limits in portcullis.yaml `limits:` only for a known burst of real workloads.',
  },
  PCL_HBONE_CONNECTION_LIMIT: {
    summary:
      'The gateway holds maxConnections connections; the oldest one still in the TLS handshake was closed, or, with every connection established, the new one was refused.',
    fix: 'Run more gateway replicas or raise limits.maxConnections in portcullis.yaml if the host has the descriptors.',
  },
  PCL_HBONE_IDENTITY_TUNNEL_LIMIT: {
    httpStatus: 503,
    summary: 'One SPIFFE identity already holds maxTunnelsPerIdentity tunnels; the stream was answered 503.',
    fix: 'Find why the workload keeps so many tunnels open (a leak, no pooling); raise limits.maxTunnelsPerIdentity only for a workload known to need it.',
  },
  PCL_HBONE_SESSION_TUNNEL_LIMIT: {
    httpStatus: 503,
    summary: 'One HTTP/2 connection already carries maxTunnelsPerSession tunnels; the stream was answered 503.',
    fix: 'Open another connection for more tunnels (ztunnel does at 100 streams per connection), or raise limits.maxTunnelsPerSession.',
  },
});
