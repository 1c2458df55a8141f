/** Manifests the agent's tests share: an egress Gateway, bound ServiceEntries, and egressPolicies; compiled in memory. */
import { loadConfigTexts } from '../../src/config/load.ts';
import { compileSnapshot } from '../../src/mesh/compile.ts';
import type { Snapshot } from '../../src/mesh/snapshot.ts';

/** The bound gateway's identity: Istio names a waypoint's service account after its Gateway. */
export const GATEWAY_SPIFFE = 'spiffe://cluster.local/ns/istio-system/sa/ztunnel-egress';

export const TEST_MANIFESTS = `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ztunnel-egress, namespace: istio-system}
spec:
  gatewayClassName: solo-ztunnel-egress
  listeners: [{name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: All}}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: httpbin-org
  namespace: bookinfo
  labels: {istio.io/use-waypoint: ztunnel-egress, istio.io/use-waypoint-namespace: istio-system}
spec:
  hosts: [httpbin.org]
  ports: [{number: 443, name: https, protocol: TLS}, {number: 80, name: http, protocol: HTTP}]
  resolution: DNS
  location: MESH_EXTERNAL
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: partner-db
  namespace: bookinfo
  labels: {istio.io/use-waypoint: ztunnel-egress, istio.io/use-waypoint-namespace: istio-system}
spec:
  hosts: [db.partner.example]
  addresses: [203.0.113.0/28]
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  resolution: STATIC
  endpoints: [{address: 203.0.113.5}]
  location: MESH_EXTERNAL
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: wildcard
  namespace: bookinfo
  labels: {istio.io/use-waypoint: ztunnel-egress, istio.io/use-waypoint-namespace: istio-system}
spec:
  hosts: ["*.wild.example"]
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: DYNAMIC_DNS
  location: MESH_EXTERNAL
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: unbound, namespace: bookinfo}
spec:
  hosts: [unbound.example]
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: DNS
`;

/** Loopback is allowed direct (for local test servers); everything else unknown is denied. */
export const TEST_SETTINGS = `
egressPolicies:
- matchCidrs: [127.0.0.0/8]
  policy: Allow
- matchCidrs: [0.0.0.0/0, "::/0"]
  policy: Deny
`;

export function testSnapshot(manifests = TEST_MANIFESTS, settings = TEST_SETTINGS): Snapshot {
  const load = loadConfigTexts([{ path: 'test.yaml', text: manifests }], {
    settings: { path: 'portcullis.yaml', text: settings },
    env: {},
  });
  const errors = load.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(`test manifests invalid: ${errors.map((d) => d.message).join('; ')}`);
  return compileSnapshot(load);
}
