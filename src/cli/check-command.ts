/**
 * `portcullis check`: resolve a destination through the snapshot exactly as the data plane will, run the same
 * engine, and print the decision record. An undeclared host is decided by egressPolicies as `serve` decides it
 * (resolved with --dns-server or the system resolver, unless no egressPolicies entry allows anything). A banner
 * counts the configuration errors and names the invalid resources that decided. `--cases FILE` runs test cases.
 * Exit codes: 0 allow (or all cases passed), 1 deny (or a case failed), 2 bad input.
 */
import { readFileSync } from 'node:fs';
import { ipFamily } from '../net/ip-syntax.ts';
import { PortcullisError } from '../errors/portcullis-error.ts';
import { messageOf } from '../errors/message-of.ts';
import { identityFromArg } from './identity-arg.ts';
import { decideConnection } from '../mesh/decide.ts';
import { resolveAuthority, type Destination } from '../mesh/destination.ts';
import type { InvalidResourceModel, Snapshot } from '../mesh/snapshot.ts';
import { parseAuthority } from '../net/authority.ts';
import { compileAddressGuard } from '../upstream/private-address-guard.ts';
import type { NameResolver } from '../dataplane/resolver.ts';
import { decideUnknownAddresses, hasEgressAllow } from '../dataplane/tunnel-decision.ts';
import type { DecisionRecord } from '../policy/engine.ts';
import type { AuthzRequest } from '../policy/request.ts';
import { type FlagTable, HELP_FLAG, type Io, badValue, parseFlags, required } from './args.ts';
import { CONFIG_FLAG, outputFlag, SETTINGS_FLAG } from './common-flags.ts';
import { renderHelp } from './help.ts';
import { configBanner } from './config-banner.ts';
import { loadSnapshot } from './load-snapshot.ts';
import { KUBE_FLAG_ROWS } from './kube-flag-rows.ts';
import { chooseSource, KUBE_USAGE } from '../kube/source-choice.ts';

const USAGE =
  `portcullis check ${KUBE_USAGE} --from <spiffe://td/ns/X/sa/Y | ns/sa> [--source-ip IP] --to <host|ip>:<port> ` +
  '[--method M] [--path P] [--header k=v]... [--dns-server IP[:PORT]]... [-o text|json]\n' +
  `       portcullis check ${KUBE_USAGE} --cases FILE [--dns-server IP[:PORT]]...`;
const SUMMARY = 'explain the allow/deny decision for one connection (or run a file of policy test cases)';

const FLAGS = {
  config: { ...CONFIG_FLAG, defaultText: 'none (required without --kube)' },
  ...KUBE_FLAG_ROWS,
  settings: SETTINGS_FLAG,
  from: {
    type: 'string',
    value: 'IDENTITY',
    defaultText: 'none (required without --cases)',
    description:
      "the caller's SPIFFE identity, spiffe://<td>/ns/<ns>/sa/<sa>, or <ns>/<sa> in the settings' trust domain",
    example: '--from bookinfo/reviews',
  },
  to: {
    type: 'string',
    value: 'HOST:PORT',
    defaultText: 'none (required without --cases)',
    description: 'the destination as the caller dials it: a host name or IP, and a port ([v6]:port for IPv6)',
    example: '--to httpbin.org:443',
  },
  'source-ip': {
    type: 'string',
    value: 'IP',
    default: '127.0.0.1',
    description: "the caller's source address, for policies that match ipBlocks or remoteIpBlocks",
    example: '--source-ip 10.0.0.7',
  },
  method: {
    type: 'string',
    value: 'METHOD',
    defaultText: 'GET when the destination is an L7 (waypoint) one; otherwise L4 only',
    description: 'the HTTP method, for L7 policies (implies an HTTP request)',
    example: '--method POST',
  },
  path: {
    type: 'string',
    value: 'PATH',
    defaultText: '/ when the destination is an L7 (waypoint) one',
    description: 'the HTTP path, for L7 policies (implies an HTTP request)',
    example: '--path /get',
  },
  header: {
    type: 'string',
    multiple: true,
    value: 'NAME=VALUE',
    defaultText: 'none',
    description: 'an HTTP request header, for L7 policies that match headers',
    example: '--header x-team=payments',
  },
  cases: {
    type: 'string',
    value: 'FILE',
    defaultText: 'none',
    description:
      'a YAML list of {name?, from, to, expect: allow|deny, sourceIp?, method?, path?, headers?} to run as tests',
    example: '--cases policy-tests.yaml',
  },
  'dns-server': {
    type: 'string',
    multiple: true,
    value: 'IP[:PORT]',
    defaultText: 'the system resolver',
    description:
      'the DNS server that resolves an undeclared host, decided by egressPolicies per address as serve does (repeatable)',
    example: '--dns-server 127.0.0.1:15053',
  },
  output: outputFlag(['text', 'json'], 'the decision record as text or JSON', '-o json'),
  help: HELP_FLAG,
} as const satisfies FlagTable;

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
  layers: {
    layer: string;
    target: string;
    decision: string;
    reason: string;
    policy: string | null;
    code: string;
    rule: number | null;
  }[];
  /** The addresses an undeclared host resolved to, when it had to be resolved. */
  resolved?: string[];
  /** Errors in the configuration (each invalid resource fails closed). */
  configErrors: number;
  /** The invalid resources whose fail-closed rule decided this destination. */
  invalidResources: InvalidResourceModel[];
  record: DecisionRecord;
}

