/** Error codes owned by the L7 egress waypoint (src/waypoint). Codes are stable: never rename one, only add. */
import { defineCodes } from './define.ts';

export const waypointCodes = defineCodes({
  PCL_WAYPOINT_BAD_REQUEST: {
    httpStatus: 400,
    summary:
      'The HTTP/1.1 request inside the tunnel was malformed (bad request line, conflicting Content-Length, Content-Length with Transfer-Encoding, bad chunking, obs-fold, oversized headers, missing or repeated Host); answered 400 and never forwarded.',
    fix: 'Fix the client: send one well-formed HTTP/1.1 request per message with a single Host header and either Content-Length or chunked Transfer-Encoding, never both.',
  },
  PCL_WAYPOINT_UNSUPPORTED_TRANSFER_ENCODING: {
    httpStatus: 501,
    summary: 'The request used a Transfer-Encoding other than "chunked"; answered 501 as Envoy does.',
    fix: 'Send the body with Content-Length or "Transfer-Encoding: chunked"; use Content-Encoding for compression.',
  },
  PCL_WAYPOINT_CONNECTION_FRAMING: {
    httpStatus: 400,
    summary:
      "The request's Connection header names Content-Length, Transfer-Encoding or Host: removing those as hop-by-hop would change how the upstream frames the request (request smuggling); answered 400 and never forwarded.",
    fix: 'Fix the client: Connection may name only hop-by-hop fields (keep-alive, close, upgrade, te), never the message framing or Host.',
  },
  PCL_WAYPOINT_PATH_NOT_NORMALIZABLE: {
    httpStatus: 400,
    summary:
      'The request path cannot be normalised safely (a malformed percent-escape, a control character, or a backslash), so no single path could be both authorized and forwarded; answered 400 as Envoy does.',
    fix: 'Percent-encode the path as RFC 3986 requires (a literal backslash as %5C); see pathNormalization in portcullis.yaml for how paths are normalised.',
  },
  PCL_WAYPOINT_NO_ROUTE: {
    httpStatus: 404,
    summary:
      'HTTPRoutes are attached to the destination ServiceEntry, but none of their rules matches the request; answered 404 (Gateway API: no matching rule → 404).',
    fix: 'Add a rule that matches this request (path, headers, %%source.principal%%, query parameters, method), or check that the caller is the identity the route expects.',
  },
  PCL_WAYPOINT_ROUTE_NOT_ACCEPTED: {
    httpStatus: 404,
    summary:
      'The only HTTPRoutes naming the destination ServiceEntry were not accepted (for example a route from another namespace without permitCrossNamespaceResourceAccess); answered 404 rather than bypassing them.',
    fix: 'Read the route status (portcullis status): move the route to the waypoint\'s or the ServiceEntry\'s namespace, or add the waypoint "namespace/name" to permitCrossNamespaceResourceAccess.',
  },
  PCL_WAYPOINT_DENIED: {
    httpStatus: 403,
    summary:
      'The request was denied by an AuthorizationPolicy layer (Gateway or ServiceEntry) evaluated with its HTTP attributes; answered 403.',
    fix: 'See x-portcullis-reason and the access log for the deciding policy; widen the ALLOW or narrow the DENY policy on that layer. Both layers must allow.',
  },
  PCL_WAYPOINT_BACKEND_INVALID: {
    httpStatus: 500,
    summary:
      'The matched route rule has no usable backend (unknown Hostname backend, a port the ServiceEntry does not declare, every weight 0, or no backendRefs); answered 500 as the Gateway API requires.',
    fix: 'Point backendRefs at a host some ServiceEntry declares (kind: Hostname, group: networking.istio.io) with a port that ServiceEntry declares, and a non-zero weight.',
  },
  PCL_WAYPOINT_DESTINATION_GONE: {
    httpStatus: 503,
    summary:
      "The tunnel's ServiceEntry was removed or rebound to another gateway after the tunnel opened; answered 503.",
    fix: 'Reconnect; check that the ServiceEntry still exists and carries istio.io/use-waypoint for this gateway.',
  },
  PCL_WAYPOINT_NO_ENDPOINT: {
    httpStatus: 503,
    summary:
      'The backend has no address to dial: DNS returned nothing, resolution NONE without a dialled address, or every address was refused by the private-address guard; answered 503.',
    fix: 'Check the ServiceEntry endpoints and resolution, the DNS answer for the host, and allowedPrivateCidrs when the host resolves to a private address.',
  },
  PCL_WAYPOINT_SECRET_NOT_FOUND: {
    httpStatus: 503,
    summary: "The DestinationRule's credentialName names a Secret that does not exist; answered 503.",
    fix: 'Create the Secret (kubectl create secret generic <name> --from-file=tls.crt --from-file=tls.key --from-file=ca.crt) in the namespace credentialName names.',
  },
  PCL_WAYPOINT_SECRET_KEYS: {
    httpStatus: 503,
    summary:
      "The credential Secret lacks the keys Istio reads (cert and key, or tls.crt and tls.key), or they are empty; answered 503 with Istio's message.",
    fix: 'Store the client certificate and key under cert/key or tls.crt/tls.key, and the CA under cacert, ca.crt or a separate <name>-cacert Secret.',
  },
  PCL_WAYPOINT_SECRET_KEY_MISMATCH: {
    httpStatus: 503,
    summary:
      'The private key in the credential Secret does not belong to its certificate, or one of them cannot be read; answered 503.',
    fix: 'Put the key that was issued with the certificate in the Secret (compare `openssl x509 -pubkey` with `openssl pkey -pubout`).',
  },
  PCL_WAYPOINT_CREDENTIAL_NOT_PERMITTED: {
    httpStatus: 503,
    summary:
      "The DestinationRule's credentialName names a Secret in another namespace than the waypoint, and the waypoint is not permitted cross-namespace access; answered 503.",
    fix: 'Add the waypoint "namespace/name" to permitCrossNamespaceResourceAccess (or PERMIT_CROSS_NAMESPACE_RESOURCE_ACCESS), or move the Secret to the waypoint\'s namespace.',
  },
  PCL_WAYPOINT_TLS_UNSUPPORTED: {
    httpStatus: 503,
    summary:
      'The DestinationRule asks for TLS origination Portcullis cannot do for an external host (ISTIO_MUTUAL, or MUTUAL without credentialName and without readable certificate files); answered 503.',
    fix: 'Use mode SIMPLE or MUTUAL with credentialName (or clientCertificate/privateKey files readable by Portcullis).',
  },
  PCL_WAYPOINT_UPSTREAM_CA: {
    httpStatus: 503,
    summary:
      "The upstream server certificate did not verify against the configured CA (caCertificates, the Secret's cacert, or the system roots); answered 503.",
    fix: "Give the CA that issued the server certificate in the Secret's cacert/ca.crt, a <name>-cacert Secret, or caCertificates.",
  },
  PCL_WAYPOINT_UPSTREAM_SAN: {
    httpStatus: 503,
    summary:
      "The upstream server certificate carries none of the DestinationRule's subjectAltNames (or, without them, does not match the SNI); answered 503.",
    fix: 'List a DNS or URI SAN the server certificate really carries in subjectAltNames, or fix the server certificate.',
  },
  PCL_WAYPOINT_UPSTREAM_UNREACHABLE: {
    httpStatus: 503,
    summary:
      'The upstream could not be reached: connection refused or reset, timeout, or the TLS handshake failed (for example the server rejected the client certificate); answered 503.',
    fix: "Check that the external server is up and reachable from the gateway, and that it trusts the client certificate's issuer.",
  },
  PCL_WAYPOINT_UPSTREAM_INVALID_RESPONSE: {
    httpStatus: 502,
    summary: 'The upstream answered something that is not a valid HTTP/1.1 response; answered 502.',
    fix: 'Check that the upstream port speaks HTTP (and TLS when the DestinationRule originates TLS); a TLS port needs trafficPolicy.tls mode SIMPLE or MUTUAL.',
  },
  PCL_WAYPOINT_INVALID_DESTINATION_RULE: {
    httpStatus: 503,
    summary:
      'Refused with 503: a DestinationRule with TLS settings for this host is invalid and has no last good version, so the request is neither sent in plain text nor with another credential (fail closed).',
    fix: 'Fix the DestinationRule at the file and line shown (`portcullis status` lists the error), or delete it.',
  },
  PCL_WAYPOINT_INVALID_ROUTE: {
    httpStatus: 503,
    summary:
      'Refused with 503: an HTTPRoute attached to this ServiceEntry or Gateway is invalid and has no last good version, so the parent answers 503 naming the route instead of routing without it (fail closed).',
    fix: 'Fix the HTTPRoute at the file and line shown (`portcullis status` lists the error), or delete it.',
  },
});

export type WaypointCode = keyof typeof waypointCodes;
