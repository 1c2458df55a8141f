/** Error codes owned by the mesh model (compile, binding, attachment, destinations). Codes are stable: never rename one, only add. */
import { defineCodes } from './define.ts';

export const meshCodes = defineCodes({
  PCL_MESH_VIP_EXHAUSTED: {
    summary: 'The ServiceEntry VIP range 240.240.0.0/16 is exhausted.',
    fix: 'Give some ServiceEntries explicit spec.addresses, or label them networking.istio.io/enable-autoallocate-ip: "false".',
  },
  PCL_MESH_VIP_REASSIGNED: {
    summary:
      "A ServiceEntry's auto-allocated VIPs conflicted with another entry's addresses; it was given new ones (as istiod's ipallocate controller does).",
    fix: 'Nothing is needed for traffic through Portcullis; if the VIPs came from a cluster export, re-export so each entry carries the status istiod wrote.',
  },
  PCL_MESH_NO_SUCH_PORT: {
    httpStatus: 503,
    summary: 'The destination ServiceEntry does not declare the requested port.',
    fix: 'Add the port to the ServiceEntry spec.ports, or connect to a declared port.',
  },
  PCL_MESH_INVALID_SERVICE_ENTRY: {
    httpStatus: 401,
    summary:
      'Denied: the destination is declared by a ServiceEntry that is invalid and has no last good version, or bound to a Gateway that is; its hosts are denied (never left to egressPolicies).',
    fix: 'Fix the ServiceEntry (or its Gateway) at the file and line shown (`portcullis status` lists the error), or delete it.',
  },
  PCL_MESH_INVALID_TARGET_NOT_FOUND: {
    summary:
      "Warning: an invalid AuthorizationPolicy targets nothing that exists (TargetNotFound), so it denies nothing; it will deny its target's traffic as soon as the target appears, until the policy is fixed.",
    fix: 'Fix or delete the policy, and check the names in its targetRefs.',
  },
});
