/**
 * Re-decide an open tunnel on a new snapshot, with the AuthzRequest it was decided on and its destination resolved
 * again (ztunnel re-checks open connections on policy change and closes those no longer allowed:
 * "connection closed due to policy change"). Pure.
 */
import type { Authority } from '../mesh/destination.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import type { DecisionRecord } from '../policy/engine.ts';
import { decideUnknownDestination } from '../policy/egress-policies.ts';
import type { AuthzRequest } from '../policy/request.ts';
import { applyLearnMode } from '../learn/learn-mode.ts';
import type { AddressGuard } from '../upstream/private-address-guard.ts';
import { decideTunnel, decideUnknownAddresses } from './tunnel-decision.ts';

/** ztunnel's words for a connection a new policy no longer allows. */
export const POLICY_CHANGE_REASON = 'connection closed due to policy change';

/** What the gateway remembers of an open tunnel to re-decide it. */
export interface DecidedTunnel {
  readonly authority: Authority;
  readonly request: AuthzRequest;
  /** The address dialled, whether it was trusted as written (STATIC) and whether egressPolicies had to allow it. */
  readonly upstream: {
    readonly ip: string;
    readonly port: number;
    readonly trusted: boolean;
    readonly egressCheck: boolean;
  };
}

export type Recheck = { readonly keep: true } | { readonly keep: false; readonly record: DecisionRecord };

function refused(code: DecisionRecord['code'], reason: string, layers: DecisionRecord['layers'] = []): Recheck {
  return { keep: false, record: { decision: 'deny', code, reason, layers } };
}

export function recheckTunnel(snap: Snapshot, tunnel: DecidedTunnel, guard: AddressGuard): Recheck {
  const { authority, request, upstream } = tunnel;
  const { decision } = decideTunnel(snap, authority, request, request.principal ?? '', request.sourceIp);
  let record = decision.record;
  if (decision.kind === 'resolveFirst')
    record = decideUnknownAddresses(snap.egressPolicies, [upstream.ip], authority.port);
  // A policy denial that learn mode lets through (the caller decides, with applyLearnMode) is returned only after the
  // checks learn mode never relaxes: the guard below must still close such a tunnel.
  const learnable = record.decision === 'deny' && applyLearnMode(snap.settings, record).decision === 'allow';
  if (record.decision === 'deny' && !learnable) return { keep: false, record };
  if (decision.kind === 'noSuchPort') {
    return refused('PCL_MESH_NO_SUCH_PORT', `the destination no longer declares port ${authority.port}`, record.layers);
  }
  if (upstream.egressCheck) {
    const egress = decideUnknownDestination(snap.egressPolicies, upstream.ip, authority.port);
    if (egress.decision === 'deny')
      return { keep: false, record: { ...egress, layers: [...record.layers, ...egress.layers] } };
  }
  if (!upstream.trusted) {
    const v = guard.check(upstream.ip, upstream.port);
    if (!v.ok) return refused('PCL_DATAPLANE_PRIVATE_ADDRESS', v.reason, record.layers);
  }
  return learnable ? { keep: false, record } : { keep: true };
}
