/**
 * Problems in the egress configuration itself (the `config` layer): a gateway without default-deny, a ServiceEntry
 * that asks for the gateway but is not bound, a mixed cluster without `solo.io/sidecar-skip-waypoint`, policies that
 * do less than they say (GatewayClass targets, HTTP attributes at L4, DENYs that never match, no attachment),
 * cross-namespace routes or Secrets used without permission, and every configuration error the loader found.
 * The mesh model's status conditions are the source of truth: the audit reads them, it does not redo binding.
 */
import type { PolicyTargetReference } from '../config/api-types.ts';
import { describe } from '../errors/catalogue.ts';
import { USE_WAYPOINT, USE_WAYPOINT_NAMESPACE } from '../mesh/waypoint-binding.ts';
import { WAYPOINT_ACCEPTED, WAYPOINT_BOUND } from '../mesh/conditions.ts';
import type { GatewayModel, PolicyModel } from '../mesh/snapshot.ts';
import { HTTP_DENY_NO_EFFECT_BOILERPLATE, REASON_UNSUPPORTED_VALUE } from '../policy/ztunnel-status.ts';
import { isSidecarNamespace, isSidecarPod } from './capture.ts';
import type { ClusterModel } from './cluster-model.ts';
import { refOf } from './cluster-model.ts';
import type { Finding } from './finding.ts';
import { commentFix, yamlFix } from './fix-yaml.ts';

const SIDECAR_SKIP_ANNOTATION = 'solo.io/sidecar-skip-waypoint';
const GATEWAY_GROUP = 'gateway.networking.k8s.io';

function defaultDenyPolicy(gw: GatewayModel): unknown {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: `default-deny-${gw.name}`, namespace: gw.namespace },
    spec: { targetRefs: [{ kind: 'Gateway', group: GATEWAY_GROUP, name: gw.name }], action: 'ALLOW', rules: [] },
  };
}

/** An ALLOW policy with no rules attached to the gateway: seed 000's default-deny (step 02). */
function isDefaultDeny(p: PolicyModel, gatewayKey: string): boolean {
  return (
    p.compiled !== null &&
    p.attachedTo.includes(gatewayKey) &&
    p.compiled.action === 'ALLOW' &&
    !p.compiled.dryRun &&
    (p.resource.spec.rules ?? []).length === 0
  );
}

/** The cluster runs sidecars somewhere: an injected namespace, or a pod or template asking for a sidecar. */
function isMixedCluster(model: ClusterModel): boolean {
  for (const ns of model.namespaces.values()) if (isSidecarNamespace(ns.metadata.labels)) return true;
  return model.pods.some(isSidecarPod);
}

function targetRefsOf(p: PolicyModel): PolicyTargetReference[] {
  const spec = p.resource.spec;
  return spec.targetRefs ?? (spec.targetRef ? [spec.targetRef] : []);
}

function gatewayChecks(model: ClusterModel, out: Finding[]): void {
  const snap = model.snapshot;
  const policies = [...snap.policies.values()];
  for (const gw of snap.servedGateways()) {
    if (gw.mode !== 'egress') continue;
    if (snap.settings.egressGateway.defaultDeny || policies.some((p) => isDefaultDeny(p, gw.key))) continue;
    out.push({
      code: 'PCL_AUDIT_NO_DEFAULT_DENY',
      layer: 'config',
      severity: 'error',
      resource: refOf(gw.resource),
      message:
        `egress Gateway ${gw.ref} has no default-deny (no ALLOW policy with \`rules: []\` targets it and egressGateway.defaultDeny is not true): ` +
        'once no other ALLOW policy targets it, every ambient-captured source may use it',
      fix: yamlFix(
        [`Seed 000 step 02 for Gateway ${gw.ref} (or set egressGateway.defaultDeny: true).`],
        defaultDenyPolicy(gw),
      ),
      location: gw.resource.source,
    });
  }
}

