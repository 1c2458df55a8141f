/** Error codes owned by the Kubernetes API source (`--kube`). Codes are stable: never rename one, only add. */
import { defineCodes } from './define.ts';

export const kubeCodes = defineCodes({
  PCL_KUBE_CREDENTIALS: {
    summary:
      'No usable Kubernetes credentials: not in a pod, no --kubeconfig and no $KUBECONFIG, or the file cannot be read.',
    fix: 'Run in a pod with a ServiceAccount token mounted, or pass --kubeconfig FILE (or set $KUBECONFIG).',
  },
  PCL_KUBE_UNREACHABLE: {
    summary: 'The Kubernetes API server cannot be reached (connection refused, TLS failure, timeout).',
    fix: 'Check the server address and CA in the kubeconfig (or the pod network); Portcullis retries with backoff and, once running, keeps serving the last snapshot meanwhile.',
  },
  PCL_KUBE_FORBIDDEN: {
    summary: 'The API server answered 403: the ServiceAccount lacks an RBAC rule Portcullis needs.',
    fix: 'Apply the rule the message names (portcullis install generates all of them from src/kube/access.ts).',
  },
  PCL_KUBE_UNAUTHORIZED: {
    summary: 'The API server answered 401: the token or client certificate is not accepted.',
    fix: 'Renew the kubeconfig credentials, or check the ServiceAccount token mount.',
  },
  PCL_KUBE_REQUEST_FAILED: {
    summary: 'A request to the Kubernetes API failed with an unexpected answer.',
    fix: 'Read the message (status and reason from the API server); Portcullis retries.',
  },
  PCL_KUBE_STATUS_WRITE_FAILED: {
    summary: 'Writing a Gateway or GatewayClass status through the /status subresource failed.',
    fix: 'Check the RBAC rule on gateways/status and gatewayclasses/status (patch); it is retried on the next change.',
  },
  PCL_KUBE_LEASE_FAILED: {
    summary: 'Reading or renewing the leader-election Lease failed.',
    fix: 'Check the RBAC rule on leases (get, create, update) in --lease-namespace; another replica takes over meanwhile.',
  },
  PCL_KUBE_CRD_MISSING: {
    summary: 'A kind the audit reads is not served by the API server (its CRD is not installed).',
    fix: 'Install the CRD (e.g. Kyverno) if you rely on it; the audit reports the layer it would have provided as missing.',
  },
});
