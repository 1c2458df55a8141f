/**
 * A new tunnel's first verdict, memoized per snapshot: what happens to a CONNECT before any I/O (the L7 seam, both
 * policy layers or egressPolicies, learn mode, the upstream plan) is a pure function of the snapshot, the verified
 * peer identity, its source address and the authority, so tunnels that repeat all four share one verdict object.
 * Each snapshot has its own memo (a reload decides everything afresh), bounded and emptied when full. Name resolution,
 * the address guard and the dial stay per tunnel (the vetted addresses of a plan with no names are kept per guard).
 */
import type { ErrorCode } from '../errors/catalogue.ts';
import { statusOf } from '../errors/http-status.ts';
import type { ResponseFlag } from '../events/diagnostics.ts';
import { applyLearnMode } from '../learn/learn-mode.ts';
import { resolveAuthority, type Authority, type Destination } from '../mesh/destination.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import type { DecisionRecord } from '../policy/engine.ts';
import type { AuthzRequest } from '../policy/request.ts';
import { namesToResolve, planUpstream, type UpstreamPlan, type VetResult } from '../upstream/plan.ts';
import type { AddressGuard } from '../upstream/private-address-guard.ts';
import type { ServiceEntryDestination } from '../waypoint/http-tunnel.ts';
import { decideTunnel, type RoutableDestination, type UnresolvedDestination } from './tunnel-decision.ts';

/** The pure part of forwarding at L4: the plan, the names it needs resolved, and (no names) its vetted addresses. */
export interface UpstreamPrep {
  readonly plan: UpstreamPlan;
  readonly names: readonly string[];
  /** `vetAddresses` of a plan with no names, for the guard it was vetted against (the guard changes on reload). */
  vetted: { readonly guard: AddressGuard; readonly result: VetResult } | null;
}

export type FirstVerdict =
  /** An HTTP port of a ServiceEntry bound to a waypoint-class Gateway: the L7 waypoint decides each request. */
  | { readonly kind: 'http'; readonly dest: ServiceEntryDestination }
  /** Refused before any I/O: `logged` is the decision as logged, `answer` the refusal answered (and finished with). */
  | {
      readonly kind: 'refuse';
      readonly dest: Destination;
      readonly logged: DecisionRecord;
      readonly answer: DecisionRecord;
      readonly status: number;
      readonly flags: ResponseFlag;
      readonly decision: 'allow' | 'deny';
    }
  /** An undeclared name while egressPolicies have Allow entries: decided on what it resolves to, per tunnel. */
  | {
      readonly kind: 'resolveFirst';
      readonly dest: UnresolvedDestination;
      readonly record: DecisionRecord;
      readonly authz: AuthzRequest;
    }
  /** Allowed (or let through by learn mode): forward at L4 over `prep`. */
  | {
      readonly kind: 'forward';
      readonly dest: RoutableDestination;
      readonly record: DecisionRecord;
      readonly authz: AuthzRequest;
      readonly prep: UpstreamPrep;
    };

/** The plan of a destination, with its names. */
export function prepareUpstream(dest: Destination): UpstreamPrep {
  const plan = planUpstream(dest);
  return { plan, names: plan.ok ? namesToResolve(plan) : [], vetted: null };
}

function refusal(
  dest: Destination,
  logged: DecisionRecord,
  answer: DecisionRecord,
  flags: ResponseFlag,
  decision: 'allow' | 'deny',
): FirstVerdict {
  return { kind: 'refuse', dest, logged, answer, status: statusOf(answer.code), flags, decision };
}

/** The first verdict of a CONNECT, computed (pure: no sockets, no lookups). */
export function firstVerdict(snap: Snapshot, authority: Authority, principal: string, sourceIp: string): FirstVerdict {
  // L7 seam: an HTTP port of a ServiceEntry bound to a waypoint-class Gateway is terminated as HTTP, and every request
  // inside is authorized (both layers, with HTTP attributes), routed and originated on its own.
  const dest = resolveAuthority(snap, null, authority);
  if (dest.kind === 'serviceEntry' && dest.gateway.mode === 'waypoint' && dest.port.protocol === 'HTTP') {
    return { kind: 'http', dest };
  }
  const { decision, request: authz } = decideTunnel(snap, authority, null, principal, sourceIp, dest);
  if (decision.kind === 'deny') {
    // Learn mode turns only a policy denial into a logged would-deny allow; it still goes through every guard after.
    const learned = applyLearnMode(snap.settings, decision.record);
    const d = decision.dest;
    if (learned.decision === 'allow' && (d.kind === 'serviceEntry' || d.kind === 'unknown')) {
      return { kind: 'forward', dest: d, record: learned, authz, prep: prepareUpstream(d) };
    }
    return refusal(d, decision.record, decision.record, 'UAEX', 'deny');
  }
  if (decision.kind === 'noSuchPort') {
    const d = decision.dest;
    const code: ErrorCode = 'PCL_MESH_NO_SUCH_PORT';
    const noPort: DecisionRecord = {
      ...decision.record,
      code,
      reason: `${d.serviceEntry.ref} declares no port ${d.port}`,
    };
    return refusal(d, decision.record, noPort, 'NR', 'allow');
  }
  if (decision.kind === 'resolveFirst') {
    return { kind: 'resolveFirst', dest: decision.dest, record: decision.record, authz };
  }
  const record = applyLearnMode(snap.settings, decision.record);
  if (record.decision === 'deny') return refusal(decision.dest, record, record, 'UAEX', 'deny');
  return { kind: 'forward', dest: decision.dest, record, authz, prep: prepareUpstream(decision.dest) };
}

/** Distinct (identity, source, authority) verdicts kept per snapshot; the memo is emptied when it reaches this. */
export const MEMO_SIZE = 2048;

const memos = new WeakMap<Snapshot, Map<string, FirstVerdict>>();

/**
 * `firstVerdict`, memoized on `snap`. `authorityText` is the authority as received (it determines `authority`).
 * The verdict object is shared: callers never change it (only the `prep.vetted` slot, through `vettedFor`).
 */
export function decideFirst(
  snap: Snapshot,
  authority: Authority,
  authorityText: string,
  principal: string,
  sourceIp: string,
): FirstVerdict {
  let memo = memos.get(snap);
  if (memo === undefined) {
    memo = new Map();
    memos.set(snap, memo);
  }
  const key = `${principal}\u0000${sourceIp}\u0000${authorityText}`;
  let verdict = memo.get(key);
  if (verdict === undefined) {
    verdict = firstVerdict(snap, authority, principal, sourceIp);
    if (memo.size >= MEMO_SIZE) memo.clear();
    memo.set(key, verdict);
  }
  return verdict;
}
