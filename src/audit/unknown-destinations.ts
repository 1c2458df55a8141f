/**
 * Layer 3 of seed 000: ztunnel's `egressPolicies` must deny what no ServiceEntry declares (`0.0.0.0/0` and `::/0`).
 * An address's verdict is its longest matching CIDR's (the first entry wins a tie), as Portcullis's own
 * decideUnknownDestination does; an address no entry matches is open, because ztunnel without egressPolicies lets
 * unknown destinations through (the audit judges the chart value the cluster relies on, not Portcullis's gateway).
 */
import type { EgressPolicyEntry, Settings } from '../config/settings-types.ts';
import type { ClusterModel } from './cluster-model.ts';
import type { Finding, ResourceRef } from './finding.ts';
import { EGRESS_POLICIES_DENY_ALL, yamlFix } from './fix-yaml.ts';
import {
  ALL_ADDRESSES,
  describeExternal,
  describeSet,
  externalPart,
  isEmpty,
  setOf,
  subtract,
  union,
  type AddressSet,
} from './ip-ranges.ts';
import type { LayerAudit } from './layer-audit.ts';
import { cidrInterval } from './ip-ranges.ts';

const EGRESS_POLICIES_REF: ResourceRef = { kind: 'Settings', namespace: '', name: 'egressPolicies' };

/** The addresses egressPolicies leave open (allowed, or matched by no entry). */
export function openAddresses(entries: readonly EgressPolicyEntry[]): AddressSet {
  const painted: { cidr: string; prefix: number; order: number; policy: 'Deny' | 'Allow' }[] = [];
  entries.forEach((e, order) => {
    for (const cidr of e.matchCidrs) {
      const i = cidrInterval(cidr);
      if (!i) continue;
      const size = i.end - i.start + 1n;
      const prefix = (i.family === 4 ? 32 : 128) - (size.toString(2).length - 1);
      painted.push({ cidr, prefix, order, policy: e.policy });
    }
  });
  // Paint shortest prefixes first so longer ones override; within a prefix the first entry paints last and wins.
  painted.sort((a, b) => a.prefix - b.prefix || b.order - a.order);
  let denied: AddressSet = [];
  for (const p of painted) {
    const block = setOf([p.cidr]);
    denied = p.policy === 'Deny' ? union(denied, block) : subtract(denied, block);
  }
  return subtract(ALL_ADDRESSES, denied);
}

export function settingsLocation(settings: Settings, field?: string): Finding['location'] {
  // The field's own line when the file sets it; otherwise the file (line 1), where it would be added.
  const at = field === undefined ? undefined : settings.positions?.[field];
  if (at !== undefined) return at;
  return settings.source === null ? null : { file: settings.source, line: 1, column: 1 };
}

export function auditUnknownDestinations(model: ClusterModel): LayerAudit {
  const findings: Finding[] = [];
  const entries = model.settings.egressPolicies;
  const location = settingsLocation(model.settings, 'egressPolicies');
  const fix = yamlFix(
    ['Values for the ztunnel chart and portcullis.yaml (seed 000, layer 03).'],
    EGRESS_POLICIES_DENY_ALL,
  );
  let externalOpen = true;
  if (entries.length === 0) {
    findings.push({
      code: 'PCL_AUDIT_EGRESS_POLICIES_MISSING',
      layer: 3,
      severity: 'error',
      resource: EGRESS_POLICIES_REF,
      message:
        'egressPolicies is not set: traffic ztunnel cannot match to a known destination (an IP literal, an undeclared host) is not denied inside ztunnel',
      fix,
      location,
    });
  } else {
    const open = openAddresses(entries);
    const external = externalPart(open);
    const internal = subtract(open, external);
    externalOpen = !isEmpty(external);
    if (externalOpen) {
      findings.push({
        code: 'PCL_AUDIT_EGRESS_POLICIES_OPEN',
        layer: 3,
        severity: 'error',
        resource: EGRESS_POLICIES_REF,
        message: `egressPolicies leave external ranges open to unknown destinations: ${describeExternal(external)}`,
        fix,
        location,
      });
    } else if (!isEmpty(internal)) {
      findings.push({
        code: 'PCL_AUDIT_EGRESS_POLICIES_OPEN',
        layer: 3,
        severity: 'info',
        resource: EGRESS_POLICIES_REF,
        message: `egressPolicies deny every external address; these private ranges stay open to unknown destinations: ${describeSet(internal)}`,
        fix,
        location,
      });
    }
  }
  return { findings, open: () => externalOpen };
}
