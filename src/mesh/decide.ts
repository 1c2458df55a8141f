/**
 * Decide one connection against a snapshot: the two policy layers of seed 000 for a ServiceEntry destination,
 * egressPolicies for an unknown one. Pure; the data plane and `portcullis check` call the same function.
 */
import type { AuthzRequest } from '../policy/request.ts';
import { decideEgress, type DecisionRecord } from '../policy/engine.ts';
import { decideUnknownDestination } from '../policy/egress-policies.ts';
import type { Destination } from './destination.ts';
import type { Snapshot } from './snapshot.ts';

export function decideConnection(snap: Snapshot, dest: Destination, req: AuthzRequest): DecisionRecord {
  switch (dest.kind) {
    case 'serviceEntry':
    case 'noSuchPort':
      return decideEgress(snap.layersFor(dest.gateway.key, dest.serviceEntry.key), req);
    case 'unknown':
      return decideUnknownDestination(snap.egressPolicies, dest.ip, dest.port);
  }
}
