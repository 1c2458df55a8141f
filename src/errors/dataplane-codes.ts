/** Error codes owned by the dataplane layer. Codes are stable: never rename one, only add. */
import { defineCodes } from './define.ts';

export const dataplaneCodes = defineCodes({
  PCL_DATAPLANE_HTTP_TUNNEL: {
    summary:
      'The tunnel reached an HTTP port of a waypoint-class Gateway: it was terminated as HTTP and each request inside it was decided, routed and logged on its own.',
    fix: 'Nothing to do: look for the per-request access-log lines (type "request") of this tunnel.',
  },
  PCL_DATAPLANE_PRIVATE_ADDRESS: {
    httpStatus: 401,
    summary:
      "Refused: the destination name resolved to (or the destination is) a private, loopback, link-local, reserved or IPv4-embedding address, or one of the gateway's own listeners (the private-address guard).",
    fix: 'If the destination really lives in that range, list the range under allowedPrivateCidrs in portcullis.yaml, or declare the ServiceEntry with resolution: STATIC and explicit endpoints (trusted as written).',
  },
  PCL_DATAPLANE_DNS_FAILED: {
    httpStatus: 503,
    summary: 'The destination name did not resolve (no A or AAAA record, or the resolver failed); answered 503.',
    fix: 'Check the name and the resolver given with --dns-server (or /etc/resolv.conf); the gateway resolves each name once per tunnel.',
  },
  PCL_DATAPLANE_NO_UPSTREAM: {
    httpStatus: 503,
    summary:
      'The ServiceEntry gives the gateway nothing to dial (a wildcard host without DYNAMIC_DNS, no usable endpoint); answered 503.',
    fix: 'Give the ServiceEntry a concrete host (resolution: DNS), endpoints with addresses (STATIC), or resolution: DYNAMIC_DNS for wildcard hosts.',
  },
  PCL_DATAPLANE_GATEWAY_NOT_SERVED: {
    httpStatus: 401,
    summary: 'The destination ServiceEntry is bound to a Gateway this gateway process does not serve; answered 401.',
    fix: 'Send the tunnel to the gateway the ServiceEntry is bound to (istio.io/use-waypoint), or bind it to a Gateway this process serves.',
  },
  PCL_DATAPLANE_UPSTREAM_CONNECT_FAILED: {
    httpStatus: 503,
    summary:
      'The upstream TCP connection could not be made (refused, unreachable, or no answer within 10 s); answered 503 (response flag UF).',
    fix: 'Check that the destination is up and reachable from the gateway host (firewall, route, perimeter rules that allow only the SNAT addresses).',
  },
  PCL_DATAPLANE_SNI_MISMATCH: {
    summary:
      "Closed: on a TLS/HTTPS port the ClientHello's server name is not one of the ServiceEntry's hosts (domain fronting through an allowed address).",
    fix: 'Connect with the SNI of the host the ServiceEntry declares, or declare the other host in its own ServiceEntry with its own policies.',
  },
  PCL_DATAPLANE_SNI_MISSING: {
    summary:
      'Closed: on a TLS/HTTPS port the ClientHello carries no server name (or hides it with Encrypted Client Hello), so the destination cannot be checked.',
    fix: 'Send SNI (every mainstream TLS client does when connecting by host name); do not use ECH through the egress gateway.',
  },
  PCL_DATAPLANE_CLIENT_HELLO_INVALID: {
    summary:
      'Closed: on a TLS/HTTPS port the first bytes through the tunnel are not a TLS ClientHello (or it is too large or too slow to arrive).',
    fix: 'Speak TLS on ports declared with protocol TLS or HTTPS; declare plain-TCP ports with protocol TCP.',
  },
  PCL_DATAPLANE_POLICY_CHANGED: {
    summary:
      'Closed: the configuration changed and the open tunnel is no longer allowed ("connection closed due to policy change").',
    fix: 'Nothing to do if the change was intended; otherwise restore the policy that allowed the caller.',
  },
  PCL_DATAPLANE_IDLE_TIMEOUT: {
    summary: 'Closed: no bytes flowed either way for the idle timeout.',
    fix: 'Send keepalives from the application, or raise the idle timeout (--idle-timeout) if long silent connections are expected.',
  },
  PCL_DATAPLANE_SHUTDOWN: {
    summary: 'Closed: the gateway was shutting down and the drain period ended.',
    fix: 'Nothing to do: callers reconnect to another gateway replica; raise --drain-seconds to give long connections more time.',
  },
  PCL_DATAPLANE_CONFIG_RELOAD_FAILED: {
    summary: 'A configuration change could not be compiled; the gateway keeps serving the previous snapshot.',
    fix: 'Run `portcullis check --config DIR` (or `status`) on the folder and fix the reported errors.',
  },
  PCL_DATAPLANE_CERT_ISSUE_FAILED: {
    summary:
      "The gateway could not issue its own serving certificate from --ca-dir (for the served Gateways' SPIFFE identities).",
    fix: 'Check --ca-dir holds a usable Istio cacerts folder (`portcullis ca init --dir D`), or pass --cert/--key/--trust-bundle.',
  },
  PCL_DATAPLANE_NO_GATEWAY: {
    summary:
      'The configuration has no Gateway whose class is in settings.gatewayClasses, so there is no identity to serve.',
    fix: 'Add the egress Gateway (e.g. class solo-ztunnel-egress with an HBONE listener on 15008) to the --config folder.',
  },
});
