/**
 * Waypoint binding exactly as istiod's `fetchWaypointForTarget` / `fetchWaypointForService`
 * (istio/istio pilot/pkg/serviceregistry/ambient/waypoints.go; labels in istio/api label/labels.yaml): the object's own `istio.io/use-waypoint` label wins over its
 * namespace's, `none` opts out, `istio.io/use-waypoint-namespace` names another namespace, the waypoint must be
 * ready, its HBONE listener's allowedRoutes must admit the object's namespace, and a Service/ServiceEntry needs
 * traffic type `service` or `all`.
 */
import type { AllowedRoutes, LabelSelector } from '../config/api-types.ts';
import {
  attachmentDenied,
  type Condition,
  type IngressUseWaypoint,
  unsupportedTrafficType,
  waypointAccepted,
  waypointIsNotReady,
} from './conditions.ts';

export const USE_WAYPOINT = 'istio.io/use-waypoint';
export const USE_WAYPOINT_NAMESPACE = 'istio.io/use-waypoint-namespace';
const WAYPOINT_FOR = 'istio.io/waypoint-for';
const MANAGED_LABEL = 'gateway.istio.io/managed';
const INGRESS_USE_WAYPOINT = 'istio.io/ingress-use-waypoint';

/** `strconv.ParseBool`'s true spellings. */
const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);

/**
 * istiod's `ingressUseWaypointFromLabels` (pilot/pkg/serviceregistry/ambient/services.go): the object's label, else
 * its namespace's; true only when it parses as a Go boolean true.
 */
function ingressUseWaypoint(
  labels: Readonly<Record<string, string>>,
  namespaceLabels: Readonly<Record<string, string>>,
): IngressUseWaypoint {
  const value = Object.hasOwn(labels, INGRESS_USE_WAYPOINT)
    ? labels[INGRESS_USE_WAYPOINT]
    : namespaceLabels[INGRESS_USE_WAYPOINT];
  if (value === undefined) return 'absent';
  return GO_TRUE.has(value) ? 'true' : 'other';
}

export type TrafficType = 'service' | 'workload' | 'all' | 'none';

/** What binding needs to know about a candidate waypoint. */
export interface WaypointCandidate {
  readonly namespace: string;
  readonly name: string;
  /** istiod: a Gateway is a waypoint once `status.addresses` is set; Portcullis sets it for the Gateways it serves. */
  readonly ready: boolean;
  readonly trafficType: TrafficType;
  /** allowedRoutes of the HBONE/15008 listener (absent → `Same`). */
  readonly allowedRoutes: AllowedRoutes | undefined;
}

export interface BindingInput {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly namespaceLabels: Readonly<Record<string, string>>;
  /** Labels of the namespace the waypoint lives in, for `from: Selector`. */
  lookupNamespaceLabels(ns: string): Readonly<Record<string, string>>;
  lookupWaypoint(namespace: string, name: string): WaypointCandidate | undefined;
  /** The traffic type this object needs: `service` for Service/ServiceEntry. */
  readonly requiredTraffic: 'service' | 'workload';
}

export interface BindingResult {
  /** `namespace/name` of the waypoint, when bound. */
  readonly waypoint: string | null;
  /** The `istio.io/WaypointBound` condition, or null when the object asks for no waypoint (istiod removes it). */
  readonly condition: Condition | null;
}

const NONE: BindingResult = { waypoint: null, condition: null };

export function bindWaypoint(input: BindingInput): BindingResult {
  // Waypoints themselves never get a waypoint.
  const managed = input.labels[MANAGED_LABEL];
  if (managed === 'istio.io-mesh-controller' || managed === 'istio.io-eastwest-controller') return NONE;

  let name = input.labels[USE_WAYPOINT];
  let ns: string;
  if (name !== undefined) {
    if (name === 'none') return NONE;
    ns = input.labels[USE_WAYPOINT_NAMESPACE] || input.namespace;
  } else {
    name = input.namespaceLabels[USE_WAYPOINT];
    if (name === undefined || name === 'none') return NONE;
    ns = input.namespaceLabels[USE_WAYPOINT_NAMESPACE] || input.namespace;
  }
  const ref = `${ns}/${name}`;
  const wp = input.lookupWaypoint(ns, name);
  if (!wp?.ready) return { waypoint: null, condition: waypointIsNotReady(ref) };
  if (!routesAllow(wp, input.namespace, input.lookupNamespaceLabels(input.namespace))) {
    return { waypoint: null, condition: attachmentDenied(ref) };
  }
  if (wp.trafficType !== 'all' && wp.trafficType !== input.requiredTraffic) {
    return { waypoint: null, condition: unsupportedTrafficType(ref, input.requiredTraffic) };
  }
  return { waypoint: ref, condition: waypointAccepted(ref, ingressUseWaypoint(input.labels, input.namespaceLabels)) };
}

/** Gateway API allowedRoutes.namespaces: All, Same (the default), Selector, None. */
export function routesAllow(
  wp: Pick<WaypointCandidate, 'namespace' | 'allowedRoutes'>,
  fromNamespace: string,
  fromNamespaceLabels: Readonly<Record<string, string>>,
): boolean {
  const from = wp.allowedRoutes?.namespaces?.from ?? 'Same';
  switch (from) {
    case 'All':
      return true;
    case 'Same':
      return fromNamespace === wp.namespace;
    case 'Selector':
      return matchesSelector(wp.allowedRoutes?.namespaces?.selector, fromNamespaceLabels);
    default:
      return false;
  }
}

/** Kubernetes label selector semantics; an absent selector selects nothing here (Gateway API requires one). */
export function matchesSelector(sel: LabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!sel) return false;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const vals = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || !vals.includes(labels[e.key])) return false;
        break;
      case 'NotIn':
        if (has && vals.includes(labels[e.key])) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** Traffic type: Gateway label over GatewayClass label, default `service` (gatewayToWaypointTransform). */
export function trafficTypeOf(
  gatewayLabels: Readonly<Record<string, string>>,
  classLabels: Readonly<Record<string, string>> | undefined,
): TrafficType {
  const v = gatewayLabels[WAYPOINT_FOR] ?? classLabels?.[WAYPOINT_FOR] ?? 'service';
  return v === 'workload' || v === 'all' || v === 'none' || v === 'service' ? v : 'service';
}
