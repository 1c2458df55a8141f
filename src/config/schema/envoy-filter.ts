/**
 * EnvoyFilter (networking.istio.io v1alpha3 only, as upstream) spec, read from the CRD
 * `envoyfilters.networking.istio.io`. Portcullis never applies EnvoyFilters (mesh reports them as not applied),
 * but validates them so a typo is still caught. `patch.value` is free-form Envoy configuration.
 */
import { arr, int, map, obj, str, uint32 } from './dsl.ts';
import type { ObjectSchema } from './dsl.ts';
import { istioLabelsSelectorSchema, policyTargetRefSchema } from './common.ts';

const filterMatch = obj({ name: str(), subFilter: obj({ name: str() }) });

const matchSchema = obj(
  {
    context: str({ enum: ['ANY', 'SIDECAR_INBOUND', 'SIDECAR_OUTBOUND', 'GATEWAY', 'WAYPOINT'] }),
    proxy: obj({ proxyVersion: str(), metadata: map(str()) }),
    listener: obj({
      portNumber: uint32(),
      portName: str(),
      filterChain: obj({
        name: str(),
        sni: str(),
        transportProtocol: str(),
        applicationProtocols: str(),
        filter: filterMatch,
        destinationPort: uint32(),
      }),
      listenerFilter: str(),
      name: str(),
    }),
    routeConfiguration: obj({
      portNumber: uint32(),
      portName: str(),
      gateway: str(),
      vhost: obj({
        name: str(),
        domainName: str(),
        route: obj({ name: str(), action: str({ enum: ['ANY', 'ROUTE', 'REDIRECT', 'DIRECT_RESPONSE'] }) }),
      }),
      name: str(),
    }),
    cluster: obj({ portNumber: uint32(), service: str(), subset: str(), name: str() }),
    waypoint: obj({ filter: filterMatch, route: obj({ name: str() }), portNumber: uint32() }),
  },
  // proto `oneof object_types`.
  { exclusive: [['listener', 'routeConfiguration', 'cluster', 'waypoint']] },
);

const patchSchema = obj({
  operation: str({
    enum: [
      'INVALID',
      'MERGE',
      'ADD',
      'REMOVE',
      'INSERT_BEFORE',
      'INSERT_AFTER',
      'INSERT_FIRST',
      'REPLACE',
      'MERGE_AND_REPLACE_LIST',
    ],
  }),
  value: obj({}, { open: true }),
  filterClass: str({ enum: ['UNSPECIFIED', 'AUTHN', 'AUTHZ', 'STATS'] }),
});

export const envoyFilterSpec: ObjectSchema = obj({
  workloadSelector: istioLabelsSelectorSchema,
  targetRefs: arr(policyTargetRefSchema, { maxItems: 16 }),
  configPatches: arr(
    obj({
      applyTo: str({
        enum: [
          'INVALID',
          'LISTENER',
          'FILTER_CHAIN',
          'NETWORK_FILTER',
          'HTTP_FILTER',
          'ROUTE_CONFIGURATION',
          'VIRTUAL_HOST',
          'HTTP_ROUTE',
          'CLUSTER',
          'EXTENSION_CONFIG',
          'BOOTSTRAP',
          'LISTENER_FILTER',
        ],
      }),
      match: matchSchema,
      patch: patchSchema,
    }),
  ),
  priority: int(),
});
