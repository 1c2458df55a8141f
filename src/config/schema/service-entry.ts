/**
 * ServiceEntry (networking.istio.io v1/v1beta1/v1alpha3) spec, read from the CRD `serviceentries.networking.istio.io`
 * (identical in all three versions). Port ranges (`port must be between 1-65535`) are CEL rules in src/config/rules;
 * here the CRD's uint32 bounds apply.
 */
import { isIpAddress } from '../../net/ip-syntax.ts';
import { any, arr, map, obj, str, strings, uint32 } from './dsl.ts';
import type { ObjectSchema } from './dsl.ts';
import { istioLabelsSelectorSchema } from './common.ts';

const portSchema = obj(
  {
    number: uint32(),
    protocol: str({ maxLength: 256 }),
    name: str({ maxLength: 256 }),
    targetPort: uint32(),
  },
  { required: ['number', 'name'] },
);

const workloadEntrySchema = obj({
  address: str({ maxLength: 256 }),
  ports: map(uint32(), { maxProperties: 128 }),
  labels: map(str(), { maxProperties: 256 }),
  network: str({ maxLength: 2048 }),
  locality: str({ maxLength: 2048 }),
  weight: uint32(),
  serviceAccount: str({ maxLength: 253 }),
});

export const serviceEntrySpec: ObjectSchema = obj(
  {
    hosts: strings({ minItems: 1, maxItems: 256 }),
    addresses: strings({ maxItems: 256 }, str({ maxLength: 64 })),
    // listType=map keyed by `name`: two ports with one name are a `Duplicate value` (istio/api serviceentry-invalid.yaml).
    ports: arr(portSchema, { maxItems: 256, listType: 'map', mapKeys: ['name'] }),
    location: str({ enum: ['MESH_EXTERNAL', 'MESH_INTERNAL'] }),
    resolution: str({ enum: ['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN', 'DYNAMIC_DNS'] }),
    endpoints: arr(workloadEntrySchema, { maxItems: 4096 }),
    workloadSelector: istioLabelsSelectorSchema,
    exportTo: strings(),
    subjectAltNames: strings(),
  },
  { required: ['hosts'] },
);

/**
 * `status` as istiod writes it: `addresses` ({value, host} per auto-allocated VIP, istio/api
 * `ServiceEntryStatus.addresses`) is read by the VIP allocator, so manifests exported from a cluster keep istiod's
 * VIPs; the rest (conditions, validationMessages) is the CRD's `x-kubernetes-preserve-unknown-fields`.
 */
export const serviceEntryStatus: ObjectSchema = obj(
  {
    addresses: arr(
      obj(
        {
          value: str({ check: (v) => (typeof v === 'string' && isIpAddress(v) ? undefined : 'must be an IP address') }),
          host: str(),
        },
        { required: ['value', 'host'] },
      ),
    ),
    conditions: any(),
    observedGeneration: any(),
    validationMessages: any(),
  },
  { open: true },
);
