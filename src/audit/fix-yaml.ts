/** Render the `fix` of a finding: Kubernetes manifests (or patches) as YAML, with `#` comments where no manifest can say it. */
import { stringify } from 'yaml';

/** One or more YAML documents, `---` separated, after optional comment lines. */
export function yamlFix(comments: readonly string[], ...docs: readonly unknown[]): string {
  const head = comments.map((c) => `# ${c}\n`).join('');
  const body = docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
  return head + body;
}

/** A fix that is only advice: every line a YAML comment, so the snippet is still valid YAML. */
export function commentFix(...lines: readonly string[]): string {
  return lines.map((l) => `# ${l}\n`).join('');
}

/** A Namespace manifest keeping its labels and setting `add`. */
export function namespaceManifest(
  name: string,
  labels: Readonly<Record<string, string>>,
  add: Readonly<Record<string, string>>,
): unknown {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { ...labels, ...add } } };
}

/** Seed 000's NetworkPolicy fence (step 06), for one namespace. */
export function seedFence(namespace: string): unknown {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'workload-egress', namespace },
    spec: {
      podSelector: { matchExpressions: [{ key: 'gateway.networking.k8s.io/gateway-name', operator: 'DoesNotExist' }] },
      policyTypes: ['Egress'],
      egress: [
        {
          ports: [
            { port: 53, protocol: 'UDP' },
            { port: 53, protocol: 'TCP' },
          ],
        },
        { to: [{ podSelector: {} }] },
      ],
    },
  };
}

/** Seed 000's layer-3 values for the ztunnel chart (and portcullis.yaml). */
export const EGRESS_POLICIES_DENY_ALL = { egressPolicies: [{ matchCidrs: ['0.0.0.0/0', '::/0'], policy: 'Deny' }] };
