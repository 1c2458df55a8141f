/** The authorization decision: Istio's evaluation order per layer, every layer must allow, with a full record. */
import type { ErrorCode } from '../errors/catalogue.ts';
import type { CompiledPolicy } from './compile.ts';
import type { AuthzRequest } from './request.ts';
import { buildRequestFacts, type RequestFacts } from './request-facts.ts';
import { buildNamespaceIndex, candidates, type NamespaceIndex } from './namespace-filter.ts';

/** The policies attached to one target: the egress Gateway (layer 1) or the ServiceEntry (layer 2). */
export interface LayerInput {
  layer: 'gateway' | 'serviceentry';
  /** Human-readable target, e.g. `Gateway istio-system/ztunnel-egress`. */
  target: string;
  policies: readonly CompiledPolicy[];
}

export interface DryRunRecord {
  policy: string;
  action: string;
  matched: boolean;
  message: string;
}

export interface LayerRecord {
  layer: 'gateway' | 'serviceentry' | 'egressPolicies';
  target: string;
  decision: 'allow' | 'deny';
  code: ErrorCode;
  reason: string;
  /** `ns/name` of the policy that decided, or null when no policy did. */
  policy: string | null;
  /** `spec.rules` index of the rule that decided, or null. */
  rule: number | null;
  dryRun: readonly DryRunRecord[];
  /** AUDIT policies that matched. */
  audit: readonly string[];
}

export interface DecisionRecord {
  decision: 'allow' | 'deny';
  code: ErrorCode;
  reason: string;
  layers: LayerRecord[];
}

// Reason texts: ztunnel's own words (src/state.rs `assert_rbac`, src/proxy error Display) where it has them.
const REASON_NO_ALLOW_POLICIES = 'no allow policies, allow';
const REASON_NOT_ALLOWED = 'allow policies exist, but none allowed';
const explicitlyDenied = (key: string): string => `explicitly denied by: ${key}`;
const allowedBy = (key: string): string => `allow policy match: ${key}`;
const customUnsupported = (key: string): string => `CUSTOM action is not supported, failing closed: ${key}`;

// ztunnel's dry-run log lines ("dry-run: deny policy match", "dry-run: allow policy match").
const DRY_RUN_DENY_MATCH = 'dry-run: deny policy match';
const DRY_RUN_DENY_NO_MATCH = 'dry-run: deny policy did not match';
const DRY_RUN_ALLOW_MATCH = 'dry-run: allow policy match';
const DRY_RUN_ALLOW_NO_MATCH = 'dry-run: allow policy did not match';
const DRY_RUN_AUDIT_MATCH = 'dry-run: audit policy match';
const DRY_RUN_AUDIT_NO_MATCH = 'dry-run: audit policy did not match';
const DRY_RUN_CUSTOM = 'dry-run: CUSTOM action is not supported';

function dryRunMessage(action: string, matched: boolean): string {
  if (action === 'DENY') return matched ? DRY_RUN_DENY_MATCH : DRY_RUN_DENY_NO_MATCH;
  if (action === 'ALLOW') return matched ? DRY_RUN_ALLOW_MATCH : DRY_RUN_ALLOW_NO_MATCH;
  return matched ? DRY_RUN_AUDIT_MATCH : DRY_RUN_AUDIT_NO_MATCH;
}

const NO_DRY_RUN: readonly DryRunRecord[] = Object.freeze([]);
const NO_AUDIT: readonly string[] = Object.freeze([]);

function matchPolicy(p: CompiledPolicy, f: RequestFacts): number {
  // An L7 policy decided without an HTTP request is enforced as Envoy enforces it on a TCP chain.
  return f.http === null && p.tcpMatch !== null ? p.tcpMatch(f) : p.match(f);
}

