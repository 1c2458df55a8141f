/**
 * `portcullis check`: resolve a destination through the snapshot exactly as the data plane will, run the same
 * engine, and print the decision record. `--cases FILE` runs a list of policy test cases for CI.
 * Exit codes: 0 allow (or all cases passed), 1 deny (or a case failed), 2 bad input.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { PortcullisError } from '../errors/catalogue.ts';
import { identityFromArg } from './identity-arg.ts';
import { decideConnection } from '../mesh/decide.ts';
import { parseAuthority, resolveAuthority, type Destination } from '../mesh/destination.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import type { DecisionRecord } from '../policy/engine.ts';
import type { AuthzRequest } from '../policy/request.ts';
import { type Io, parseFlags, required } from './args.ts';
import { loadSnapshot } from './load-snapshot.ts';
import { chooseSource, KUBE_FLAGS, KUBE_USAGE, kubeSnapshotFromFlags } from '../kube/kube-flags.ts';

const USAGE =
  `portcullis check ${KUBE_USAGE} --from <spiffe://td/ns/X/sa/Y | ns/sa> [--source-ip IP] --to <host|ip>:<port> ` +
  '[--method M] [--path P] [--header k=v]... [-o text|json]\n' +
  `       portcullis check ${KUBE_USAGE} --cases FILE`;

export interface CheckInput {
  from: string;
  to: string;
  sourceIp?: string;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
}

export interface CheckResult {
  decision: 'allow' | 'deny';
  code: string;
  reason: string;
  source: { principal: string; namespace: string; serviceAccount: string; ip: string };
  destination: { host: string; port: number; serviceEntry: string | null; gateway: string | null };
  layers: { layer: string; target: string; decision: string; reason: string; policy: string | null; code: string; rule: number | null }[];
  record: DecisionRecord;
}

/** Decide one check input against a snapshot. Throws PortcullisError for bad input. */
export function runCheck(snap: Snapshot, input: CheckInput): CheckResult {
  const id = identityFromArg(input.from, snap.settings.trustDomain);
  const authority = parseAuthority(input.to);
  if (!authority) {
    throw new PortcullisError(
      'PCL_CLI_BAD_VALUE',
      `--to "${input.to}": expected <host>:<port> or <ip>:<port> ([v6]:port for IPv6) with a port from 1 to 65535`,
    );
  }
  const sourceIp = input.sourceIp ?? '127.0.0.1';
  if (isIP(sourceIp) === 0) throw new PortcullisError('PCL_CLI_BAD_VALUE', `--source-ip "${sourceIp}" is not an IP address`);
  const dest = resolveAuthority(snap, null, authority);
  if (dest.kind === 'unknown' && dest.ip === null) {
    throw new PortcullisError(
      'PCL_CLI_UNKNOWN_DESTINATION',
      `--to ${input.to}: unknown host "${authority.host}": no ServiceEntry bound to a gateway declares it. ` +
        'Unknown destinations are decided by egressPolicies on the address the name resolves to: pass an IP to check that.',
    );
  }
  const req: AuthzRequest = {
    principal: id.uri,
    sourceIp,
    destinationIp: destinationIpOf(dest),
    destinationPort: authority.port,
  };
  const l7 = dest.kind !== 'unknown' && dest.gateway?.mode === 'waypoint';
  if (l7 || input.method || input.path || input.headers) {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(input.headers ?? {})) headers[k.toLowerCase()] = v;
    req.http = {
      method: input.method ?? 'GET',
      path: input.path ?? '/',
      host: dest.kind === 'serviceEntry' ? dest.host : authority.host,
      headers,
    };
  }
  const record = decideConnection(snap, dest, req);
  let final = record;
  if (dest.kind === 'noSuchPort' && record.decision === 'allow') {
    // The data plane answers 503 here: a declared host without the port is never forwarded.
    final = {
      ...record,
      decision: 'deny',
      code: 'PCL_MESH_NO_SUCH_PORT',
      reason: `ServiceEntry ${dest.serviceEntry.ref} does not declare port ${dest.port}`,
    };
  }
  return {
    decision: final.decision,
    code: final.code,
    reason: final.reason,
    source: { principal: id.uri, namespace: id.namespace, serviceAccount: id.serviceAccount, ip: sourceIp },
    destination: {
      host: dest.kind === 'serviceEntry' ? dest.host : dest.kind === 'noSuchPort' ? dest.serviceEntry.hosts[0] : (dest.host ?? dest.ip ?? ''),
      port: authority.port,
      serviceEntry: dest.kind === 'unknown' ? null : dest.serviceEntry.ref,
      gateway: dest.kind === 'unknown' ? null : dest.gateway.ref,
    },
    layers: final.layers.map((l) => ({
      layer: l.layer,
      target: l.target,
      decision: l.decision,
      reason: l.reason,
      policy: l.policy,
      code: l.code,
      rule: l.rule,
    })),
    record: final,
  };
}

/** The destination IP the gateway would see: the dialled IP, else the host's VIP (ztunnel sends the VIP authority). */
function destinationIpOf(dest: Destination): string {
  if (dest.kind === 'unknown') return dest.ip ?? '';
  if (dest.kind === 'noSuchPort') return dest.serviceEntry.vips[0]?.value ?? '';
  if (dest.ip) return dest.ip;
  return dest.serviceEntry.vips.find((v) => v.host === dest.host)?.value ?? dest.serviceEntry.specAddresses[0] ?? '';
}

