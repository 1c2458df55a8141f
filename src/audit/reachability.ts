/**
 * The reachability table seed 000 promises auditors: for every workload identity, the external host:port pairs it
 * may reach through an egress gateway, decided by the same engine as the data plane (resolveAuthority, then
 * decideConnection over both policy layers), and the fence layers it could use to bypass the gateway.
 */
import { decideConnection } from '../mesh/decide.ts';
import { resolveAuthority } from '../mesh/destination.ts';
import { pushTo } from '../mesh/multimap.ts';
import type { ServiceEntryModel, Snapshot } from '../mesh/snapshot.ts';
import type { AuthzRequest } from '../policy/request.ts';
import type { ClusterModel, PodSubject } from './cluster-model.ts';
import type { LayerAudit } from './layer-audit.ts';

export interface ReachableDestination {
  readonly host: string;
  readonly port: number;
}

export interface ReachabilityRow {
  /** `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`. */
  readonly identity: string;
  readonly destinations: readonly ReachableDestination[];
  /** Fence layers (1-5) open for at least one of the identity's pods. */
  readonly bypass: readonly (1 | 2 | 3 | 4 | 5)[];
}

/** Any pod-like address: the gateway layers decide on identity and destination, not on the source address. */
const SOURCE_IP = '10.0.0.1';

interface Candidate {
  readonly se: ServiceEntryModel;
  readonly host: string;
  readonly port: number;
  readonly destinationIp: string;
}

/** Every host:port a ServiceEntry bound to a served gateway declares, with the address a caller would dial. */
function candidates(snap: Snapshot): Candidate[] {
  const out: Candidate[] = [];
  const ses = [...snap.serviceEntries.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const se of ses) {
    if (se.waypoint === null || !snap.gateways.get(se.waypoint)?.mode) continue;
    for (const host of se.hosts) {
      // The caller dials the VIP ztunnel's DNS proxy answers with; else the first address the ServiceEntry declares.
      const vip = se.vips.find((v) => v.host === host && !v.value.includes(':'))?.value;
      const declared = se.specAddresses.find((a) => !a.includes('/'));
      for (const p of se.ports) out.push({ se, host, port: p.number, destinationIp: vip ?? declared ?? '' });
    }
  }
  return out;
}

export function computeReachability(model: ClusterModel, layers: readonly LayerAudit[]): ReachabilityRow[] {
  const snap = model.snapshot;
  const byIdentity = new Map<string, PodSubject[]>();
  for (const ns of model.workloadNamespaces) {
    for (const pod of model.workloadPods(ns)) {
      const id = `spiffe://${snap.settings.trustDomain}/ns/${ns}/sa/${pod.serviceAccount}`;
      pushTo(byIdentity, id, pod);
    }
  }
  const cands = candidates(snap);
  const rows: ReachabilityRow[] = [];
  for (const identity of [...byIdentity.keys()].sort()) {
    const pods = byIdentity.get(identity)!;
    const seen = new Set<string>();
    const destinations: ReachableDestination[] = [];
    for (const c of cands) {
      const key = `${c.host}:${c.port}`;
      if (seen.has(key)) continue;
      const dest = resolveAuthority(snap, null, { host: c.host, port: c.port, isIp: false });
      // Another ServiceEntry (older) answers for this host: it is that one's candidate that counts.
      if (dest.kind !== 'serviceEntry' || dest.serviceEntry.key !== c.se.key) continue;
      seen.add(key);
      const req: AuthzRequest = {
        principal: identity,
        sourceIp: SOURCE_IP,
        destinationIp: c.destinationIp,
        destinationPort: c.port,
      };
      if (decideConnection(snap, dest, req).decision === 'allow') destinations.push({ host: c.host, port: c.port });
    }
    destinations.sort((a, b) => (a.host !== b.host ? (a.host < b.host ? -1 : 1) : a.port - b.port));
    const bypass: (1 | 2 | 3 | 4 | 5)[] = [];
    layers.forEach((layer, i) => {
      if (pods.some((p) => layer.open(p))) bypass.push((i + 1) as 1 | 2 | 3 | 4 | 5);
    });
    rows.push({ identity, destinations, bypass });
  }
  return rows;
}