function layerRecord(
  input: LayerInput,
  decision: 'allow' | 'deny',
  code: ErrorCode,
  reason: string,
  by: CompiledPolicy | null,
  rule: number,
  dryRun: readonly DryRunRecord[],
  audit: readonly string[],
): LayerRecord {
  return {
    layer: input.layer,
    target: input.target,
    decision,
    code,
    reason,
    policy: by === null ? null : by.key,
    rule: rule >= 0 ? rule : null,
    dryRun,
    audit,
  };
}

/**
 * Decide one layer with precomputed facts. Istio's order (istio/api security/v1beta1/authorization.proto, ztunnel src/state.rs `assert_rbac`):
 * CUSTOM (unsupported → fail closed), then any enforced DENY match denies, then no enforced ALLOW allows,
 * then any ALLOW match allows, else deny. Dry-run policies are evaluated and recorded only; AUDIT is recorded only.
 */
/** Below this many policies a layer is scanned whole; above it, only the policies the caller's namespace can match. */
const INDEX_THRESHOLD = 8;

interface LayerIndex {
  readonly namespaces: NamespaceIndex;
  /** Enforced ALLOW policies in the layer: skipping some by namespace must not turn "none matched" into "none exist". */
  readonly enforcedAllows: number;
}

/** Built once per layer's policy list (the mesh compiles one frozen list per target), never per decision. */
const LAYER_INDEXES = new WeakMap<readonly CompiledPolicy[], LayerIndex>();

function layerIndex(policies: readonly CompiledPolicy[]): LayerIndex {
  let index = LAYER_INDEXES.get(policies);
  if (index === undefined) {
    let enforcedAllows = 0;
    for (const p of policies) if (p.action === 'ALLOW' && !p.dryRun) enforcedAllows++;
    // Dry-run policies are always evaluated: their records list every one of them, matched or not.
    index = { namespaces: buildNamespaceIndex(policies.map((p) => (p.dryRun ? null : p.namespaces))), enforcedAllows };
    LAYER_INDEXES.set(policies, index);
  }
  return index;
}

function decideLayerFacts(input: LayerInput, f: RequestFacts): LayerRecord {
  return decideLayerWith(input, f, true);
}

/** `decideLayerFacts`, with the namespace pre-filter switchable (tests prove it never changes a decision). */
export function decideLayerWith(input: LayerInput, f: RequestFacts, useIndex: boolean): LayerRecord {
  let custom: CompiledPolicy | null = null;
  let denyBy: CompiledPolicy | null = null;
  let denyRule = -1;
  let allowBy: CompiledPolicy | null = null;
  let allowRule = -1;
  let enforcedAllows = 0;
  // Most layers have neither: share one frozen empty list instead of allocating two arrays per decision.
  let dryRun: DryRunRecord[] | null = null;
  let audit: string[] | null = null;

  const policies = input.policies;
  const indexed = useIndex && policies.length > INDEX_THRESHOLD ? layerIndex(policies) : null;
  const order = indexed === null ? null : candidates(indexed.namespaces, f.namespace);
  const count = order === null ? policies.length : order.length;
  for (let k = 0; k < count; k++) {
    const p = policies[order === null ? k : order[k]];
    if (p.action === 'CUSTOM') {
      if (p.dryRun) (dryRun ??= []).push({ policy: p.key, action: p.action, matched: false, message: DRY_RUN_CUSTOM });
      else if (custom === null) custom = p;
      continue;
    }
    if (p.dryRun) {
      const matched = matchPolicy(p, f) >= 0;
      (dryRun ??= []).push({ policy: p.key, action: p.action, matched, message: dryRunMessage(p.action, matched) });
      continue;
    }
    if (p.action === 'AUDIT') {
      if (matchPolicy(p, f) >= 0) (audit ??= []).push(p.key);
    } else if (p.action === 'DENY') {
      if (denyBy === null) {
        const r = matchPolicy(p, f);
        if (r >= 0) {
          denyBy = p;
          denyRule = r;
        }
      }
    } else {
      enforcedAllows++;
      // Once a DENY matched the ALLOWs cannot change the outcome; skip matching them.
      if (allowBy === null && denyBy === null) {
        const r = matchPolicy(p, f);
        if (r >= 0) {
          allowBy = p;
          allowRule = r;
        }
      }
    }
  }
  if (indexed !== null) enforcedAllows = indexed.enforcedAllows;

  const rec = (decision: 'allow' | 'deny', code: ErrorCode, reason: string, by: CompiledPolicy | null, rule: number) =>
    layerRecord(input, decision, code, reason, by, rule, dryRun ?? NO_DRY_RUN, audit ?? NO_AUDIT);

  if (custom !== null)
    return rec('deny', 'PCL_AUTHZ_DENIED_CUSTOM_UNSUPPORTED', customUnsupported(custom.key), custom, -1);
  if (denyBy !== null && denyBy.invalid !== undefined)
    return rec('deny', 'PCL_AUTHZ_INVALID_POLICY', denyBy.invalid, denyBy, -1);
  if (denyBy !== null) return rec('deny', 'PCL_AUTHZ_DENIED_EXPLICIT', explicitlyDenied(denyBy.key), denyBy, denyRule);
  if (enforcedAllows === 0) return rec('allow', 'PCL_AUTHZ_ALLOWED_NO_POLICIES', REASON_NO_ALLOW_POLICIES, null, -1);
  if (allowBy !== null) return rec('allow', 'PCL_AUTHZ_ALLOWED_BY_POLICY', allowedBy(allowBy.key), allowBy, allowRule);
  return rec('deny', 'PCL_AUTHZ_DENIED_NOT_ALLOWED', REASON_NOT_ALLOWED, null, -1);
}

