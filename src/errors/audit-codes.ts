/** Error codes owned by the audit layer. Codes are stable: never rename one, only add. */
import { defineCodes } from './define.ts';

export const auditCodes = defineCodes({
  // ---- layer 1: capture ----
  PCL_AUDIT_CAPTURE_LABEL_MISSING: {
    summary: 'A workload namespace is not labelled istio.io/dataplane-mode=ambient, so ztunnel never sees its pods.',
    fix: 'Label the namespace: kubectl label namespace <ns> istio.io/dataplane-mode=ambient (the finding carries the manifest).',
  },
  PCL_AUDIT_CAPTURE_POD_OPT_OUT: {
    summary:
      'A workload pod opts out of ambient capture with istio.io/dataplane-mode=none, so its traffic skips ztunnel.',
    fix: 'Remove the istio.io/dataplane-mode=none label from the pod (or its template); only gateway pods may opt out.',
  },
  PCL_AUDIT_CAPTURE_SIDECAR: {
    summary: 'A namespace or pod uses sidecar injection: ztunnel-native egress does not apply to its pods.',
    fix: 'Move the workload to ambient mode, or route its egress through a sidecar egress gateway; keep it fenced by NetworkPolicy.',
  },
  PCL_AUDIT_ADMISSION_NOT_ENFORCED: {
    summary: 'No admission policy enforces istio.io/dataplane-mode=ambient on namespace creation.',
    fix: 'Apply a ValidatingAdmissionPolicy with a Deny binding (or a Kyverno ClusterPolicy in Enforce mode) that requires the label.',
  },
  // ---- layer 2: NetworkPolicy fence ----
  PCL_AUDIT_FENCE_MISSING: {
    summary:
      'No NetworkPolicy restricts egress from the pods of a workload namespace: they can reach any external address directly.',
    fix: "Apply seed 000's workload-egress NetworkPolicy in the namespace (DNS plus in-cluster only, gateway pods exempt).",
  },
  PCL_AUDIT_FENCE_POD_UNSELECTED: {
    summary: 'A workload pod is selected by no egress NetworkPolicy while its namespace is otherwise fenced.',
    fix: 'Widen the NetworkPolicy podSelector so it selects every pod except gateway pods (gateway.networking.k8s.io/gateway-name DoesNotExist).',
  },
  PCL_AUDIT_FENCE_NOT_DEFAULT: {
    summary: 'The egress NetworkPolicies select only some pods: a new pod with other labels would not be fenced.',
    fix: 'Use a podSelector that selects every non-gateway pod (matchExpressions gateway.networking.k8s.io/gateway-name DoesNotExist).',
  },
  PCL_AUDIT_FENCE_IPBLOCK_OPEN: {
    summary: 'An egress NetworkPolicy rule allows an ipBlock that reaches addresses outside the cluster.',
    fix: 'Remove the ipBlock rule (or narrow it to private ranges); external traffic must go through the egress gateway.',
  },
  PCL_AUDIT_FENCE_ALL_DESTINATIONS: {
    summary:
      'An egress NetworkPolicy rule without `to` allows every destination, including external ones, on ports other than DNS.',
    fix: 'Give the rule a `to` with in-cluster peers (podSelector/namespaceSelector), or restrict its ports to 53.',
  },
  PCL_AUDIT_DNS_BLOCKED: {
    summary: 'The egress NetworkPolicies block DNS (UDP port 53): name resolution, and with it the egress path, fails.',
    fix: "Allow egress to port 53 UDP and TCP, as seed 000's workload-egress NetworkPolicy does.",
  },
  // ---- layer 3: unknown destinations ----
  PCL_AUDIT_EGRESS_POLICIES_MISSING: {
    summary:
      'egressPolicies is not set: ztunnel lets traffic to destinations it cannot match to a ServiceEntry go out.',
    fix: 'Set egressPolicies on the ztunnel chart (and in portcullis.yaml) to deny 0.0.0.0/0 and ::/0.',
  },
  PCL_AUDIT_EGRESS_POLICIES_OPEN: {
    summary: 'egressPolicies leave some address ranges open to unknown destinations.',
    fix: 'Deny 0.0.0.0/0 and ::/0 and allow only the ranges you mean to, as narrowly as possible.',
  },
  // ---- layer 4: hostNetwork ----
  PCL_AUDIT_PSA_MISSING: {
    summary:
      'A workload namespace does not enforce Pod Security baseline or restricted, so hostNetwork pods are admitted.',
    fix: 'Label the namespace pod-security.kubernetes.io/enforce=restricted (or baseline).',
  },
  PCL_AUDIT_HOST_NETWORK_POD: {
    summary:
      "A workload pod runs with hostNetwork: true: it uses the node's network, skipping both ztunnel capture and NetworkPolicy.",
    fix: 'Set hostNetwork: false (or remove it) on the pod or its template.',
  },
  // ---- layer 5: perimeter ----
  PCL_AUDIT_PERIMETER_UNVERIFIED: {
    summary:
      'The perimeter (pod-CIDR egress dropped at the VPC or firewall) cannot be seen from Kubernetes and is not declared.',
    fix: 'Drop pod-CIDR egress at the perimeter, allow only the SNAT addresses ztunnel uses, and declare it under `perimeter` in portcullis.yaml.',
  },
  PCL_AUDIT_PERIMETER_OPEN: {
    summary: 'The declared perimeter does not drop egress from the pod CIDR.',
    fix: 'Drop outbound traffic from the pod CIDRs at the VPC or firewall, then set perimeter.podEgressDropped: true.',
  },
  PCL_AUDIT_PERIMETER_INCOMPLETE: {
    summary:
      'The declared perimeter lacks the pod CIDRs or the SNAT addresses, or lets a SNAT address inside a pod CIDR out.',
    fix: 'Declare perimeter.podCidrs and perimeter.snatAddresses (node addresses, outside the pod CIDRs).',
  },
  // ---- config ----
  PCL_AUDIT_NO_DEFAULT_DENY: {
    summary:
      'An egress gateway has no default-deny: any ambient-captured source may use it once no ALLOW policy exists.',
    fix: 'Apply an ALLOW AuthorizationPolicy with `rules: []` targeting the Gateway, or set egressGateway.defaultDeny: true.',
  },
  PCL_AUDIT_SE_NOT_BOUND: {
    summary:
      'A ServiceEntry asks for a waypoint with istio.io/use-waypoint but is not bound, so its traffic skips the gateway policies.',
    fix: 'Point istio.io/use-waypoint (and istio.io/use-waypoint-namespace) at a ready egress Gateway that admits the namespace.',
  },
  PCL_AUDIT_SIDECAR_SKIP_MISSING: {
    summary:
      'In a cluster with sidecar workloads, a ServiceEntry bound to the egress gateway lacks solo.io/sidecar-skip-waypoint: "true".',
    fix: 'Annotate the ServiceEntry solo.io/sidecar-skip-waypoint: "true" so sidecars keep registry-based routing.',
  },
  PCL_AUDIT_POLICY_TARGETS_GATEWAY_CLASS: {
    summary:
      'An AuthorizationPolicy targets the egress GatewayClass, which cannot be targeted directly: it applies to nothing.',
    fix: 'Target the specific Gateway by name (targetRefs: kind Gateway, group gateway.networking.k8s.io).',
  },
  PCL_AUDIT_ALLOW_HTTP_ON_L4: {
    summary:
      'An ALLOW policy on an L4 egress gateway uses HTTP attributes: those rules are dropped, so it allows less than it says.',
    fix: 'Remove the HTTP attributes (methods, paths, hosts, request principals), or enforce them on an L7 waypoint.',
  },
  PCL_AUDIT_DENY_NEVER_MATCHES: {
    summary: 'A DENY policy can never match, so it denies nothing.',
    fix: 'Give the DENY policy rules that L4 enforcement can match (sources, ports), or enforce it on an L7 waypoint.',
  },
  PCL_AUDIT_CROSS_NAMESPACE_NOT_PERMITTED: {
    summary: 'A route or Secret in another namespace than the waypoint is used without permission, so it is ignored.',
    fix: 'Move it into the waypoint or ServiceEntry namespace, or list the waypoint in permitCrossNamespaceResourceAccess.',
  },
  PCL_AUDIT_POLICY_NOT_ATTACHED: {
    summary: 'An AuthorizationPolicy meant for an egress Gateway or ServiceEntry attaches to nothing.',
    fix: "Read the policy's status condition (portcullis status) and correct its targetRefs.",
  },
});
