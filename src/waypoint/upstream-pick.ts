/**
 * The "pick upstream" stage of an L7 request: the backend's ServiceEntry planned, resolved once, vetted and ordered
 * by the same module and the same rule as an L4 tunnel (src/upstream/): a name whose answer holds any refused
 * address is refused whole, and the guard always sees the port, so the gateway's own listeners are never dialled.
 */
import type { Snapshot } from '../mesh/snapshot.ts';
import type { AddressGuard } from '../upstream/private-address-guard.ts';
import type { CompiledEgressPolicies } from '../policy/egress-policies.ts';
import {
  planServiceEntry,
  resolvePlan,
  shuffled,
  vetAddresses,
  type Resolutions,
  type UpstreamAddress,
  type UpstreamPlan,
} from '../upstream/plan.ts';
import { Refusal, type Staged } from './refusal.ts';
import type { BackendTarget } from './routing/backend.ts';

export type ReadyPlan = Extract<UpstreamPlan, { ok: true }>;

const noEndpoint = (reason: string, flags: string): Refusal => new Refusal('PCL_WAYPOINT_NO_ENDPOINT', reason, flags);

/**
 * Plan a backend's upstream (no I/O). `dialledIp` is the address the tunnel's CONNECT named, used only for
 * `resolution: NONE` on the tunnel's own ServiceEntry; `byName` says the backend is reached by its host name.
 */
export function planBackend(
  backend: BackendTarget,
  dialledIp: string | null,
  byName: boolean,
  what: string,
): Staged<ReadyPlan> {
  const plan = planServiceEntry(backend.serviceEntry, backend.port, backend.host, byName, dialledIp);
  if (!plan.ok) return noEndpoint(`backend ${what} has no endpoint to dial: ${plan.reason}`, 'UH');
  return plan;
}

/** The host name the first target is reached by (the default SNI, as Istio takes the endpoint's hostname), or null. */
export function firstEndpointName(plan: ReadyPlan): string | null {
  const first = plan.targets[0];
  return first?.kind === 'name' ? first.host : null;
}

export interface PickOptions {
  readonly resolve: (host: string) => Promise<readonly string[]>;
  /** The current snapshot's guard, read for this request. */
  readonly guard: AddressGuard;
  readonly snapshot: Snapshot;
  /** Maps a port before it is vetted and dialled (local stand-ins of external hosts in tests). */
  readonly mapPort?: (host: string, port: number) => number;
  readonly random?: () => number;
  /** Where one caller (a tunnel) keeps its last vetting, to reuse while nothing it depends on changed. */
  readonly memo?: { picked: PickMemo | null };
}

/**
 * One vetting and everything it was computed from. Vetting is pure in these (the plan and the guard are compiled
 * objects never changed in place, the egress policies belong to one snapshot), so the same objects and the same
 * resolved addresses give the same answer: the guard is still asked for every request whose inputs differ.
 */
export interface PickMemo {
  readonly plan: ReadyPlan;
  readonly guard: AddressGuard;
  readonly egress: CompiledEgressPolicies;
  readonly resolutions: Resolutions;
  readonly addresses: readonly UpstreamAddress[];
}

function sameResolutions(a: Resolutions, b: Resolutions): boolean {
  if (a.size !== b.size) return false;
  for (const [name, ips] of a) {
    const other = b.get(name);
    if (other === undefined || other.length !== ips.length) return false;
    for (let i = 0; i < ips.length; i++) if (ips[i] !== other[i]) return false;
  }
  return true;
}

/** Resolve once, vet every address with its port, and order them; the first is dialled first. */
export async function pickUpstream(
  plan: ReadyPlan,
  what: string,
  o: PickOptions,
): Promise<Staged<readonly UpstreamAddress[]>> {
  const map = o.mapPort;
  const mapped: ReadyPlan = map
    ? { ...plan, targets: plan.targets.map((t) => ({ ...t, port: map(t.kind === 'name' ? t.host : t.ip, t.port) })) }
    : plan;
  const resolved = await resolvePlan(mapped, o.resolve);
  if (!resolved.ok) return noEndpoint(`backend ${what}: DNS lookup failed: ${resolved.reason}`, 'DF');
  const egress = o.snapshot.egressPolicies;
  const m = o.memo?.picked;
  let addresses: readonly UpstreamAddress[];
  if (
    m?.plan === mapped &&
    m.guard === o.guard &&
    m.egress === egress &&
    sameResolutions(m.resolutions, resolved.resolutions)
  ) {
    addresses = m.addresses;
  } else {
    const vetted = vetAddresses(mapped, resolved.resolutions, o.guard, egress);
    if (!vetted.ok) {
      return noEndpoint(`backend ${what}: no address may be dialled: ${vetted.code}: ${vetted.reason}`, 'UH');
    }
    addresses = vetted.addresses;
    if (o.memo) {
      o.memo.picked = { plan: mapped, guard: o.guard, egress, resolutions: resolved.resolutions, addresses };
    }
  }
  return mapped.shuffle ? shuffled(addresses, o.random) : addresses;
}
