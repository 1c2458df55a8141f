/** The flag-table rows of `--kube` (every command that reads the API) and of `serve --kube` (status writing, the Lease). */
import type { FlagTable } from './args.ts';

export const KUBE_FLAG_ROWS = {
  kube: {
    type: 'boolean',
    defaultText: 'off: --config is read',
    description:
      'read the configuration from the Kubernetes API (in a pod: its ServiceAccount; otherwise --kubeconfig or $KUBECONFIG)',
    example: '--kube',
  },
  kubeconfig: {
    type: 'string',
    value: 'FILE',
    defaultText: '$KUBECONFIG, else the in-cluster ServiceAccount',
    description:
      'with --kube: the kubeconfig whose current context is used (token, client certificate, CA; TLS always verified)',
    example: '--kubeconfig ~/.kube/config',
  },
} as const satisfies FlagTable;

export const KUBE_SERVE_FLAG_ROWS = {
  ...KUBE_FLAG_ROWS,
  'lease-namespace': {
    type: 'string',
    value: 'NS',
    defaultText: '$POD_NAMESPACE',
    description:
      'with --kube: the namespace of the coordination.k8s.io Lease that elects the one replica writing status',
    example: '--lease-namespace istio-egress',
  },
  'lease-duration': {
    type: 'string',
    value: 'DURATION',
    defaultText: '15s',
    description: 'with --kube: how long a leader holds the Lease without renewing; another replica takes over after it',
    example: '--lease-duration 15s',
  },
  'publish-address': {
    type: 'string',
    value: 'IP',
    defaultText: 'none',
    description:
      "with --kube: the address written to the served Gateways' status.addresses (istiod routes to a waypoint only once it has one)",
    example: '--publish-address 10.96.0.42',
  },
  'publish-service': {
    type: 'string',
    value: 'NS/NAME',
    defaultText: 'none',
    description: "with --kube: publish this Service's ClusterIP as the Gateways' status.addresses",
    example: '--publish-service istio-egress/egress-gateway',
  },
  'controller-name': {
    type: 'string',
    value: 'DOMAIN/PATH',
    defaultText: 'controllerName in portcullis.yaml, else portcullis.dev/gateway-controller',
    description: 'with --kube: GatewayClasses with this spec.controllerName get Accepted from Portcullis',
    example: '--controller-name portcullis.dev/gateway-controller',
  },
} as const satisfies FlagTable;
