/** `/config_dump`: the snapshot in force as plain JSON (Envoy's and ztunnel's admin endpoint of the same name). Pure. */
import { configIssues } from '../mesh/config-health.ts';
import type { Snapshot } from '../mesh/snapshot.ts';

/** A JSON-ready view of a snapshot: what the gateway serves, binds, and enforces, with status conditions. */
export function configDump(snap: Snapshot): Record<string, unknown> {
  const conditionsOf = (key: string) => snap.conditions.get(key) ?? [];
  const { source, ...settings } = snap.settings;
  return {
    generation: snap.generation,
    createdAt: snap.createdAt,
    settings: { source, ...settings },
    files: snap.load.files,
    gateways: [...snap.gateways.values()].map((g) => ({
      ref: g.ref,
      className: g.className,
      mode: g.mode,
      served: g.mode !== null,
      ready: g.ready,
      trafficType: g.trafficType,
      identity: g.identity,
      serviceHost: g.serviceHost,
      conditions: conditionsOf(g.key),
    })),
    serviceEntries: [...snap.serviceEntries.values()].map((se) => ({
      ref: se.ref,
      hosts: se.hosts,
      ports: se.ports,
      resolution: se.resolution,
      addresses: se.specAddresses,
      vips: se.vips,
      endpoints: se.endpoints,
      waypoint: se.waypoint === null ? null : (snap.gateways.get(se.waypoint)?.ref ?? se.waypoint),
      conditions: conditionsOf(se.key),
    })),
    policies: [...snap.policies.values()].map((p) => ({
      ref: p.ref,
      action: p.resource.spec.action ?? 'ALLOW',
      targetRefs: p.resource.spec.targetRefs ?? (p.resource.spec.targetRef ? [p.resource.spec.targetRef] : []),
      rules: p.resource.spec.rules ?? null,
      dryRun: p.resource.metadata.annotations['istio.io/dry-run'] === 'true',
      attachedTo: p.attachedTo,
      enforced: p.compiled !== null,
      conditions: conditionsOf(p.key),
    })),
    egressPolicies: snap.settings.egressPolicies,
    // Every error (file:line, code) and what fails closed because of each invalid resource.
    errors: configIssues(snap).map((i) => ({
      kind: i.kind,
      ref: i.ref,
      file: i.file,
      line: i.line,
      code: i.code,
      message: i.message,
    })),
    invalid: snap.invalid,
    diagnostics: snap.diagnostics,
  };
}
