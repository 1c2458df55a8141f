/**
 * DestinationRule (networking.istio.io v1/v1beta1/v1alpha3) spec, the full CRD schema of
 * `destinationrules.networking.istio.io` (identical in all three versions). Durations are strings here; their
 * CEL checks (`must be a valid duration greater than 1ms`) are in src/config/rules.
 */
import { arr, bool, int, map, num, obj, str, strings, uint32 } from './dsl.ts';
import type { ObjectSchema } from './dsl.ts';
import { istioWorkloadSelectorSchema } from './common.ts';

const connectionPoolSchema = obj({
  tcp: obj({
    maxConnections: int(),
    connectTimeout: str(),
    tcpKeepalive: obj({ probes: uint32(), time: str(), interval: str() }),
    maxConnectionDuration: str(),
    idleTimeout: str(),
  }),
  http: obj({
    http1MaxPendingRequests: int(),
    http2MaxRequests: int(),
    maxRequestsPerConnection: int(),
    maxRetries: int(),
    idleTimeout: str(),
    h2UpgradePolicy: str({ enum: ['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE'] }),
    useClientProtocol: bool(),
    maxConcurrentStreams: int(),
    http2KeepAlive: obj({ interval: str(), timeout: str() }),
  }),
});

const failoverSchema = arr(obj({ from: str(), to: str() }));

const loadBalancerSchema = obj(
  {
    simple: str({ enum: ['UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST'] }),
    consistentHash: obj({
      httpHeaderName: str(),
      httpCookie: obj(
        {
          name: str(),
          path: str(),
          ttl: str(),
          attributes: arr(obj({ name: str(), value: str() }, { required: ['name'] })),
        },
        { required: ['name'] },
      ),
      useSourceIp: bool(),
      httpQueryParameterName: str(),
      ringHash: obj({ minimumRingSize: int({ minimum: 0 }) }),
      maglev: obj({ tableSize: int({ minimum: 0 }) }),
      minimumRingSize: int({ minimum: 0 }),
    }),
    localityLbSetting: obj({
      distribute: arr(obj({ from: str(), to: map(uint32()) })),
      failover: failoverSchema,
      failoverPriority: strings(),
      enabled: bool({ nullable: true }),
    }),
    zoneAwareLbSetting: obj({
      enabled: bool({ nullable: true }),
      failover: failoverSchema,
      failoverPriority: strings(),
      minClusterSize: int({ minimum: 1, nullable: true }),
    }),
    warmupDurationSecs: str(),
    warmup: obj(
      {
        duration: str(),
        minimumPercent: num({ minimum: 0, maximum: 100, nullable: true }),
        aggression: num({ minimum: 0, nullable: true }),
      },
      { required: ['duration'] },
    ),
  },
  // proto `oneof lb_policy`, encoded in the CRD as `oneOf: [not anyOf [simple, consistentHash], ...]`.
  { exclusive: [['simple', 'consistentHash']] },
);

const outlierDetectionSchema = obj({
  splitExternalLocalOriginErrors: bool(),
  consecutiveLocalOriginFailures: uint32({ nullable: true }),
  consecutiveGatewayErrors: uint32({ nullable: true }),
  consecutive5xxErrors: uint32({ nullable: true }),
  consecutiveErrors: int(),
  interval: str(),
  baseEjectionTime: str(),
  maxEjectionPercent: int(),
  minHealthPercent: int(),
  outlierDetectionHttpErrorCodes: arr(int({ minimum: 100, maximum: 599 })),
});

const clientTlsSchema = obj({
  mode: str({ enum: ['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'] }),
  clientCertificate: str(),
  privateKey: str(),
  caCertificates: str(),
  credentialName: str(),
  subjectAltNames: strings(),
  sni: str(),
  insecureSkipVerify: bool({ nullable: true }),
  caCrl: str(),
});

const portTrafficPolicySchema = obj({
  port: obj({ number: uint32() }),
  loadBalancer: loadBalancerSchema,
  connectionPool: connectionPoolSchema,
  outlierDetection: outlierDetectionSchema,
  tls: clientTlsSchema,
});

const trafficPolicySchema = obj({
  loadBalancer: loadBalancerSchema,
  connectionPool: connectionPoolSchema,
  outlierDetection: outlierDetectionSchema,
  tls: clientTlsSchema,
  portLevelSettings: arr(portTrafficPolicySchema, { maxItems: 4096 }),
  tunnel: obj({ protocol: str(), targetHost: str(), targetPort: uint32() }, { required: ['targetHost', 'targetPort'] }),
  proxyProtocol: obj({ version: str({ enum: ['V1', 'V2'] }) }),
  retryBudget: obj({
    percent: num({ minimum: 0, maximum: 100, nullable: true }),
    minRetryConcurrency: uint32(),
    budgetInterval: str(),
  }),
});

export const destinationRuleSpec: ObjectSchema = obj(
  {
    host: str(),
    trafficPolicy: trafficPolicySchema,
    subsets: arr(obj({ name: str(), labels: map(str()), trafficPolicy: trafficPolicySchema }, { required: ['name'] })),
    exportTo: strings(),
    workloadSelector: istioWorkloadSelectorSchema,
  },
  { required: ['host'] },
);
