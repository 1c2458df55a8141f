/** Every known kind's accepted apiVersions, scope and whole-document schema, in one table. */
import { CLUSTER_SCOPED_KINDS } from '../types.ts';
import type { Kind } from '../types.ts';
import { any, obj, str } from './dsl.ts';
import type { ObjectSchema, Schema } from './dsl.ts';
import { objectMetaSchema } from './common.ts';
import { authorizationPolicySpec } from './authorization-policy.ts';
import { serviceEntrySpec, serviceEntryStatus } from './service-entry.ts';
import { destinationRuleSpec } from './destination-rule.ts';
import { envoyFilterSpec } from './envoy-filter.ts';
import { gatewayClassSpec, gatewaySpec, httpRouteSpec } from './gateway-api.ts';
import { namespaceSpec, networkPolicySpec, podSpec, secretFields, workloadControllerSpec } from './kubernetes.ts';

export interface KindDefinition {
  readonly kind: Kind;
  /** apiVersions as users write them; the first is the preferred one. */
  readonly apiVersions: readonly string[];
  readonly clusterScoped: boolean;
  /** The whole document: apiVersion, kind, metadata, spec (or a Secret's data), status. */
  readonly document: ObjectSchema;
}

const ISTIO_NETWORKING = ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'];
const ISTIO_SECURITY = ['security.istio.io/v1', 'security.istio.io/v1beta1'];
const GATEWAY_API = ['gateway.networking.k8s.io/v1', 'gateway.networking.k8s.io/v1beta1'];

function define(
  kind: Kind,
  apiVersions: readonly string[],
  fields: Record<string, Schema>,
  opts: { specRequired?: boolean } = {},
): KindDefinition {
  const clusterScoped = CLUSTER_SCOPED_KINDS.has(kind);
  const document = obj(
    {
      apiVersion: str(),
      kind: str(),
      metadata: objectMetaSchema({ clusterScoped, nameIsLabel: kind === 'Namespace' }),
      status: any(),
      ...fields,
    },
    { required: opts.specRequired ? ['metadata', 'spec'] : ['metadata'] },
  );
  return { kind, apiVersions, clusterScoped, document };
}

/**
 * `spec` is required where the CRD says so (ServiceEntry and the Gateway API kinds). DestinationRule's CRD does
 * not, but its `host` is required and istiod's webhook rejects an empty host, so a spec-less one is refused too.
 */
const KIND_DEFINITIONS: Readonly<Record<Kind, KindDefinition>> = {
  Namespace: define('Namespace', ['v1'], { spec: namespaceSpec }),
  GatewayClass: define('GatewayClass', GATEWAY_API, { spec: gatewayClassSpec }, { specRequired: true }),
  Gateway: define('Gateway', GATEWAY_API, { spec: gatewaySpec }, { specRequired: true }),
  HTTPRoute: define('HTTPRoute', GATEWAY_API, { spec: httpRouteSpec }, { specRequired: true }),
  ServiceEntry: define(
    'ServiceEntry',
    ISTIO_NETWORKING,
    { spec: serviceEntrySpec, status: serviceEntryStatus },
    {
      specRequired: true,
    },
  ),
  DestinationRule: define('DestinationRule', ISTIO_NETWORKING, { spec: destinationRuleSpec }, { specRequired: true }),
  // EnvoyFilter exists upstream only as v1alpha3.
  EnvoyFilter: define('EnvoyFilter', ['networking.istio.io/v1alpha3'], { spec: envoyFilterSpec }),
  AuthorizationPolicy: define('AuthorizationPolicy', ISTIO_SECURITY, { spec: authorizationPolicySpec }),
  Secret: define('Secret', ['v1'], secretFields),
  NetworkPolicy: define('NetworkPolicy', ['networking.k8s.io/v1'], { spec: networkPolicySpec }),
  Pod: define('Pod', ['v1'], { spec: podSpec }),
  Deployment: define('Deployment', ['apps/v1'], { spec: workloadControllerSpec }),
  DaemonSet: define('DaemonSet', ['apps/v1'], { spec: workloadControllerSpec }),
  StatefulSet: define('StatefulSet', ['apps/v1'], { spec: workloadControllerSpec }),
};

export function kindDefinition(kind: string): KindDefinition | undefined {
  return Object.hasOwn(KIND_DEFINITIONS, kind) ? KIND_DEFINITIONS[kind as Kind] : undefined;
}
