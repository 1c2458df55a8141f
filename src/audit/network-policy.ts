/**
 * Layer 2 of seed 000: the NetworkPolicy fence. Egress is decided with Kubernetes NetworkPolicy's own semantics
 * (networking.k8s.io/v1): a pod is egress-isolated when a policy with Egress in its policyTypes selects it (absent
 * policyTypes mean Ingress, plus Egress when `egress` has rules, as the API server defaults them); its allowed egress
 * is the union of every selecting policy's rules; a rule without `to` allows every destination and without `ports`
 * every port; an ipBlock allows `cidr` minus `except`; pod and namespace selectors only ever name in-cluster pods.
 * A pod selected by no egress policy is unrestricted. The cluster's pod and service CIDRs are unknown here, so
 * every address outside the private ranges counts as external.
 */
import type { LabelSelector, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort } from '../config/api-types.ts';
import { matchesSelector } from '../mesh/waypoint-binding.ts';
import type { ClusterModel, PodSubject } from './cluster-model.ts';
import { namespaceRef, refOf } from './cluster-model.ts';
import type { Finding } from './finding.ts';
import { seedFence, yamlFix } from './fix-yaml.ts';
import {
  ALL_ADDRESSES,
  describeExternal,
  externalPart,
  isEmpty,
  setOf,
  subtract,
  union,
  type AddressSet,
} from './ip-ranges.ts';
import type { LayerAudit } from './layer-audit.ts';

const DNS_PORT = 53;
/** Port names CoreDNS / kube-dns use; a named port matches the destination pod's container port name. */
const DNS_PORT_NAMES = new Set(['dns', 'dns-tcp', 'domain']);
/** Labels of the cluster DNS pods and their namespace (CoreDNS keeps kube-dns's `k8s-app` label). */
const DNS_NAMESPACE_LABELS = { 'kubernetes.io/metadata.name': 'kube-system' };
const DNS_POD_LABELS = { 'k8s-app': 'kube-dns' };

/** policyTypes as the API server defaults them (pkg/apis/networking/v1 defaults.go). */
export function effectivePolicyTypes(policy: NetworkPolicy): ReadonlyArray<'Ingress' | 'Egress'> {
  const declared = policy.spec.policyTypes;
  if (declared !== undefined && declared.length > 0) return declared;
  return (policy.spec.egress ?? []).length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
}

/** Does the policy select this pod? Only pods in its own namespace; an empty podSelector selects them all. */
function selectsPod(policy: NetworkPolicy, namespace: string, labels: Readonly<Record<string, string>>): boolean {
  if (policy.metadata.namespace !== namespace) return false;
  const selector: LabelSelector = policy.spec.podSelector ?? {};
  return matchesSelector(selector, labels);
}

function portNumber(port: number | string | undefined): number | string | undefined {
  if (typeof port === 'string' && /^\d+$/.test(port)) return Number(port);
  return port;
}

/** Does the rule allow some port other than DNS's 53 to an address (named ports only match pods, never ipBlocks)? */
export function allowsBeyondDns(ports: readonly NetworkPolicyPort[] | undefined): boolean {
  if (ports === undefined || ports.length === 0) return true;
  for (const p of ports) {
    const port = portNumber(p.port);
    if (port === undefined) return true;
    if (typeof port === 'string') continue;
    const end = p.endPort ?? port;
    if (port !== DNS_PORT || end !== DNS_PORT) return true;
  }
  return false;
}

/** Does the rule allow `protocol`/`port` (TCP is the default protocol; endPort makes a range)? */
export function allowsPort(
  ports: readonly NetworkPolicyPort[] | undefined,
  protocol: 'TCP' | 'UDP',
  port: number,
): boolean {
  if (ports === undefined || ports.length === 0) return true;
  return ports.some((p) => {
    if ((p.protocol ?? 'TCP') !== protocol) return false;
    const n = portNumber(p.port);
    if (n === undefined) return true;
    if (typeof n === 'string') return port === DNS_PORT && DNS_PORT_NAMES.has(n);
    return port >= n && port <= (p.endPort ?? n);
  });
}

function ipBlockSet(peer: NetworkPolicyPeer): AddressSet {
  if (!peer.ipBlock) return [];
  return subtract(setOf([peer.ipBlock.cidr]), setOf(peer.ipBlock.except ?? []));
}

