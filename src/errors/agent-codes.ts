/** Error codes owned by `portcullis agent` (the workload side). Codes are stable: never rename one, only add. */
import { defineCodes } from './define.ts';

export const agentCodes = defineCodes({
  PCL_AGENT_EGRESS_DENIED: {
    httpStatus: 403,
    summary:
      'The destination is declared by no ServiceEntry bound to a gateway, and egressPolicies deny it; refused locally, nothing left the machine.',
    fix: 'Declare the host with a ServiceEntry labelled istio.io/use-waypoint (and allow the caller by AuthorizationPolicy), or add an egressPolicies Allow entry for its CIDR.',
  },
  PCL_AGENT_GATEWAY_DENIED: {
    httpStatus: 403,
    summary:
      'The gateway refused the tunnel (HBONE 401): an AuthorizationPolicy or egressPolicies denied this identity; the client got 403.',
    fix: 'Read the reason and deciding code in the 403 (x-portcullis-reason) or the agent log; allow the caller with an AuthorizationPolicy on both layers if it should pass.',
  },
  PCL_AGENT_UPSTREAM_UNAVAILABLE: {
    httpStatus: 503,
    summary:
      'The gateway could not reach the destination, or the ServiceEntry declares no such port (HBONE 503); the client got 503.',
    fix: 'Check that the ServiceEntry declares the port and that the external host is up and resolvable from the gateway.',
  },
  PCL_AGENT_GATEWAY_UNREACHABLE: {
    httpStatus: 502,
    summary: 'No HBONE session could be set up with --gateway (TCP, TLS, SAN or HTTP/2 failure); the client got 502.',
    fix: 'Check that the gateway runs on --gateway, that port 15008 is reachable, that both sides share the root certificate, and that the gateway presents the expected SPIFFE SAN.',
  },
  PCL_AGENT_GATEWAY_ERROR: {
    httpStatus: 502,
    summary: 'The gateway answered the CONNECT with an unexpected status (400, 431, ...); the client got 502.',
    fix: 'See the status and reason in the agent log; a 400 usually means the agent and gateway read different configuration (VIPs differ).',
  },
  PCL_AGENT_DIRECT_FAILED: {
    httpStatus: 502,
    summary:
      'A destination allowed by egressPolicies could not be reached directly (refused, unreachable, timed out); the client got 502.',
    fix: 'Check that the destination is up and reachable from this machine.',
  },
  PCL_AGENT_DNS_FAILED: {
    httpStatus: 403,
    summary:
      'A destination host no ServiceEntry declares does not resolve, so egressPolicies have no address to match; denied locally (403), as the gateway denies a name it cannot place.',
    fix: 'Check the host name and the resolver of the machine running the agent, or declare the host with a ServiceEntry bound to the gateway.',
  },
  PCL_AGENT_SELF_CONNECT: {
    httpStatus: 400,
    summary:
      "The destination is one of the agent's own listeners; refused to avoid a loop (ztunnel refuses calls to its own ports too).",
    fix: 'Point the client at the real destination, not at the agent.',
  },
  PCL_AGENT_BAD_REQUEST: {
    httpStatus: 400,
    summary:
      'A client sent a malformed proxy request (bad request line, origin-form URL, bad CONNECT target or port); answered 400.',
    fix: 'Use the agent as HTTP_PROXY / HTTPS_PROXY (absolute-form URL or CONNECT host:port with a port from 1 to 65535), or as a SOCKS5 proxy.',
  },
  PCL_AGENT_HEADERS_TOO_LARGE: {
    httpStatus: 431,
    summary: 'A client sent request headers over the 16 KiB limit; answered 431.',
    fix: 'Send fewer or smaller headers.',
  },
  PCL_AGENT_UNKNOWN_PROTOCOL: {
    summary: 'A client spoke neither HTTP nor SOCKS5 (e.g. SOCKS4 or TLS) on a proxy port; the connection was closed.',
    fix: 'Configure the client for an HTTP proxy (CONNECT or absolute-form) or SOCKS5 (socks5h:// for names).',
  },
  PCL_AGENT_SOCKS_UNSUPPORTED: {
    summary:
      'A SOCKS5 client asked for something the agent does not offer (an authentication method other than none, BIND/UDP ASSOCIATE, an unknown address type).',
    fix: "Use SOCKS5 without authentication and the CONNECT command, as ztunnel's SOCKS5 port does.",
  },
  PCL_AGENT_CLIENT_ABORTED: {
    summary: 'A client went away before its tunnel was set up; the tunnel was cancelled.',
    fix: 'Nothing to do on the agent; check the client if it happens often.',
  },
  PCL_AGENT_HANDSHAKE_TIMEOUT: {
    summary:
      'A client of a proxy port did not complete its SOCKS5 or HTTP request in time after connecting; the connection was closed.',
    fix: 'Point HTTPS_PROXY / ALL_PROXY clients at the port as usual; raise --handshake-timeout only for a client known to be that slow.',
  },
  PCL_AGENT_WORKLOADS_INVALID: {
    summary: 'The --workloads file is not a YAML list of {namespace, serviceAccount, listen, forward?} entries.',
    fix: 'Write one entry per workload, e.g. `- {namespace: bookinfo, serviceAccount: bookinfo-productpage, listen: 127.0.0.1:15001}`.',
  },
});

export type AgentCode = keyof typeof agentCodes;