function serviceEntryChecks(model: ClusterModel, out: Finding[]): void {
  const snap = model.snapshot;
  const egressGateways = snap.servedGateways().filter((g) => g.mode === 'egress' && g.ready);
  const mixed = isMixedCluster(model);
  for (const se of snap.serviceEntries.values()) {
    const labels = se.resource.metadata.labels;
    const nsLabels = model.namespaces.get(se.namespace)?.metadata.labels ?? {};
    const asked = labels[USE_WAYPOINT] ?? nsLabels[USE_WAYPOINT];
    if (se.waypoint === null && asked !== undefined && asked !== 'none') {
      const bound = (snap.conditions.get(se.key) ?? []).find((c) => c.type === WAYPOINT_BOUND);
      const target = egressGateways[0];
      out.push({
        code: 'PCL_AUDIT_SE_NOT_BOUND',
        layer: 'config',
        severity: 'error',
        resource: refOf(se.resource),
        message:
          `ServiceEntry ${se.ref} asks for waypoint "${asked}" but is not bound` +
          `${bound ? ` (${bound.reason}: ${bound.message})` : ''}: its traffic is not decided by the egress gateway's policies`,
        fix: target
          ? yamlFix([`Bind ServiceEntry ${se.ref} to the egress Gateway ${target.ref} (kubectl patch --type merge).`], {
              metadata: { labels: { [USE_WAYPOINT]: target.name, [USE_WAYPOINT_NAMESPACE]: target.namespace } },
            })
          : commentFix(
              `No ready egress Gateway exists: apply one (seed 000 step 02), then label ServiceEntry ${se.ref} with ${USE_WAYPOINT}.`,
            ),
        location: se.resource.posOf(['metadata', 'labels', USE_WAYPOINT]),
      });
    }
    if (mixed && se.waypoint !== null && snap.gateways.get(se.waypoint)?.mode === 'egress') {
      if (se.resource.metadata.annotations[SIDECAR_SKIP_ANNOTATION] === 'true') continue;
      out.push({
        code: 'PCL_AUDIT_SIDECAR_SKIP_MISSING',
        layer: 'config',
        severity: 'warning',
        resource: refOf(se.resource),
        message:
          `ServiceEntry ${se.ref} is bound to the egress gateway in a cluster that runs sidecars, but lacks ${SIDECAR_SKIP_ANNOTATION}: "true": ` +
          'sidecars try to honour a binding they have no path to and lose access to the host intermittently',
        fix: yamlFix([`Patch for ServiceEntry ${se.ref} (kubectl patch --type merge).`], {
          metadata: { annotations: { [SIDECAR_SKIP_ANNOTATION]: 'true' } },
        }),
        location: se.resource.source,
      });
    }
  }
}

function policyChecks(model: ClusterModel, out: Finding[]): void {
  const snap = model.snapshot;
  for (const p of snap.policies.values()) {
    const ap = p.resource;
    const name = `AuthorizationPolicy ${p.ref}`;
    const refs = targetRefsOf(p);
    const classRefs = refs.filter(
      (t) =>
        t.kind === 'GatewayClass' &&
        (t.group ?? '') === GATEWAY_GROUP &&
        snap.settings.gatewayClasses[t.name] === 'egress',
    );
    if (classRefs.length > 0) {
      const gateways = snap.servedGateways().filter((g) => classRefs.some((t) => t.name === g.className));
      const targetRefs = [
        ...refs.filter((t) => !classRefs.includes(t)),
        ...gateways
          .filter((g) => g.namespace === ap.metadata.namespace)
          .map((g) => ({ kind: 'Gateway', group: GATEWAY_GROUP, name: g.name })),
      ];
      out.push({
        code: 'PCL_AUDIT_POLICY_TARGETS_GATEWAY_CLASS',
        layer: 'config',
        severity: 'error',
        resource: refOf(ap),
        message: `${name} targets the GatewayClass ${classRefs.map((t) => t.name).join(', ')}, which cannot be targeted directly (seed 000 step 04): it applies to nothing`,
        fix: yamlFix(
          gateways.length > 0
            ? [`Target the Gateway by name (policies must live in the Gateway's namespace).`]
            : ['Target a specific egress Gateway by name.'],
          {
            apiVersion: ap.apiVersion,
            kind: 'AuthorizationPolicy',
            metadata: { name: ap.metadata.name, namespace: ap.metadata.namespace },
            spec: { ...ap.spec, targetRef: undefined, targetRefs },
          },
        ),
        location: ap.posOf(['spec', 'targetRefs']),
      });
      continue;
    }
    const compiled = p.compiled;
    if (compiled === null) {
      const failed = (snap.conditions.get(p.key) ?? []).find(
        (c) => c.type === WAYPOINT_ACCEPTED && c.status === 'False',
      );
      if (failed && refs.length > 0) {
        out.push({
          code: 'PCL_AUDIT_POLICY_NOT_ATTACHED',
          layer: 'config',
          severity: 'warning',
          resource: refOf(ap),
          message: `${name} attaches to nothing (${failed.reason}: ${failed.message})`,
          fix: commentFix(describe('PCL_AUDIT_POLICY_NOT_ATTACHED').fix),
          location: ap.posOf(['spec', 'targetRefs']),
        });
      }
      continue;
    }
    const unsupported = compiled.conditions.find((c) => c.reason === REASON_UNSUPPORTED_VALUE && c.status === 'True');
    if (compiled.mode === 'l4' && compiled.action === 'ALLOW' && unsupported) {
      out.push({
        code: 'PCL_AUDIT_ALLOW_HTTP_ON_L4',
        layer: 'config',
        severity: 'warning',
        resource: refOf(ap),
        message: `${name} is enforced at L4 by the egress gateway and uses HTTP attributes, so it allows less than it says: ${unsupported.message}`,
        fix: commentFix(
          `Remove methods, paths, hosts and requestPrincipals from ${name}'s rules (L4 sees only sources, ports and addresses),`,
          'or bind the ServiceEntry to an L7 waypoint (istio-waypoint class) and enforce the HTTP rules there.',
        ),
        location: ap.posOf(['spec', 'rules']),
      });
    }
    if (compiled.action === 'DENY' && !compiled.dryRun) {
      const written = ap.spec.rules ?? [];
      // ztunnel's own verdict on a DENY whose rules held only HTTP attributes (istiod `hasEffectiveRules`).
      const noEffect = compiled.conditions.find((c) => c.message.includes(HTTP_DENY_NO_EFFECT_BOILERPLATE));
      if (written.length === 0 || noEffect) {
        out.push({
          code: 'PCL_AUDIT_DENY_NEVER_MATCHES',
          layer: 'config',
          severity: 'warning',
          resource: refOf(ap),
          message:
            written.length === 0
              ? `${name} is a DENY policy without rules: a policy with no rules never matches, so it denies nothing`
              : `${name} can never match at L4, so it denies nothing: ${noEffect!.message}`,
          fix: commentFix(
            describe('PCL_AUDIT_DENY_NEVER_MATCHES').fix,
            'A DENY rule needs at least one of from.source, to.operation.ports or when that L4 can see.',
          ),
          location: ap.posOf(['spec', 'rules']),
        });
      }
    }
  }
}