/** The addresses a rule's `to` allows: every address when `to` is absent or empty, else its ipBlocks. */
function ruleAddresses(to: readonly NetworkPolicyPeer[] | undefined): AddressSet {
  if (to === undefined || to.length === 0) return ALL_ADDRESSES;
  let set: AddressSet = [];
  for (const peer of to) set = union(set, ipBlockSet(peer));
  return set;
}

/** Could the cluster DNS service or pods be among the rule's peers? */
function peersMayHoldDns(to: readonly NetworkPolicyPeer[] | undefined, policyNamespace: string): boolean {
  if (to === undefined || to.length === 0) return true;
  return to.some((peer) => {
    if (peer.ipBlock) {
      // The DNS Service IP is in the (unknown) service CIDR: any private part of the block may hold it.
      const block = ipBlockSet(peer);
      return !isEmpty(subtract(block, externalPart(block)));
    }
    const podOk = peer.podSelector === undefined || matchesSelector(peer.podSelector, DNS_POD_LABELS);
    if (peer.namespaceSelector !== undefined)
      return podOk && matchesSelector(peer.namespaceSelector, DNS_NAMESPACE_LABELS);
    return policyNamespace === DNS_NAMESPACE_LABELS['kubernetes.io/metadata.name'] && podOk;
  });
}

export interface EgressOpening {
  readonly policy: NetworkPolicy;
  /** Index in `spec.egress`. */
  readonly rule: number;
  /** `ipBlock`: the rule names external ranges; `allDestinations`: the rule has no `to`. */
  readonly via: 'ipBlock' | 'allDestinations';
  /** The external addresses it allows. */
  readonly external: AddressSet;
}

export interface EgressVerdict {
  /** Selected by at least one policy with Egress in its policyTypes. */
  readonly isolated: boolean;
  readonly selectedBy: readonly NetworkPolicy[];
  /** Rules that let the pod reach external addresses on ports other than DNS. */
  readonly openings: readonly EgressOpening[];
  /** UDP 53 to the cluster DNS is allowed. */
  readonly dnsAllowed: boolean;
}

/** Decide a pod's egress under a set of NetworkPolicies (the union of every selecting policy). */
export function egressVerdict(
  policies: readonly NetworkPolicy[],
  namespace: string,
  labels: Readonly<Record<string, string>>,
): EgressVerdict {
  const selectedBy = policies.filter(
    (p) => effectivePolicyTypes(p).includes('Egress') && selectsPod(p, namespace, labels),
  );
  if (selectedBy.length === 0) {
    return { isolated: false, selectedBy, openings: [], dnsAllowed: true };
  }
  const openings: EgressOpening[] = [];
  let dnsAllowed = false;
  for (const policy of selectedBy) {
    (policy.spec.egress ?? []).forEach((rule, i) => {
      if (
        !dnsAllowed &&
        allowsPort(rule.ports, 'UDP', DNS_PORT) &&
        peersMayHoldDns(rule.to, policy.metadata.namespace)
      ) {
        dnsAllowed = true;
      }
      if (!allowsBeyondDns(rule.ports)) return;
      const external = externalPart(ruleAddresses(rule.to));
      if (isEmpty(external)) return;
      const via = rule.to === undefined || rule.to.length === 0 ? 'allDestinations' : 'ipBlock';
      openings.push({ policy, rule: i, via, external });
    });
  }
  return { isolated: true, selectedBy, openings, dnsAllowed };
}

/** A pod nobody labelled: stands for every pod the namespace may run tomorrow. */
const PROBE_LABELS: Readonly<Record<string, string>> = {};

