/** Seed 000's ztunnel `egressPolicies`: the verdict for destinations no ServiceEntry declares, by longest CIDR. */
import type { EgressPolicyEntry } from '../config/settings-types.ts';
import { PortcullisError } from '../errors/portcullis-error.ts';
import type { DecisionRecord, LayerRecord } from './engine.ts';
import { cidrContains, parseCidr, parseIp, type CidrBlock } from '../net/ip.ts';

interface EgressRule {
  readonly block: CidrBlock;
  readonly policy: 'Deny' | 'Allow';
  /** Index of the entry in `egressPolicies`. */
  readonly entry: number;
}

/** egressPolicies compiled once: blocks per family, longest prefix first (ties keep configuration order). */
export interface CompiledEgressPolicies {
  readonly v4: readonly EgressRule[];
  readonly v6: readonly EgressRule[];
}

/**
 * Compile the entries. An unparsable CIDR throws (settings are validated before this; a silent skip could
 * turn a Deny into an Allow).
 */
export function compileEgressPolicies(entries: readonly EgressPolicyEntry[]): CompiledEgressPolicies {
  const v4: EgressRule[] = [];
  const v6: EgressRule[] = [];
  entries.forEach((e, entry) => {
    for (const text of e.matchCidrs) {
      const block = parseCidr(text);
      if (block === null) {
        throw new PortcullisError(
          'PCL_EGRESS_POLICY_INVALID_CIDR',
          `egressPolicies[${entry}].matchCidrs: "${text}" is not an IP address or CIDR`,
        );
      }
      (block.v6 ? v6 : v4).push({ block, policy: e.policy, entry });
    }
  });
  // Array.prototype.sort is stable, so equal prefixes stay in configuration order (the first entry wins).
  const byPrefix = (a: EgressRule, b: EgressRule): number => b.block.prefix - a.block.prefix;
  v4.sort(byPrefix);
  v6.sort(byPrefix);
  return { v4, v6 };
}

const TARGET = 'egressPolicies';

function record(
  decision: 'allow' | 'deny',
  code: LayerRecord['code'],
  reason: string,
  rule: number | null,
): DecisionRecord {
  const layer: LayerRecord = {
    layer: 'egressPolicies',
    target: TARGET,
    decision,
    code,
    reason,
    policy: null,
    rule,
    dryRun: [],
    audit: [],
  };
  return { decision, code, reason, layers: [layer] };
}

/**
 * Decide a destination that no ServiceEntry declares: the longest matching CIDR wins; no match, or no
 * address to match, denies. An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is matched as IPv4.
 */
export function decideUnknownDestination(
  p: CompiledEgressPolicies,
  destinationIp: string | null,
  destinationPort: number,
): DecisionRecord {
  const ip = destinationIp === null || destinationIp === '' ? null : parseIp(destinationIp);
  if (ip === null) {
    return record(
      'deny',
      'PCL_EGRESS_NO_MATCH',
      `no ServiceEntry declares the destination and it has no IP address to match egressPolicies (port ${destinationPort})`,
      null,
    );
  }
  const rules = ip.v6 ? p.v6 : p.v4;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i];
    if (!cidrContains(r.block, ip)) continue;
    const where = `egressPolicies[${r.entry}] ${r.block.text}`;
    return r.policy === 'Allow'
      ? record('allow', 'PCL_EGRESS_POLICY_ALLOW', `${destinationIp}:${destinationPort} allowed by ${where}`, r.entry)
      : record('deny', 'PCL_EGRESS_POLICY_DENY', `${destinationIp}:${destinationPort} denied by ${where}`, r.entry);
  }
  return record(
    'deny',
    'PCL_EGRESS_NO_MATCH',
    `${destinationIp}:${destinationPort} matches no egressPolicies CIDR`,
    null,
  );
}
