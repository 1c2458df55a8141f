/**
 * The "pick upstream" stage of an L7 request: the backend's ServiceEntry planned, resolved once, vetted and ordered
 * by the same module and the same rule as an L4 tunnel (src/upstream/): a name whose answer holds any refused
 * address is refused whole, and the guard always sees the port, so the gateway's own listeners are never dialled.
 */
import type { Snapshot } from '../mesh/snapshot.ts';
import type { AddressGuard } from '../upstream/private-address-guard.ts';
import {
  planServiceEntry,
  resolvePlan,
  shuffled,
  vetAddresses,
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
  const vetted = vetAddresses(mapped, resolved.resolutions, o.guard, o.snapshot.egressPolicies);
  if (!vetted.ok) {
    return noEndpoint(`backend ${what}: no address may be dialled: ${vetted.code}: ${vetted.reason}`, 'UH');
  }
  return mapped.shuffle ? shuffled(vetted.addresses, o.random) : vetted.addresses;
}