/** Decide one layer for a request. */
export function decideLayer(input: LayerInput, req: AuthzRequest): LayerRecord {
  return decideLayerFacts(input, buildRequestFacts(req));
}

/**
 * Combine layer records: allowed only if every layer allows (seed 000: "Two AuthorizationPolicy layers must
 * both ALLOW"). This deliberately differs from upstream Istio, which unions Gateway- and ServiceEntry-targeted
 * ALLOW policies on a waypoint (istio/istio pilot/pkg/networking/core/listener_waypoint.go `buildWaypointHTTPFilters`). The record's code and reason are the first denying
 * layer's, or the last layer's when all allow. No layers at all fails closed.
 */
function combineLayers(layers: LayerRecord[]): DecisionRecord {
  if (layers.length === 0) {
    return {
      decision: 'deny',
      code: 'PCL_AUTHZ_DENIED_NO_LAYERS',
      reason: 'no authorization layer to evaluate, failing closed',
      layers,
    };
  }
  for (const l of layers) {
    if (l.decision === 'deny') return { decision: 'deny', code: l.code, reason: l.reason, layers };
  }
  const last = layers[layers.length - 1];
  return { decision: 'allow', code: last.code, reason: last.reason, layers };
}

/**
 * Decide an egress connection (or request) through every layer. All layers are evaluated and recorded even
 * after one denies, so `check` and the access log can show each layer's verdict.
 *
 * @example
 * const rec = decideEgress([
 *   { layer: 'gateway', target: 'Gateway istio-system/ztunnel-egress', policies: gatewayPolicies },
 *   { layer: 'serviceentry', target: 'ServiceEntry bookinfo/httpbin-org', policies: sePolicies },
 * ], req);
 * if (rec.decision === 'deny') log.info(rec, rec.reason);
 */
export function decideEgress(layers: readonly LayerInput[], req: AuthzRequest): DecisionRecord {
  const f = buildRequestFacts(req);
  // Two layers is the mesh's shape (seed 000): build that array in one go.
  const records: LayerRecord[] =
    layers.length === 2
      ? [decideLayerFacts(layers[0], f), decideLayerFacts(layers[1], f)]
      : layers.map((l) => decideLayerFacts(l, f));
  return combineLayers(records);
}