/** How `check` resolves an undeclared host (serve's --dns-server); null never resolves (then such a host errors). */
export interface CheckOptions {
  readonly resolver?: NameResolver | null;
}

/** Decide one check input against a snapshot, as the gateway would. Throws PortcullisError for bad input. */
async function runCheck(snap: Snapshot, input: CheckInput, opts: CheckOptions = {}): Promise<CheckResult> {
  const id = identityFromArg(input.from, snap.settings.trustDomain);
  const parsed = parseAuthority(input.to);
  if (!parsed.ok) {
    // The same parser as the gateway's, so `check` refuses exactly what the gateway answers 400 to.
    throw new PortcullisError(
      'PCL_CLI_BAD_VALUE',
      `--to "${input.to}": ${parsed.reason} (the gateway answers 400 to it)`,
    );
  }
  const authority = parsed.authority;
  const sourceIp = input.sourceIp ?? '127.0.0.1';
  if (ipFamily(sourceIp) === 0)
    throw new PortcullisError('PCL_CLI_BAD_VALUE', `--source-ip "${sourceIp}" is not an IP address`);
  const dest = resolveAuthority(snap, null, authority);
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
  let resolved: string[] | undefined;
  if (dest.kind === 'unknown' && dest.ip === null && dest.invalid === undefined && hasEgressAllow(snap)) {
    // As the gateway: an undeclared name is resolved once and every address must be allowed. With no Allow entry
    // every address gets the same answer, so the record above stands without a lookup.
    ({ record: final, ips: resolved } = await decideResolved(
      snap,
      authority.host,
      authority.port,
      record,
      opts.resolver ?? null,
    ));
  }
  if (dest.kind === 'noSuchPort' && record.decision === 'allow') {
    // The data plane answers 503 here: a declared host without the port is never forwarded.
    final = {
      ...record,
      decision: 'deny',
      code: 'PCL_MESH_NO_SUCH_PORT',
      reason: `ServiceEntry ${dest.serviceEntry.ref} does not declare port ${dest.port}`,
    };
  }
  const deciding = snap.invalid.filter((inv) =>
    final.layers.some((l) => l.decision === 'deny' && l.reason.includes(`${inv.kind} ${inv.ref} is invalid`)),
  );
  return {
    decision: final.decision,
    code: final.code,
    reason: final.reason,
    source: { principal: id.uri, namespace: id.namespace, serviceAccount: id.serviceAccount, ip: sourceIp },
    destination: {
      host:
        dest.kind === 'serviceEntry'
          ? dest.host
          : dest.kind === 'noSuchPort'
            ? dest.serviceEntry.hosts[0]
            : (dest.host ?? dest.ip ?? ''),
      port: authority.port,
      serviceEntry: dest.kind === 'unknown' ? null : dest.serviceEntry.ref,
      gateway: dest.kind === 'unknown' ? null : dest.gateway.ref,
    },
    ...(resolved === undefined ? {} : { resolved }),
    configErrors: snap.diagnostics.filter((d) => d.severity === 'error').length,
    invalidResources: deciding,
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

/** Resolve an undeclared host and decide every address by egressPolicies and the private-address guard, as serve. */
async function decideResolved(
  snap: Snapshot,
  host: string,
  port: number,
  unresolved: DecisionRecord,
  resolver: NameResolver | null,
): Promise<{ record: DecisionRecord; ips: string[] }> {
  if (resolver === null) {
    throw new PortcullisError(
      'PCL_CLI_UNKNOWN_DESTINATION',
      `--to ${host}:${port}: no ServiceEntry declares "${host}" and egressPolicies allow some addresses, so the answer ` +
        'depends on what it resolves to',
    );
  }
  let ips: string[];
  try {
    ips = await resolver.resolve(host);
  } catch (err) {
    const reason = `${host}: ${(err as Error).message}`;
    return {
      record: { decision: 'deny', code: 'PCL_DATAPLANE_DNS_FAILED', reason, layers: unresolved.layers },
      ips: [],
    };
  }
  let record = decideUnknownAddresses(snap.egressPolicies, ips, port);
  if (record.decision === 'allow') {
    const guard = compileAddressGuard({ allowedPrivateCidrs: snap.settings.allowedPrivateCidrs, listeners: [] });
    for (const ip of ips) {
      const v = guard.check(ip, port);
      if (!v.ok) {
        record = {
          decision: 'deny',
          code: 'PCL_DATAPLANE_PRIVATE_ADDRESS',
          reason: `${host} resolves to ${v.reason}`,
          layers: record.layers,
        };
        break;
      }
    }
  }
  return { record, ips };
}

/** The destination IP the gateway would see: the dialled IP, else the host's VIP (ztunnel sends the VIP authority). */
function destinationIpOf(dest: Destination): string {
  if (dest.kind === 'unknown') return dest.ip ?? '';
  if (dest.kind === 'noSuchPort') return dest.serviceEntry.vips[0]?.value ?? '';
  if (dest.ip) return dest.ip;
  return dest.serviceEntry.vips.find((v) => v.host === dest.host)?.value ?? dest.serviceEntry.specAddresses[0] ?? '';
}

function formatCheckText(r: CheckResult): string {
  const lines = [
    ...configBanner(r.configErrors, r.invalidResources),
    `${r.decision.toUpperCase()}  ${r.source.principal} -> ${r.destination.host}:${r.destination.port}`,
    `  ${r.code}: ${r.reason}`,
    `  destination: ServiceEntry ${r.destination.serviceEntry ?? '(none: unknown destination)'}` +
      (r.destination.gateway ? ` via Gateway ${r.destination.gateway}` : ''),
  ];
  if (r.resolved !== undefined)
    lines.push(`  resolved: ${r.destination.host} -> ${r.resolved.join(', ') || '(no address)'}`);
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

async function readCases(file: string): Promise<CaseSpec[]> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new PortcullisError('PCL_CLI_CONFIG_MISSING', `--cases ${file}: cannot read the file`);
  }
  // Loaded here only: a single check never needs the YAML parser on this thread (start-up time).
  const { isSeq, LineCounter, parseDocument } = await import('yaml');
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const syntax = doc.errors[0];
  if (syntax !== undefined) {
    const line = lines.linePos(syntax.pos[0]).line;
    throw new PortcullisError('PCL_CLI_BAD_VALUE', `--cases ${file}:${line}: ${syntax.message.split('\n')[0]}`, {
      where: `${file}:${line}`,
    });
  }
  const data: unknown = doc.toJS();
  if (!Array.isArray(data))
    throw new PortcullisError('PCL_CLI_BAD_VALUE', `--cases ${file}: expected a YAML list of {from, to, expect}`, {
      where: `${file}:1`,
    });
  const items = isSeq(doc.contents) ? doc.contents.items : [];
  return data.map((c, i) => {
    const item = c as Record<string, unknown>;
    // file:line of the item, so an editor jumps to it.
    const offset = (items[i] as { range?: [number, number, number] } | undefined)?.range?.[0];
    const at = `${file}:${offset === undefined ? 1 : lines.linePos(offset).line}`;
    const where = `--cases ${at}: item ${i + 1}`;
    if (typeof item !== 'object' || item === null)
      throw new PortcullisError('PCL_CLI_BAD_VALUE', `${where}: expected a mapping`, { where: at });
    for (const k of Object.keys(item)) {
      if (!['from', 'to', 'expect', 'name', 'sourceIp', 'method', 'path', 'headers'].includes(k)) {
        throw new PortcullisError(
          'PCL_CLI_BAD_VALUE',
          `${where}: unknown field "${k}" (fields: name, from, to, expect, sourceIp, method, path, headers)`,
          { where: at },
        );
      }
    }
    if (typeof item.from !== 'string' || typeof item.to !== 'string')
      throw new PortcullisError('PCL_CLI_BAD_VALUE', `${where}: "from" and "to" are required strings`, {
        where: at,
      });
    if (item.expect !== 'allow' && item.expect !== 'deny')
      throw new PortcullisError('PCL_CLI_BAD_VALUE', `${where}: "expect" must be allow or deny`, { where: at });
    return item as unknown as CaseSpec;
  });
}

export async function run(argv: string[], io: Io): Promise<number> {
  const flags = parseFlags('check', USAGE, argv, FLAGS);
  if (flags.help) {
    io.stdout.write(
      renderHelp(
        'check',
        SUMMARY,
        USAGE,
        FLAGS,
        'Exit codes: 0 allow (or every case passed), 1 deny (or a case failed), 2 bad input.',
      ),
    );
    return 0;
  }
  const output = flags.output;
  const kube = chooseSource('check', USAGE, flags);
  const load = async () =>
    kube
      ? (await (await import('../kube/kube-flags.ts')).kubeSnapshotFromFlags(flags, process.env)).snapshot
      : loadSnapshot(flags.config!, flags.settings, io);
  // The resolver and its flag parser are loaded only when a flag or an undeclared host needs them (start-up time).
  const dnsServers =
    flags['dns-server'] === undefined ? [] : (await import('./dns-server-flag.ts')).dnsServerFlags(flags['dns-server']);
  let made: Promise<NameResolver> | undefined;
  const resolver: NameResolver = {
    resolve: async (host) => {
      made ??= import('../dataplane/resolver.ts').then((m) =>
        m.createDnsResolver({ servers: dnsServers, cache: false }),
      );
      return (await made).resolve(host);
    },
  };
  const opts: CheckOptions = { resolver };
  if (flags.cases !== undefined) {
    const cases = await readCases(flags.cases);
    const snap = await load();
    for (const line of configBanner(snap.diagnostics.filter((d) => d.severity === 'error').length, []))
      io.stdout.write(`${line}\n`);
    let passed = 0;
    let failed = 0;
    for (const [i, c] of cases.entries()) {
      const label = c.name ?? `${c.from} -> ${c.to}`;
      let got: string;
      let detail = '';
      try {
        const r = await runCheck(snap, c, opts);
        got = r.decision;
        detail = `${r.code}: ${r.reason}`;
      } catch (err) {
        got = 'error';
        detail = messageOf(err);
      }
      if (got === c.expect) {
        passed++;
        io.stdout.write(`ok ${i + 1} - ${label}: ${got}\n`);
      } else {
        failed++;
        io.stdout.write(
          `not ok ${i + 1} - ${label}: expected ${c.expect}, got ${got} (${detail}) [PCL_CLI_CASE_FAILED]\n`,
        );
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
    if (eq <= 0) throw badValue('check', 'header', `--header "${h}": expected NAME=VALUE`);
    headers[h.slice(0, eq)] = h.slice(eq + 1);
  }
  const snap = await load();
  const result = await runCheck(
    snap,
    {
      from,
      to,
      sourceIp: flags['source-ip'],
      method: flags.method,
      path: flags.path,
      headers: flags.header ? headers : undefined,
    },
    opts,
  );
  if (output === 'json') {
    const { record: _record, ...json } = result;
    io.stdout.write(JSON.stringify(json, null, 2) + '\n');
  } else io.stdout.write(formatCheckText(result));
  return result.decision === 'allow' ? 0 : 1;
}
