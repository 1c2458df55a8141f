/** Synthetic configurations for the control-plane benchmarks: N ServiceEntries, policies and routes across gateways. */
import type { ConfigFile } from '../src/config/load.ts';

export interface SyntheticSize {
  serviceEntries: number;
  policies: number;
  routes: number;
  gateways: number;
}

export const FULL: SyntheticSize = { serviceEntries: 10_000, policies: 10_000, routes: 2_000, gateways: 100 };
export const TOY: SyntheticSize = { serviceEntries: 50, policies: 50, routes: 10, gateways: 3 };

/** 50 documents a file, as a GitOps repository might hold them. */
export function syntheticConfig(size: SyntheticSize): ConfigFile[] {
  const files: ConfigFile[] = [];
  const chunk = (name: string, docs: string[]) => {
    for (let i = 0; i < docs.length; i += 50)
      files.push({ path: `${name}-${i / 50}.yaml`, text: docs.slice(i, i + 50).join('---\n') });
  };
  const gateways: string[] = [];
  for (let g = 0; g < size.gateways; g++) {
    gateways.push(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: egress-${g}, namespace: istio-system}
spec:
  gatewayClassName: ${g % 2 === 0 ? 'solo-ztunnel-egress' : 'istio-waypoint'}
  listeners: [{name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: All}}}]
`);
  }
  chunk('gateways', gateways);
  const ses: string[] = [];
  for (let i = 0; i < size.serviceEntries; i++) {
    const g = i % size.gateways;
    ses.push(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: se-${i}
  namespace: ns-${i % 100}
  labels: {istio.io/use-waypoint: egress-${g}, istio.io/use-waypoint-namespace: istio-system}
spec:
  hosts: [host-${i}.example.com]
  ports: [{number: 443, name: https, protocol: TLS}, {number: 80, name: http, protocol: HTTP}]
  resolution: DNS
  location: MESH_EXTERNAL
`);
  }
  chunk('serviceentries', ses);
  const aps: string[] = [];
  for (let i = 0; i < size.policies; i++) {
    const se = i % size.serviceEntries;
    const onGateway = i % 10 === 0;
    const target = onGateway
      ? `{kind: Gateway, group: gateway.networking.k8s.io, name: egress-${i % size.gateways}}`
      : `{kind: ServiceEntry, group: networking.istio.io, name: se-${se}}`;
    aps.push(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ap-${i}, namespace: ${onGateway ? 'istio-system' : `ns-${se % 100}`}}
spec:
  targetRefs: [${target}]
  action: ${i % 7 === 0 ? 'DENY' : 'ALLOW'}
  rules:
    - from: [{source: {principals: ["cluster.local/ns/ns-${i % 100}/sa/app-${i % 13}", "cluster.local/ns/team-*"]}}]
      to: [{operation: {ports: ["443"]}}]
    - from: [{source: {namespaces: ["ns-${(i + 1) % 100}"], ipBlocks: ["10.${i % 250}.0.0/16"]}}]
`);
  }
  chunk('policies', aps);
  const routes: string[] = [];
  for (let i = 0; i < size.routes; i++) {
    const se = i % size.serviceEntries;
    routes.push(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: route-${i}, namespace: ns-${se % 100}}
spec:
  parentRefs: [{name: se-${se}, kind: ServiceEntry, group: networking.istio.io}]
  rules:
    - matches: [{path: {type: PathPrefix, value: /api/${i}}, headers: [{name: x-team, value: t${i % 5}}]}]
      backendRefs: [{group: networking.istio.io, kind: Hostname, name: host-${se}.example.com, port: 443}]
`);
  }
  chunk('routes', routes);
  return files;
}
