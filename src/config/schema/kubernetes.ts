/**
 * Kubernetes core kinds Portcullis reads: Namespace, Secret, NetworkPolicy (networking.k8s.io/v1, fully), and
 * Pod / Deployment / DaemonSet / StatefulSet, where only the fields the audit reads are checked
 * (`hostNetwork`, `serviceAccountName`, pod template labels/annotations). Everything else in a pod spec
 * (containers, resources, env, ...) is accepted as written, so a real cluster's manifests never fail on it.
 */
import { any, bool, int, intOrStr, map, obj, str, strings, arr } from './dsl.ts';
import type { ObjectSchema, Schema } from './dsl.ts';
import { labelSelectorSchema, templateMetaSchema } from './common.ts';

export const namespaceSpec: ObjectSchema = obj({ finalizers: strings() });

/** Secret's top-level fields besides metadata (a Secret has no `spec`). */
export const secretFields: Readonly<Record<string, Schema>> = {
  data: map(str()),
  stringData: map(str()),
  type: str(),
  immutable: bool(),
};

const networkPolicyPort = obj({
  protocol: str({ enum: ['TCP', 'UDP', 'SCTP'] }),
  port: intOrStr(),
  endPort: int(),
});

const networkPolicyPeer = obj({
  podSelector: labelSelectorSchema,
  namespaceSelector: labelSelectorSchema,
  ipBlock: obj({ cidr: str(), except: strings() }, { required: ['cidr'] }),
});

export const networkPolicySpec: ObjectSchema = obj({
  podSelector: labelSelectorSchema,
  policyTypes: strings({}, str({ enum: ['Ingress', 'Egress'] })),
  ingress: arr(obj({ from: arr(networkPolicyPeer), ports: arr(networkPolicyPort) })),
  egress: arr(obj({ to: arr(networkPolicyPeer), ports: arr(networkPolicyPort) })),
});

export const podSpec: ObjectSchema = obj(
  {
    hostNetwork: bool(),
    serviceAccountName: str(),
    serviceAccount: str(),
    containers: arr(any()),
  },
  { open: true },
);

export const workloadControllerSpec: ObjectSchema = obj(
  {
    selector: labelSelectorSchema,
    template: obj({ metadata: templateMetaSchema, spec: podSpec }),
  },
  { open: true },
);
