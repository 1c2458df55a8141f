/** Schemas shared by several kinds: Kubernetes ObjectMeta, label selectors, Istio's PolicyTargetReference. */
import { any, arr, int, map, obj, str, strings } from './dsl.ts';
import type { ObjectSchema } from './dsl.ts';

// Kubernetes name rules (k8s.io/apimachinery/pkg/util/validation): DNS-1123 label and subdomain, qualified names.
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Check a DNS-1123 subdomain (most object names). */
function checkDns1123Subdomain(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (value.length > 253) return 'must be no more than 253 characters';
  if (!DNS1123_SUBDOMAIN.test(value)) {
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')";
  }
  return undefined;
}

/** Check a DNS-1123 label (namespace names). */
export function checkDns1123Label(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (value.length > 63) return 'must be no more than 63 characters';
  if (!DNS1123_LABEL.test(value)) {
    return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name')";
  }
  return undefined;
}

/** Check a label or annotation key: an optional DNS subdomain prefix, `/`, and a name of at most 63 characters. */
function checkQualifiedName(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const slash = value.lastIndexOf('/');
  const prefix = slash >= 0 ? value.slice(0, slash) : undefined;
  const name = slash >= 0 ? value.slice(slash + 1) : value;
  if (prefix !== undefined && checkDns1123Subdomain(prefix) !== undefined) {
    return "prefix part must be a lowercase DNS subdomain (e.g. 'example.com/MyName')";
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME.test(name)) {
    return "name part must be at most 63 characters, consist of alphanumeric characters, '-', '_' or '.', and start and end with an alphanumeric character (e.g. 'MyName', 'my.name', '123-abc')";
  }
  return undefined;
}

/** Check a label value: empty, or at most 63 characters of alphanumerics, '-', '_', '.'. */
function checkLabelValue(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (value.length > 63) return 'must be no more than 63 characters';
  if (!LABEL_VALUE.test(value)) {
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue', 'my_value', '12345')";
  }
  return undefined;
}

const labelsSchema = map(str({ check: checkLabelValue }), { keyCheck: checkQualifiedName });
const annotationsSchema = map(str(), { keyCheck: checkQualifiedName });

/**
 * ObjectMeta: the fields users and `kubectl get -o yaml` write. `name` is required (Portcullis has no
 * server to fill `generateName`). `creationTimestamp: null` is what `kubectl create --dry-run -o yaml` prints.
 */
export function objectMetaSchema(opts: { clusterScoped: boolean; nameIsLabel?: boolean }): ObjectSchema {
  return obj(
    {
      name: str({ check: opts.nameIsLabel ? checkDns1123Label : checkDns1123Subdomain }),
      generateName: str(),
      namespace: str({ check: opts.clusterScoped ? undefined : checkDns1123Label }),
      labels: labelsSchema,
      annotations: annotationsSchema,
      uid: str(),
      resourceVersion: str(),
      selfLink: str(),
      generation: int(),
      creationTimestamp: str({ nullable: true }),
      deletionTimestamp: str({ nullable: true }),
      deletionGracePeriodSeconds: int(),
      ownerReferences: arr(any()),
      finalizers: strings(),
      managedFields: arr(any()),
    },
    { required: ['name'] },
  );
}

/** Metadata of a pod template: labels and annotations are checked strictly, the rest is free. */
export const templateMetaSchema: ObjectSchema = obj(
  { labels: labelsSchema, annotations: annotationsSchema },
  { open: true },
);

/** meta/v1 LabelSelector as Kubernetes defines it (operator is an enum). */
export const labelSelectorSchema: ObjectSchema = obj({
  matchLabels: map(str({ check: checkLabelValue }), { keyCheck: checkQualifiedName }),
  matchExpressions: arr(
    obj(
      {
        key: str(),
        operator: str({ enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] }),
        values: strings(),
      },
      { required: ['key', 'operator'] },
    ),
  ),
});

// Gateway API / Istio shared string shapes, as the CRDs write them.
export const GROUP_PATTERN = '^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
export const KIND_PATTERN = '^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$';
export const DNS_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const DNS_SUBDOMAIN_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

/** istio.type.v1beta1.PolicyTargetReference (AuthorizationPolicy, EnvoyFilter `targetRefs`). */
export const policyTargetRefSchema: ObjectSchema = obj(
  {
    group: str({ maxLength: 253, pattern: GROUP_PATTERN }),
    kind: str({ minLength: 1, maxLength: 63, pattern: KIND_PATTERN }),
    name: str({ minLength: 1, maxLength: 253 }),
    namespace: str(),
  },
  { required: ['kind', 'name'] },
);

/** istio.type.v1beta1.WorkloadSelector (`matchLabels`). */
export const istioWorkloadSelectorSchema: ObjectSchema = obj({
  matchLabels: map(str({ maxLength: 63 }), { maxProperties: 4096 }),
});

/** The `workloadSelector: {labels}` shape of ServiceEntry and EnvoyFilter. */
export const istioLabelsSelectorSchema: ObjectSchema = obj({
  labels: map(str({ maxLength: 63 }), { maxProperties: 256 }),
});
