/** Error codes owned by the mesh model (compile, binding, attachment, destinations). Codes are stable: never rename one, only add. */
import { defineCodes } from './define.ts';

export const meshCodes = defineCodes({
  PCL_MESH_VIP_EXHAUSTED: {
    summary: 'The ServiceEntry VIP range 240.240.0.0/16 is exhausted.',
    fix: 'Give some ServiceEntries explicit spec.addresses, or label them networking.istio.io/enable-autoallocate-ip: "false".',
  },
  PCL_MESH_VIP_REASSIGNED: {
    summary: 'A ServiceEntry\'s auto-allocated VIPs conflicted with another entry\'s addresses; it was given new ones (as istiod\'s ipallocate controller does).',
    fix: 'Nothing is needed for traffic through Portcullis; if the VIPs came from a cluster export, re-export so each entry carries the status istiod wrote.',
  },
  PCL_MESH_NO_SUCH_PORT: {
    summary: 'The destination ServiceEntry does not declare the requested port.',
    fix: 'Add the port to the ServiceEntry spec.ports, or connect to a declared port.',
  },
  PCL_MESH_GATEWAY_NOT_SERVED: {
    summary: 'The destination is bound to a Gateway this Portcullis instance does not serve.',
    fix: 'Bind the ServiceEntry (istio.io/use-waypoint) to a Gateway whose class is in settings.gatewayClasses.',
  },
});
