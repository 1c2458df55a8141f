/**
 * Decide one connection against a snapshot: the two policy layers of seed 000 for a ServiceEntry destination,
 * egressPolicies for an unknown one (denied outright when only an invalid ServiceEntry declares it). Pure; the data
 * plane, `portcullis check`, the audit and the agent call the same function.
 */
import type { AuthzRequest } from '../policy/request.ts';
import { decideEgress, type DecisionRecord, type LayerRecord } from '../policy/engine.ts';
import { decideUnknownDestination } from '../policy/egress-policies.ts';
import type { Destination } from './destination.ts';
import type { Snapshot } from './snapshot.ts';

export function decideConnection(snap: Snapshot, dest: Destination, req: AuthzRequest): DecisionRecord {
  switch (dest.kind) {
    case 'serviceEntry':
    case 'noSuchPort':
      return decideEgress(snap.layersFor(dest.gateway.key, dest.serviceEntry.key), req);
    case 'unknown':
      if (dest.invalid !== undefined) return invalidServiceEntry(dest.invalid);
      return decideUnknownDestination(snap.egressPolicies, dest.ip, dest.port);
  }
}

/** A destination only an invalid ServiceEntry declares: denied before egressPolicies, so a bad edit never widens. */
function invalidServiceEntry(reason: string): DecisionRecord {
  const why = `${reason}: its hosts stay unknown and are denied`;
  const layer: LayerRecord = {
    layer: 'egressPolicies',
    target: 'ServiceEntry (invalid)',
    decision: 'deny',
    code: 'PCL_MESH_INVALID_SERVICE_ENTRY',
    reason: why,
    policy: null,
    rule: null,
    dryRun: [],
    audit: [],
  };
  return { decision: 'deny', code: 'PCL_MESH_INVALID_SERVICE_ENTRY', reason: why, layers: [layer] };
}
