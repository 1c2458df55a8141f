/**
 * The status Portcullis owns on the Gateways it serves and on its GatewayClasses, computed from a snapshot (pure):
 * `status.addresses` (istiod takes a Gateway with addresses as a waypoint and parses the first as an IP:
 * pilot/pkg/serviceregistry/kube/controller/ambient/waypoints.go), the `Accepted` and `Programmed` conditions with
 * `observedGeneration`, and each listener's status. Conditions of other controllers (istiod's
 * `istio.io/WaypointBound` and friends) are never part of it: server-side apply leaves what it does not send alone.
 */
import type { Condition } from '../mesh/conditions.ts';
import type { GatewayModel, Snapshot } from '../mesh/snapshot.ts';

/** A metav1.Condition as the Gateway API CRDs require it. */
export interface ApiCondition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration: number;
  readonly lastTransitionTime: string;
}

export interface StatusTarget {
  readonly kind: 'Gateway' | 'GatewayClass';
  readonly namespace: string | undefined;
  readonly name: string;
  /** The `status` to apply (only Portcullis's fields). */
  readonly status: Record<string, unknown>;
}

export interface StatusInputs {
  /** The IP published as the Gateways' address (`--publish-address`, or the Service's ClusterIP); null = unknown. */
  readonly address: string | null;
  /** GatewayClasses with this controllerName get `Accepted`. */
  readonly controllerName: string;
  /** RFC 3339 time used for a condition whose status changed. */
  readonly now: string;
}

/** The condition types Portcullis writes on a Gateway. */
const OWNED_GATEWAY_CONDITIONS: ReadonlySet<string> = new Set(['Accepted', 'Programmed']);

function existingConditions(status: unknown): readonly ApiCondition[] {
  const conditions = (status as { conditions?: unknown } | undefined)?.conditions;
  return Array.isArray(conditions) ? (conditions as ApiCondition[]) : [];
}

/** A condition with observedGeneration; lastTransitionTime kept while its status does not change (metav1 rule). */
function toApi(c: Condition, generation: number, previous: readonly ApiCondition[], now: string): ApiCondition {
  const before = previous.find((p) => p.type === c.type);
  const lastTransitionTime =
    before !== undefined && before.status === c.status && typeof before.lastTransitionTime === 'string'
      ? before.lastTransitionTime
      : now;
  return {
    type: c.type,
    status: c.status,
    reason: c.reason,
    message: c.message,
    observedGeneration: generation,
    lastTransitionTime,
  };
}

function gatewayStatus(snap: Snapshot, g: GatewayModel, inputs: StatusInputs): Record<string, unknown> {
  const generation = g.resource.metadata.generation ?? 1;
  const current = g.resource.status as { listeners?: unknown } | undefined;
  const previous = existingConditions(current);
  const computed = (snap.conditions.get(g.key) ?? []).filter((c) => OWNED_GATEWAY_CONDITIONS.has(c.type));
  const conditions = computed.map((c) => {
    // Programmed needs an address istiod can use: without one the Gateway is accepted but not programmed yet.
    if (c.type === 'Programmed' && c.status === 'True' && inputs.address === null) {
      return {
        ...c,
        status: 'False' as const,
        reason: 'AddressNotAssigned',
        message: 'No address published yet (--publish-address or --publish-service)',
      };
    }
    return c;
  });
  const attached = new Map<string, number>();
  for (const route of snap.routes.values()) {
    for (const p of route.parents)
      if (p.accepted && p.parentKey === g.key) attached.set(g.key, (attached.get(g.key) ?? 0) + 1);
  }
  const previousListeners = Array.isArray(current?.listeners)
    ? (current.listeners as { name?: string; conditions?: ApiCondition[] }[])
    : [];
  const listeners = g.resource.spec.listeners.map((l) => {
    const before = previousListeners.find((p) => p.name === l.name)?.conditions ?? [];
    const accepted = (snap.conditions.get(`${g.key}#listener/${l.name}`) ?? []).find((c) => c.type === 'Accepted');
    const ok = accepted?.status === 'True';
    const list: Condition[] = [
      accepted ?? { type: 'Accepted', status: 'Unknown', reason: 'Pending', message: 'Waiting for controller' },
      ok
        ? { type: 'Programmed', status: 'True', reason: 'Programmed', message: 'Served on the HBONE listener' }
        : { type: 'Programmed', status: 'False', reason: 'Invalid', message: accepted?.message ?? 'not accepted' },
      { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'No references to resolve' },
    ];
    return {
      name: l.name,
      supportedKinds: g.mode === 'waypoint' ? [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }] : [],
      attachedRoutes: ok ? (attached.get(g.key) ?? 0) : 0,
      conditions: list.map((c) => toApi(c, generation, before, inputs.now)),
    };
  });
  return {
    ...(inputs.address !== null ? { addresses: [{ type: 'IPAddress', value: inputs.address }] } : {}),
    conditions: conditions.map((c) => toApi(c, generation, previous, inputs.now)),
    listeners,
  };
}

