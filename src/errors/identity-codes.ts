/** Error codes owned by the identity layer. Codes are stable: never rename one, only add. */
import { defineCodes } from './define.ts';

export const identityCodes = defineCodes({
  PCL_IDENTITY_SPIFFE_INVALID: {
    summary: 'A SPIFFE ID is not of the form spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.',
    fix: 'Write the ID exactly as spiffe://<trust-domain>/ns/<namespace>/sa/<service-account> (five parts, literal "ns" and "sa", no query or fragment), or use the short form <namespace>/<service-account>.',
  },
  PCL_IDENTITY_TTL_INVALID: {
    summary: 'A certificate lifetime is not a positive duration such as 30m, 24h or 7d.',
    fix: 'Give the TTL as a whole number followed by s, m, h or d (units may be combined, e.g. 1h30m).',
  },
  PCL_IDENTITY_CA_NOT_FOUND: {
    summary: 'The CA folder does not hold an Istio cacerts layout (ca-cert.pem, ca-key.pem, root-cert.pem).',
    fix: 'Create a development CA with `portcullis ca init --dir <dir>`, or point --dir at an existing Istio cacerts folder.',
  },
  PCL_IDENTITY_CA_EXISTS: {
    summary: 'The CA folder already holds a CA; it was not overwritten.',
    fix: 'Pick another --dir, or pass --force to replace the CA (every certificate it issued stops being trusted).',
  },
  PCL_IDENTITY_CA_INVALID: {
    summary:
      'The CA files cannot be used: unreadable PEM, a key that does not match ca-cert.pem, a signing certificate that is not a CA, or a chain that does not lead to root-cert.pem.',
    fix: 'Check that ca-cert.pem is the signing CA, ca-key.pem its private key, cert-chain.pem ca-cert.pem followed by its parents, and root-cert.pem the root that anchors them.',
  },
  PCL_IDENTITY_CA_USAGE: {
    summary: 'The `portcullis ca` command line is incomplete or has an unknown flag.',
    fix: 'Run `portcullis ca init --dir D [--trust-domain T] [--force]` or `portcullis ca issue --dir D (--spiffe ID | --subject "CN=..." | --dns NAME) --out O [--ttl 24h]`.',
  },
  PCL_IDENTITY_CERT_LOAD_FAILED: {
    summary:
      'A certificate, key or trust bundle could not be loaded (missing file, bad PEM, or key does not match the certificate).',
    fix: 'Check the cert-chain.pem / key.pem / root-cert.pem files; on reload the previous certificate stays in use until the files are fixed.',
  },
  PCL_IDENTITY_NO_SPIFFE_SAN: {
    summary: 'The peer certificate carries no URI SAN that is a SPIFFE ID.',
    fix: 'Issue the workload certificate with a SPIFFE URI SAN (`portcullis ca issue --spiffe spiffe://<td>/ns/<ns>/sa/<sa>`); Portcullis takes identity from nothing else.',
  },
  PCL_IDENTITY_TRUST_DOMAIN_MISMATCH: {
    summary: "No SPIFFE URI SAN of the peer certificate is in the gateway's trust domain.",
    fix: 'Issue the certificate for the mesh trust domain (settings trustDomain, default cluster.local), or set trustDomain to match the mesh.',
  },
  PCL_IDENTITY_SAN_MISMATCH: {
    summary: 'The server did not present any of the expected SPIFFE identities.',
    fix: 'Check that the gateway runs with the identity the client expects (by default spiffe://<td>/ns/<gateway namespace>/sa/<gateway name>).',
  },
  PCL_IDENTITY_ISTIOD_FAILED: {
    summary:
      "The certificate request to istiod's IstioCertificateService failed: unreachable, TLS not verified against the mesh root, the bearer token refused, or an error answer.",
    fix: 'Check --ca-address (istiod.istio-system.svc:15012 in a cluster), that --ca-root-cert is the mesh root (the istio-ca-root-cert ConfigMap) and that --ca-token-file is a projected ServiceAccount token with audience istio-ca; the previous certificate stays in use until it expires.',
  },
  PCL_IDENTITY_ISTIOD_EMPTY_CHAIN: {
    summary: 'istiod answered the certificate request with an empty certificate chain.',
    fix: "Check istiod's logs for the signing error; the request is retried with backoff and the previous certificate stays in use until it expires.",
  },
  PCL_IDENTITY_ISTIOD_WRONG_IDENTITY: {
    summary: 'The certificate istiod signed does not carry the SPIFFE ID that was asked for.',
    fix: "Check --identity (or the pod's namespace and service account) and istiod's signing policy; a certificate naming another identity is never used.",
  },
  PCL_IDENTITY_TOKEN_UNREADABLE: {
    summary: 'The ServiceAccount token for istiod (--ca-token-file) cannot be read or is empty.',
    fix: 'Mount a projected ServiceAccount token with audience istio-ca at /var/run/secrets/tokens/istio-token (portcullis install does), or point --ca-token-file at it.',
  },
  PCL_IDENTITY_CERT_EXPIRED: {
    summary:
      'The serving certificate expired before a renewal succeeded: the gateway is not ready and refuses new tunnels.',
    fix: 'Restore the certificate source (istiod reachable, token valid, or fresh files); the gateway serves again as soon as a new certificate is in hand.',
  },
  PCL_IDENTITY_DEV_CA_KEY: {
    summary:
      'The gateway holds a CA signing key (--ca-dir): fine for development, never on a gateway at the edge of a real mesh.',
    fix: 'In a cluster, take the certificate from istiod (--ca-address, the default in a pod) or from files written by cert-manager istio-csr or SPIRE (--cert --key --trust-bundle).',
  },
  PCL_IDENTITY_GATEWAY_NOT_NAMED: {
    summary:
      'A Gateway given with --gateway cannot be served: the serving certificate does not carry its waypoint identity (spiffe://<td>/ns/<gateway ns>/sa/<gateway name>), or it is not in the configuration.',
    fix: "Run one gateway Deployment per Gateway (portcullis install --gateway NS/NAME), with the pod's service account named after the Gateway, as Istio names a waypoint's.",
  },
});