const PERMIT_HINT = /add "([^"]+)" to permitCrossNamespaceResourceAccess/;

function crossNamespaceChecks(model: ClusterModel, out: Finding[]): void {
  const snap = model.snapshot;
  const fixFor = (message: string): string => {
    const m = PERMIT_HINT.exec(message);
    return m
      ? yamlFix(['portcullis.yaml (or PERMIT_CROSS_NAMESPACE_RESOURCE_ACCESS on istiod):'], {
          permitCrossNamespaceResourceAccess: [m[1]],
        })
      : commentFix(describe('PCL_AUDIT_CROSS_NAMESPACE_NOT_PERMITTED').fix);
  };
  for (const route of snap.routes.values()) {
    for (const parent of route.parents) {
      const c = parent.conditions.find((x) => x.reason === 'CrossNamespaceNotPermitted');
      if (!c) continue;
      out.push({
        code: 'PCL_AUDIT_CROSS_NAMESPACE_NOT_PERMITTED',
        layer: 'config',
        severity: 'error',
        resource: refOf(route.resource),
        message: `HTTPRoute ${route.resource.metadata.namespace}/${route.resource.metadata.name}: ${c.message}`,
        fix: fixFor(c.message),
        location: route.resource.source,
      });
    }
  }
  for (const dr of snap.destinationRules.values()) {
    if (dr.credentialError === null || !dr.credentialError.includes('cross-namespace')) continue;
    out.push({
      code: 'PCL_AUDIT_CROSS_NAMESPACE_NOT_PERMITTED',
      layer: 'config',
      severity: 'error',
      resource: refOf(dr.resource),
      message: `DestinationRule ${dr.resource.metadata.namespace}/${dr.resource.metadata.name}: ${dr.credentialError}`,
      fix: fixFor(dr.credentialError),
      location: dr.resource.posOf(['spec', 'trafficPolicy', 'tls', 'credentialName']),
    });
  }
}

/** Every error the loader and the compiler found becomes a finding: a malformed manifest never stops the audit. */
function diagnosticChecks(model: ClusterModel, out: Finding[]): void {
  for (const d of model.snapshot.diagnostics) {
    if (d.severity !== 'error') continue;
    out.push({
      code: d.code,
      layer: 'config',
      severity: 'error',
      resource:
        d.kind !== undefined
          ? { kind: d.kind, namespace: d.namespace ?? '', name: d.name ?? '' }
          : { kind: 'File', namespace: '', name: d.file },
      message: `${d.file}${d.line > 0 ? `:${d.line}:${d.column}` : ''}: ${d.path ? `${d.path}: ` : ''}${d.message}`,
      fix: commentFix(describe(d.code).fix),
      location: d.file === '' ? null : { file: d.file, line: d.line, column: d.column },
    });
  }
}

export function auditConfig(model: ClusterModel): Finding[] {
  const out: Finding[] = [];
  gatewayChecks(model, out);
  serviceEntryChecks(model, out);
  policyChecks(model, out);
  crossNamespaceChecks(model, out);
  diagnosticChecks(model, out);
  return out;
}