/** Every status Portcullis should hold: its served Gateways, and the GatewayClasses naming its controller. */
export function desiredStatuses(snap: Snapshot, inputs: StatusInputs): StatusTarget[] {
  const out: StatusTarget[] = [];
  for (const g of snap.servedGateways())
    out.push({ kind: 'Gateway', namespace: g.namespace, name: g.name, status: gatewayStatus(snap, g, inputs) });
  for (const r of snap.load.resources) {
    if (r.kind !== 'GatewayClass') continue;
    const spec = r.spec as { controllerName?: string };
    if (spec.controllerName !== inputs.controllerName) continue;
    const accepted = (snap.conditions.get(r.key) ?? []).find((c) => c.type === 'Accepted') ?? {
      type: 'Accepted',
      status: 'False' as const,
      reason: 'InvalidParameters',
      message: `GatewayClass ${r.metadata.name} names Portcullis's controller but is not in portcullis.yaml gatewayClasses (egress or waypoint)`,
    };
    out.push({
      kind: 'GatewayClass',
      namespace: undefined,
      name: r.metadata.name,
      status: { conditions: [toApi(accepted, r.metadata.generation ?? 1, existingConditions(r.status), inputs.now)] },
    });
  }
  return out;
}

/**
 * Whether `current` already holds `desired` (every field Portcullis owns, conditions by type ignoring
 * lastTransitionTime): then nothing is written, so a status write never causes another.
 */
export function statusHolds(current: unknown, desired: Record<string, unknown>): boolean {
  const cur = (current ?? {}) as Record<string, unknown>;
  const strip = (conditions: unknown): string => {
    const list = Array.isArray(conditions) ? (conditions as ApiCondition[]) : [];
    return JSON.stringify(
      list.map(({ lastTransitionTime: _t, ...rest }) => rest).sort((a, b) => a.type.localeCompare(b.type)),
    );
  };
  const ownedOf = (conditions: unknown, types: ReadonlySet<string>): ApiCondition[] =>
    (Array.isArray(conditions) ? (conditions as ApiCondition[]) : []).filter((c) => types.has(c.type));
  const want = desired.conditions as ApiCondition[];
  const types = new Set(want.map((c) => c.type));
  if (strip(ownedOf(cur.conditions, types)) !== strip(want)) return false;
  if (desired.addresses !== undefined && JSON.stringify(cur.addresses) !== JSON.stringify(desired.addresses))
    return false;
  if (desired.listeners !== undefined) {
    const curListeners = Array.isArray(cur.listeners) ? (cur.listeners as Record<string, unknown>[]) : [];
    for (const l of desired.listeners as Record<string, unknown>[]) {
      const c = curListeners.find((x) => x.name === l.name);
      if (
        c === undefined ||
        c.attachedRoutes !== l.attachedRoutes ||
        JSON.stringify(c.supportedKinds) !== JSON.stringify(l.supportedKinds)
      )
        return false;
      if (strip(c.conditions) !== strip(l.conditions)) return false;
    }
  }
  return true;
}