/** Audit layer 2 for every workload namespace. */
export function auditNetworkPolicy(model: ClusterModel): LayerAudit {
  const findings: Finding[] = [];
  const verdicts = new Map<PodSubject, EgressVerdict>();
  const openingsSeen = new Set<string>();

  for (const ns of model.workloadNamespaces) {
    const policies = model.networkPolicies.filter((p) => p.metadata.namespace === ns);
    const pods = model.workloadPods(ns);
    const probe = egressVerdict(policies, ns, PROBE_LABELS);
    for (const pod of pods) verdicts.set(pod, egressVerdict(policies, ns, pod.labels));
    const nsDecl = model.namespaces.get(ns);
    const nsLocation = nsDecl?.source ?? null;
    const fenceFix = yamlFix(
      [`Seed 000's fence for namespace ${ns}: DNS and in-cluster traffic only; gateway pods exempt.`],
      seedFence(ns),
    );

    const unfencedPods = pods.filter((p) => !verdicts.get(p)!.isolated);
    if (!probe.isolated && unfencedPods.length === pods.length) {
      findings.push({
        code: 'PCL_AUDIT_FENCE_MISSING',
        layer: 2,
        severity: 'error',
        resource: namespaceRef(ns),
        message:
          policies.length === 0
            ? `namespace ${ns} has no NetworkPolicy: its pods can open connections to any external address and skip the egress gateway`
            : `no NetworkPolicy in namespace ${ns} restricts egress (${policies.map((p) => p.metadata.name).join(', ')} ` +
              `${policies.length === 1 ? 'does' : 'do'} not select its pods for Egress): its pods can reach any external address directly`,
        fix: fenceFix,
        location: nsLocation,
      });
    } else {
      for (const pod of unfencedPods) {
        findings.push({
          code: 'PCL_AUDIT_FENCE_POD_UNSELECTED',
          layer: 2,
          severity: 'error',
          resource: refOf(pod.resource),
          message: `${pod.resource.kind} ${ns}/${pod.resource.metadata.name} is selected by no egress NetworkPolicy (labels ${JSON.stringify(pod.labels)}): it can reach any external address directly`,
          fix: fenceFix,
          location: pod.resource.source,
        });
      }
      if (!probe.isolated) {
        findings.push({
          code: 'PCL_AUDIT_FENCE_NOT_DEFAULT',
          layer: 2,
          severity: 'warning',
          resource: namespaceRef(ns),
          message: `the egress NetworkPolicies in namespace ${ns} select only pods with particular labels: a new pod without them would not be fenced`,
          fix: fenceFix,
          location: nsLocation,
        });
      }
    }

    // Openings and DNS, over the probe and every known pod that is fenced.
    const fenced = [probe, ...pods.map((p) => verdicts.get(p)!)].filter((v) => v.isolated);
    for (const v of fenced) {
      for (const o of v.openings) {
        const key = `${o.policy.key}#${o.rule}`;
        if (openingsSeen.has(key)) continue;
        openingsSeen.add(key);
        const ports = o.policy.spec.egress?.[o.rule]?.ports;
        const portText =
          ports === undefined || ports.length === 0
            ? 'any port'
            : `ports ${ports.map((p) => `${p.protocol ?? 'TCP'}/${p.port ?? '*'}${p.endPort ? `-${p.endPort}` : ''}`).join(', ')}`;
        findings.push({
          code: o.via === 'ipBlock' ? 'PCL_AUDIT_FENCE_IPBLOCK_OPEN' : 'PCL_AUDIT_FENCE_ALL_DESTINATIONS',
          layer: 2,
          severity: 'error',
          resource: refOf(o.policy),
          message:
            o.via === 'ipBlock'
              ? `NetworkPolicy ${o.policy.metadata.namespace}/${o.policy.metadata.name} spec.egress[${o.rule}] allows external addresses ` +
                `${describeExternal(o.external)} on ${portText}: pods can skip the egress gateway`
              : `NetworkPolicy ${o.policy.metadata.namespace}/${o.policy.metadata.name} spec.egress[${o.rule}] has no \`to\`, so it allows every ` +
                `destination, external ones included, on ${portText}: pods can skip the egress gateway`,
          fix: fenceFix,
          location: o.policy.posOf(['spec', 'egress', o.rule]),
        });
      }
    }
    if (fenced.some((v) => !v.dnsAllowed)) {
      const blocking = [
        ...new Set(fenced.filter((v) => !v.dnsAllowed).flatMap((v) => v.selectedBy.map((p) => p.metadata.name))),
      ];
      findings.push({
        code: 'PCL_AUDIT_DNS_BLOCKED',
        layer: 2,
        severity: 'warning',
        resource: namespaceRef(ns),
        message: `the egress NetworkPolicies in namespace ${ns} (${blocking.join(', ')}) do not allow DNS (UDP 53): names will not resolve, and ServiceEntry hosts with them`,
        fix: yamlFix([`Policies add up: this one only opens DNS for every pod in ${ns}.`], {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: 'allow-dns', namespace: ns },
          spec: {
            podSelector: {},
            policyTypes: ['Egress'],
            egress: [
              {
                ports: [
                  { port: 53, protocol: 'UDP' },
                  { port: 53, protocol: 'TCP' },
                ],
              },
            ],
          },
        }),
        location: nsLocation,
      });
    }
  }

  return {
    findings,
    open(pod) {
      if (!model.isWorkloadNamespace(pod.namespace) || pod.isGateway) return false;
      const v = verdicts.get(pod);
      return v === undefined || !v.isolated || v.openings.length > 0;
    },
  };
}