export function formatCheckText(r: CheckResult): string {
  const lines = [
    `${r.decision.toUpperCase()}  ${r.source.principal} -> ${r.destination.host}:${r.destination.port}`,
    `  ${r.code}: ${r.reason}`,
    `  destination: ServiceEntry ${r.destination.serviceEntry ?? '(none: unknown destination)'}` +
      (r.destination.gateway ? ` via Gateway ${r.destination.gateway}` : ''),
  ];
  for (const l of r.layers) {
    lines.push(
      `  layer ${l.layer.padEnd(14)} ${l.decision.padEnd(5)} ${l.target}: ${l.reason}` +
        (l.policy ? ` [policy ${l.policy}${l.rule !== null ? ` rule ${l.rule}` : ''}]` : ''),
    );
  }
  for (const l of r.record.layers) {
    for (const d of l.dryRun) lines.push(`  dry-run ${d.policy} (${d.action}): ${d.message}`);
    for (const a of l.audit) lines.push(`  audit ${a}: matched`);
  }
  return lines.join('\n') + '\n';
}

interface CaseSpec extends CheckInput {
  expect: 'allow' | 'deny';
  name?: string;
}

function readCases(file: string): CaseSpec[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new PortcullisError('PCL_CLI_CONFIG_MISSING', `--cases ${file}: cannot read the file`);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    throw new PortcullisError('PCL_CLI_BAD_VALUE', `--cases ${file}: ${(err as Error).message}`);
  }
  if (!Array.isArray(data)) throw new PortcullisError('PCL_CLI_BAD_VALUE', `--cases ${file}: expected a YAML list of {from, to, expect}`);
  return data.map((c, i) => {
    const item = c as Record<string, unknown>;
    const where = `--cases ${file}: item ${i + 1}`;
    if (typeof item !== 'object' || item === null) throw new PortcullisError('PCL_CLI_BAD_VALUE', `${where}: expected a mapping`);
    for (const k of Object.keys(item)) {
      if (!['from', 'to', 'expect', 'name', 'sourceIp', 'method', 'path', 'headers'].includes(k)) {
        throw new PortcullisError('PCL_CLI_BAD_VALUE', `${where}: unknown field "${k}" (fields: name, from, to, expect, sourceIp, method, path, headers)`);
      }
    }
    if (typeof item.from !== 'string' || typeof item.to !== 'string')
      throw new PortcullisError('PCL_CLI_BAD_VALUE', `${where}: "from" and "to" are required strings`);
    if (item.expect !== 'allow' && item.expect !== 'deny')
      throw new PortcullisError('PCL_CLI_BAD_VALUE', `${where}: "expect" must be allow or deny`);
    return item as unknown as CaseSpec;
  });
}

export async function run(argv: string[], io: Io): Promise<number> {
  const flags = parseFlags('check', USAGE, argv, {
    config: { type: 'string' },
    settings: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    'source-ip': { type: 'string' },
    method: { type: 'string' },
    path: { type: 'string' },
    header: { type: 'string', multiple: true },
    cases: { type: 'string' },
    output: { type: 'string', short: 'o', default: 'text' },
    help: { type: 'boolean', short: 'h' },
    ...KUBE_FLAGS,
  });
  if (flags.help) {
    io.stdout.write(`Usage: ${USAGE}\n`);
    return 0;
  }
  const output = flags.output ?? 'text';
  if (output !== 'text' && output !== 'json') {
    throw new PortcullisError('PCL_CLI_BAD_VALUE', `portcullis check: -o must be text or json (got "${output}")`);
  }
  const kube = chooseSource('check', USAGE, flags);
  const load = async () => (kube ? (await kubeSnapshotFromFlags(flags, process.env)).snapshot : loadSnapshot(flags.config!, flags.settings));
  if (flags.cases !== undefined) {
    const cases = readCases(flags.cases);
    const snap = await load();
    let passed = 0;
    let failed = 0;
    for (const [i, c] of cases.entries()) {
      const label = c.name ?? `${c.from} -> ${c.to}`;
      let got: string;
      let detail = '';
      try {
        const r = runCheck(snap, c);
        got = r.decision;
        detail = `${r.code}: ${r.reason}`;
      } catch (err) {
        got = 'error';
        detail = (err as Error).message;
      }
      if (got === c.expect) {
        passed++;
        io.stdout.write(`ok ${i + 1} - ${label}: ${got}\n`);
      } else {
        failed++;
        io.stdout.write(`not ok ${i + 1} - ${label}: expected ${c.expect}, got ${got} (${detail})\n`);
      }
    }
    io.stdout.write(`${passed} passed, ${failed} failed\n`);
    return failed > 0 ? 1 : 0;
  }
  const from = required('check', USAGE, 'from', flags.from);
  const to = required('check', USAGE, 'to', flags.to);
  const headers: Record<string, string> = {};
  for (const h of flags.header ?? []) {
    const eq = h.indexOf('=');
    if (eq <= 0) throw new PortcullisError('PCL_CLI_BAD_VALUE', `--header "${h}": expected name=value`);
    headers[h.slice(0, eq)] = h.slice(eq + 1);
  }
  const snap = await load();
  const result = runCheck(snap, {
    from,
    to,
    sourceIp: flags['source-ip'],
    method: flags.method,
    path: flags.path,
    headers: flags.header ? headers : undefined,
  });
  if (output === 'json') {
    const { record: _record, ...json } = result;
    io.stdout.write(JSON.stringify(json, null, 2) + '\n');
  } else io.stdout.write(formatCheckText(result));
  return result.decision === 'allow' ? 0 : 1;
}
