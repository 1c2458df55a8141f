/** Error codes owned by the validation layer. Codes are stable: never rename one, only add. */
import { defineCodes } from './define.ts';

export const validationCodes = defineCodes({
  // ---------- shared by several kinds ----------
  PCL_VALIDATION_SELECTOR: {
    summary: 'A workload selector is invalid or is combined with targetRefs (Istio CEL / webhook rule).',
    fix: 'Set only one of `selector`/`workloadSelector` and `targetRefs`; label keys must be non-empty and no key or value may contain `*`.',
  },
  PCL_VALIDATION_EMPTY_SELECTOR: {
    summary:
      'A workload selector has no labels, so it selects every workload in the namespace (Istio webhook warning).',
    fix: 'Add `matchLabels` to narrow the selector, or remove the selector if the whole namespace is meant.',
  },
  PCL_VALIDATION_TARGET_REF: {
    summary: 'A policy targetRef points at a kind Istio does not support, or across namespaces.',
    fix: 'Target a Gateway or GatewayClass (gateway.networking.k8s.io), a ServiceEntry (networking.istio.io) or a Service in the same namespace, and leave `namespace` unset.',
  },
  PCL_VALIDATION_DRY_RUN: {
    summary:
      'The `istio.io/dry-run` annotation is on a kind other than AuthorizationPolicy, has a value that is not a boolean, or is on an AUDIT or CUSTOM policy (Istio webhook).',
    fix: 'Use `istio.io/dry-run: "true"` or `"false"` only on ALLOW and DENY AuthorizationPolicies; remove it elsewhere.',
  },
  PCL_VALIDATION_EXPORT_TO: {
    summary: 'An `exportTo` entry is not `.`, `*`, `~` or a namespace name, or is repeated.',
    fix: 'Use `.` (same namespace), `*` (all namespaces), `~` (none) or namespace names, each once; `*` and `~` must stand alone.',
  },
  // ---------- AuthorizationPolicy ----------
  PCL_VALIDATION_AUTHZ_ACTION: {
    summary: 'The AuthorizationPolicy action does not fit its rules or provider (e.g. DENY without `rules`).',
    fix: 'Give DENY and CUSTOM policies a `rules` list (`rules: [{}]` matches every request); use `provider` only with CUSTOM.',
  },
  PCL_VALIDATION_AUTHZ_RULE: {
    summary:
      'An AuthorizationPolicy rule is malformed: an empty `from`/`to`/source/operation, or conflicting source fields.',
    fix: 'Remove empty `from`/`to` entries or fill them; do not combine `serviceAccounts` with `principals` or `namespaces` in one source.',
  },
  PCL_VALIDATION_AUTHZ_VALUE: {
    summary:
      'An AuthorizationPolicy value is invalid: empty string, bad IP/CIDR, bad port, service account, trust domain or path template.',
    fix: 'Use non-empty values; IPs/CIDRs like `10.0.0.0/8`; ports 0-65535 as strings; service accounts as `sa` or `ns/sa` without `*`; path templates `{*}`/`{**}` only.',
  },
  PCL_VALIDATION_AUTHZ_CONDITION: {
    summary: 'An AuthorizationPolicy `when` condition has an unknown or unsupported key, or no values.',
    fix: 'Use a key from https://istio.io/latest/docs/reference/config/security/conditions/ and set `values` or `notValues`.',
  },
  PCL_VALIDATION_HTTP_ONLY_DENY: {
    summary: 'A DENY rule uses only HTTP attributes, so on TCP it matches every connection (Istio webhook warning).',
    fix: "Add `ports` to the rule's `to.operation` (or a TCP source attribute) so the DENY applies only where intended.",
  },
  PCL_VALIDATION_AUTHZ_SCOPE: {
    summary:
      'An AuthorizationPolicy is in a namespace where its target cannot attach (e.g. GatewayClass outside the root namespace).',
    fix: 'Move a policy that targets a GatewayClass into the root namespace (Portcullis setting `rootNamespace`, default istio-system).',
  },
  // ---------- ServiceEntry ----------
  PCL_VALIDATION_SERVICE_ENTRY_HOST: {
    summary: 'A ServiceEntry host is `*`, not a valid DNS name, or an unsupported wildcard.',
    fix: 'List DNS names such as `api.example.com`; a wildcard is allowed only as a whole first label (`*.example.com`).',
  },
  PCL_VALIDATION_SERVICE_ENTRY_ADDRESS: {
    summary: 'A ServiceEntry address is not an IP or CIDR, or is a CIDR with a resolution other than NONE/STATIC.',
    fix: 'Use IPs or CIDRs in `addresses`; CIDRs only with `resolution: NONE` or `STATIC`.',
  },
  PCL_VALIDATION_SERVICE_ENTRY_PORT: {
    summary: 'A ServiceEntry port is out of range, repeated, badly named or has an unknown protocol.',
    fix: 'Use unique port numbers 1-65535, DNS-1123 port names and a protocol among HTTP, HTTPS, GRPC, HTTP2, MONGO, TCP, TLS.',
  },
  PCL_VALIDATION_SERVICE_ENTRY_RESOLUTION: {
    summary: 'The ServiceEntry resolution does not fit its hosts, endpoints, addresses or ports.',
    fix: 'NONE takes no endpoints; DNS without endpoints needs FQDN hosts; DNS_ROUND_ROBIN takes at most one endpoint; DYNAMIC_DNS needs `*.` hosts, HTTP/TLS ports, no addresses and no endpoints.',
  },
  PCL_VALIDATION_SERVICE_ENTRY_ENDPOINT: {
    summary: 'A ServiceEntry endpoint has a bad address or ports, or is combined with a workloadSelector.',
    fix: 'Give each endpoint an IP (STATIC) or FQDN (DNS) `address`, port names that exist in `ports`, and use either `endpoints` or `workloadSelector`.',
  },
  // ---------- DestinationRule ----------
  PCL_VALIDATION_DESTINATION_RULE_HOST: {
    summary: 'A DestinationRule `host` is empty or not a valid DNS name (Istio webhook `ValidateWildcardDomain`).',
    fix: 'Set `host` to the service or ServiceEntry host it applies to, such as `api.example.com` or `*.example.com`.',
  },
  PCL_VALIDATION_DESTINATION_RULE_TLS: {
    summary: 'A DestinationRule `tls` block is inconsistent (Istio ValidateTLS).',
    fix: 'With `credentialName` set no certificate file fields; MUTUAL without `credentialName` needs `clientCertificate` and `privateKey`; `insecureSkipVerify` excludes CA and SAN checks.',
  },
  PCL_VALIDATION_DESTINATION_RULE_TRAFFIC_POLICY: {
    summary: 'A DestinationRule traffic policy value is out of range (durations, warmup).',
    fix: 'Use durations of at least 1ms (e.g. `10s`), warmup `minimumPercent` 0-100 and `aggression` >= 1.',
  },
  // ---------- EnvoyFilter ----------
  PCL_VALIDATION_ENVOY_FILTER: {
    summary: 'An EnvoyFilter breaks an Istio CRD rule (waypoint match context, port range, target scope).',
    fix: 'Use `match.waypoint` only with `context: WAYPOINT`, ports 1-65535, and one of `targetRefs` or `workloadSelector` in the same namespace.',
  },
  // ---------- Gateway API ----------
  PCL_VALIDATION_GATEWAY_LISTENER: {
    summary: 'Gateway listeners break a Gateway API rule (unique names, port/protocol/hostname, TLS settings).',
    fix: 'Give each listener a unique name and a unique port+protocol+hostname; set `tls` only for HTTPS/TLS listeners.',
  },
  PCL_VALIDATION_GATEWAY_ADDRESS: {
    summary: 'A Gateway address or infrastructure label/annotation breaks a Gateway API rule.',
    fix: 'List each address once; Hostname addresses must be lower-case DNS names; label and annotation keys must be valid Kubernetes keys.',
  },
  PCL_VALIDATION_HTTP_ROUTE_MATCH: {
    summary: 'An HTTPRoute path match is invalid (Gateway API CEL rule).',
    fix: 'Exact and PathPrefix values must be absolute paths starting with `/`, without `//`, `/./`, `/../`, `%2f` or `#`.',
  },
  PCL_VALIDATION_HTTP_ROUTE_FILTER: {
    summary: 'An HTTPRoute filter is inconsistent (type versus field, repeated, or RequestRedirect with URLRewrite).',
    fix: 'Set exactly the field named by `type`; use each filter type once per list; never RequestRedirect with URLRewrite or with backendRefs.',
  },
  PCL_VALIDATION_HTTP_ROUTE_RULE: {
    summary: 'An HTTPRoute rule breaks a Gateway API rule (total matches, ReplacePrefixMatch, timeouts).',
    fix: 'Keep at most 128 matches in a route; ReplacePrefixMatch needs exactly one PathPrefix match; backendRequest timeout must not exceed request timeout.',
  },
  PCL_VALIDATION_HTTP_ROUTE_BACKEND_REF: {
    summary: 'An HTTPRoute backendRef has an unsupported kind or lacks a port.',
    fix: "Use a Service (with `port`) or Istio's `kind: Hostname` / `group: networking.istio.io` with `port` and no `namespace`.",
  },
  PCL_VALIDATION_HTTP_ROUTE_PARENT_REF: {
    summary: 'HTTPRoute parentRefs are ambiguous or point at a kind Istio cannot attach to.',
    fix: 'Reference a Gateway, Service or ServiceEntry; when one parent is referenced twice, give each a distinct `sectionName`.',
  },
});
