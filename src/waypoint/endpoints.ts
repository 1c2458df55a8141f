/**
 * The addresses a backend is dialled at, from its ServiceEntry as Istio builds the cluster: the endpoints
 * (`address`, with `ports[<port name>]`, else the port's `targetPort`, else its number), the host itself for DNS
 * resolution without endpoints, or the address the caller dialled for resolution NONE.
 */
import { isIP } from 'node:net';
import type { BackendTarget } from './routing/backend.ts';

export interface Endpoint {
  /** An IP, or a hostname to resolve once. */
  readonly address: string;
  readonly port: number;
  /** The endpoint's hostname when `address` is one (the default SNI), else null. */
  readonly hostname: string | null;
}

/**
 * Endpoints of a backend. `dialledIp` is the IP the tunnel's CONNECT named, used only for resolution NONE on the
 * tunnel's own ServiceEntry (the passthrough Istio does with ORIGINAL_DST).
 */
export function endpointsFor(target: BackendTarget, dialledIp: string | null): Endpoint[] {
  const se = target.serviceEntry;
  const servicePort = target.port;
  const defaultPort = servicePort.targetPort ?? servicePort.number;
  const out: Endpoint[] = [];
  const add = (address: string, port: number) =>
    out.push({ address, port, hostname: isIP(address) === 0 ? address.toLowerCase() : null });
  if (se.resolution === 'NONE') {
    if (dialledIp !== null) add(dialledIp, defaultPort);
    return out;
  }
  if (se.endpoints.length > 0) {
    for (const ep of se.endpoints) {
      if (!ep.address || ep.address.startsWith('unix://')) continue;
      add(ep.address, ep.ports?.[servicePort.name] ?? defaultPort);
    }
    return out;
  }
  if (!target.host.includes('*')) add(target.host, defaultPort);
  return out;
}
