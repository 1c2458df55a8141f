/**
 * Status conditions with istiod's exact types, reasons and messages (istio/istio pilot/pkg/model/service.go,
 * pilot/pkg/serviceregistry/ambient/status.go and policies.go, pilot/pkg/config/kube/gateway/conversion.go), so `portcullis status` reads like `kubectl get -o yaml` on a real cluster.
 */

export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
}

function c(type: string, status: Condition['status'], reason: string, message: string): Condition {
  return { type, status, reason, message };
}

// ---- ServiceEntry: istio.io/WaypointBound (pilot/pkg/model/service.go ServiceInfo.GetConditions) ----
export const WAYPOINT_BOUND = 'istio.io/WaypointBound';
/**
 * `ingress`: the `istio.io/ingress-use-waypoint` label as istiod reads it (ingressUseWaypointFromLabels): absent,
 * present and true (`strconv.ParseBool`), or present and anything else.
 */
export type IngressUseWaypoint = 'absent' | 'true' | 'other';
export const waypointAccepted = (gw: string, ingress: IngressUseWaypoint = 'absent'): Condition =>
  c(
    WAYPOINT_BOUND,
    'True',
    'WaypointAccepted',
    `Successfully attached to waypoint ${gw}` +
      (ingress === 'true'
        ? '. Ingress traffic will traverse the waypoint'
        : ingress === 'other'
          ? '. Ingress traffic is not using the waypoint, set the istio.io/ingress-use-waypoint label to true if desired.'
          : ''),
  );
export const waypointIsNotReady = (gw: string): Condition =>
  c(WAYPOINT_BOUND, 'False', 'WaypointIsNotReady', `waypoint "${gw}" is not ready`);
export const attachmentDenied = (gw: string): Condition =>
  c(
    WAYPOINT_BOUND,
    'False',
    'AttachmentDenied',
    `we are not permitted to attach to waypoint "${gw}" (missing allowedRoutes?)`,
  );
export const unsupportedTrafficType = (gw: string, traffic: string): Condition =>
  c(
    WAYPOINT_BOUND,
    'False',
    'UnsupportedTrafficType',
    `attempting to bind to traffic type "${traffic}" which the waypoint "${gw}" does not support`,
  );

// ---- Gateway (pilot/pkg/config/kube/gateway conversion.go, gatewaycommon) ----
export const gatewayAccepted = (): Condition => c('Accepted', 'True', 'Accepted', 'Resource accepted');
export const gatewayListenersNotValid = (): Condition =>
  c('Accepted', 'True', 'ListenersNotValid', "One or more of the Gateway's listeners are invalid");
export const gatewayNoValidListeners = (): Condition =>
  c('Accepted', 'False', 'ListenersNotValid', "None of the Gateway's listeners are valid");
export const gatewayProgrammed = (service: string): Condition =>
  c('Programmed', 'True', 'Programmed', `Resource programmed, assigned to service(s) ${service}`);
export const gatewayNotProgrammed = (message: string): Condition => c('Programmed', 'False', 'Invalid', message);
export const gatewayResolvedRefs = (): Condition =>
  c('ResolvedRefs', 'True', 'ResolvedRefs', 'All references resolved');
export const UNEXPECTED_WAYPOINT_LISTENER = 'Expected a single listener on port 15008 with protocol "HBONE"';
export const listenerUnsupportedProtocol = (): Condition =>
  c('Accepted', 'False', 'UnsupportedProtocol', UNEXPECTED_WAYPOINT_LISTENER);
export const listenerAccepted = (): Condition => c('Accepted', 'True', 'Accepted', 'No errors found');
export const gatewayClassAccepted = (mode: string): Condition =>
  c(
    'Accepted',
    'True',
    'Accepted',
    `Handled by Portcullis as an ${mode === 'egress' ? 'L4 egress gateway' : 'L7 egress waypoint'}`,
  );

// ---- AuthorizationPolicy with targetRefs: WaypointAccepted (pilot/pkg/serviceregistry/ambient/policies.go) ----
export const WAYPOINT_ACCEPTED = 'WaypointAccepted';
/** istiod's `constants.ManagedGatewayMeshController`: the controller name of its waypoint GatewayClass. */
export const MESH_CONTROLLER = 'istio.io/mesh-controller';

/** One targetRef's outcome, as istiod's `model.PolicyBindingStatus`. */
export interface PolicyBindingStatus {
  /** `<Kind>.<group or core>:<namespace>/<name>`. */
  readonly ancestor: string;
  readonly reason: string;
  readonly message: string;
  readonly bound: boolean;
}

/**
 * istiod's `flattenConditions` (pilot/pkg/model/service.go): one target keeps its own reason and message; several
 * are bound when any is (Accepted, or PartiallyInvalid when some are not), and name the unbound ones.
 */
export function flattenPolicyBindings(list: readonly PolicyBindingStatus[]): Condition {
  if (list.length === 1) {
    const one = list[0];
    return c(WAYPOINT_ACCEPTED, one.bound ? 'True' : 'False', one.reason, one.message);
  }
  const bound = list.some((b) => b.bound);
  const unbound = list.filter((b) => !b.bound).map((b) => b.ancestor);
  const reason = !bound ? 'Invalid' : unbound.length > 0 ? 'PartiallyInvalid' : 'Accepted';
  return c(
    WAYPOINT_ACCEPTED,
    bound ? 'True' : 'False',
    reason,
    unbound.length > 0 ? `Invalid targetRefs: ${unbound.join(', ')}` : '',
  );
}

// ---- Portcullis-specific conditions (no istiod equivalent; the type says so) ----
const PORTCULLIS_APPLIED = 'portcullis.dev/Applied';
export const notApplied = (reason: string, message: string): Condition =>
  c(PORTCULLIS_APPLIED, 'False', reason, message);
export const applied = (message: string): Condition => c(PORTCULLIS_APPLIED, 'True', 'Applied', message);

// ---- Gateway API route parent status ----
export const routeAccepted = (): Condition => c('Accepted', 'True', 'Accepted', 'Route was valid');
export const routeNotAccepted = (reason: string, message: string): Condition => c('Accepted', 'False', reason, message);
export const routeResolvedRefs = (): Condition => c('ResolvedRefs', 'True', 'ResolvedRefs', 'All references resolved');
export const routeUnresolvedRefs = (reason: string, message: string): Condition =>
  c('ResolvedRefs', 'False', reason, message);

// ---- DestinationRule credential resolution ----
const CREDENTIAL_RESOLVED = 'portcullis.dev/CredentialResolved';
export const credentialResolved = (secret: string): Condition =>
  c(CREDENTIAL_RESOLVED, 'True', 'Resolved', `credentialName resolves to Secret ${secret}`);
export const credentialNotResolved = (reason: string, message: string): Condition =>
  c(CREDENTIAL_RESOLVED, 'False', reason, message);
