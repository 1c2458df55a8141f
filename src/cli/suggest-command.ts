/**
 * `portcullis suggest`: read observed egress (JSON access logs, or a running gateway's admin port) and write the
 * YAML that allows exactly those flows, the `check --cases` that prove it, and the flows it will not allow.
 * Exit codes: 0 written, 2 bad input.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { PortcullisError } from '../errors/portcullis-error.ts';
import { messageOf } from '../errors/message-of.ts';
import { compileAddressGuard } from '../upstream/private-address-guard.ts';
import { FlowMap, type FlowEdge } from '../learn/flow-map.ts';
import { BadLogLine, flowFromLogLine } from '../learn/observed-flow.ts';
import { suggestPolicy } from '../learn/suggest.ts';
import { type FlagTable, HELP_FLAG, type Io, parseFlags } from './args.ts';
import { CONFIG_FLAG, SETTINGS_FLAG } from './common-flags.ts';
import { renderHelp } from './help.ts';
import { loadSnapshot } from './load-snapshot.ts';

const USAGE =
  'portcullis suggest (--from-log ACCESS_LOG [--from-log ...] | --admin http://127.0.0.1:15000) [--config PATH]\n' +
  '       [--gateway NS/NAME] [--include-denied] [--out FILE (default: stdout)] [--cases FILE]';
const SUMMARY = 'write the policy that allows exactly the observed egress (from access logs or a running gateway)';

const FLAGS = {
  'from-log': {
    type: 'string',
    multiple: true,
    value: 'ACCESS_LOG',
    defaultText: 'none (this or --admin)',
    description: "a gateway's JSON access log (serve --log-file); repeatable, every line aggregated",
    example: '--from-log .portcullis/quickstart/access.log',
  },
  admin: {
    type: 'string',
    value: 'URL',
    defaultText: 'none (this or --from-log)',
    description: "a running gateway's admin port: its recent decisions (/flows/edges)",
    example: '--admin http://127.0.0.1:15000',
  },
  config: {
    ...CONFIG_FLAG,
    defaultText: 'none',
    description: `${CONFIG_FLAG.description}; the egress Gateway and the private ranges to honour`,
  },
  settings: SETTINGS_FLAG,
  gateway: {
    type: 'string',
    value: 'NS/NAME',
    defaultText: 'the one egress Gateway --config serves, or the one the flows went through',
    description: 'the egress Gateway new ServiceEntries bind to (istio.io/use-waypoint)',
    example: '--gateway istio-system/ztunnel-egress',
  },
  'include-denied': {
    type: 'boolean',
    defaultText: 'off: only allowed and would-deny flows',
    description: 'also allow flows that were denied (review every one before applying)',
    example: '--include-denied',
  },
  out: {
    type: 'string',
    value: 'FILE',
    defaultText: 'stdout',
    description: 'write the suggested YAML here',
    example: '--out suggested.yaml',
  },
  cases: {
    type: 'string',
    value: 'FILE',
    defaultText: 'none',
    description: "write a 'check --cases' file with one case per observed flow",
    example: '--cases suggested-cases.yaml',
  },
  help: HELP_FLAG,
} as const satisfies FlagTable;

/** Every tunnel and request line of the access logs, aggregated per source and destination (no bound: all of it). */
function edgesFromLogs(files: readonly string[]): FlowEdge[] {
  const map = new FlowMap({ maxEdges: Number.MAX_SAFE_INTEGER, maxRows: 1 });
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      throw new PortcullisError('PCL_CLI_CONFIG_MISSING', `--from-log ${file}: cannot read the file`);
    }
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].trim();
      if (line === '') continue;
      try {
        const flow = flowFromLogLine(line);
        if (flow !== null) map.add(flow);
      } catch (err) {
        if (!(err instanceof BadLogLine)) throw err;
        throw new PortcullisError('PCL_SUGGEST_BAD_LOG', `${file}:${i + 1}: ${err.message}`);
      }
    }
  }
  return map.edges();
}

/** The edges a running gateway has observed (its admin port's /flows/edges). */
async function edgesFromAdmin(url: string): Promise<FlowEdge[]> {
  const target = `${url.replace(/\/+$/, '')}/flows/edges`;
  let body: unknown;
  try {
    const res = await fetch(target, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = await res.json();
  } catch (err) {
    throw new PortcullisError('PCL_SUGGEST_BAD_LOG', `--admin ${target}: ${messageOf(err)}`);
  }
  const edges = (body as { edges?: unknown }).edges;
  if (!Array.isArray(edges))
    throw new PortcullisError('PCL_SUGGEST_BAD_LOG', `--admin ${target}: the answer has no "edges" list`);
  return edges as FlowEdge[];
}

export async function run(argv: string[], io: Io): Promise<number> {
  const flags = parseFlags('suggest', USAGE, argv, FLAGS);
  if (flags.help) {
    io.stdout.write(renderHelp('suggest', SUMMARY, USAGE, FLAGS, 'Exit codes: 0 written, 2 bad input.'));
    return 0;
  }
  const logs = flags['from-log'] ?? [];
  if ((logs.length === 0) === (flags.admin === undefined)) {
    throw new PortcullisError(
      'PCL_CLI_USAGE',
      `portcullis suggest: give --from-log (one or more) or --admin, not both\n\nUsage: ${USAGE}`,
    );
  }
  if (
    flags.gateway !== undefined &&
    !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(flags.gateway)
  ) {
    throw new PortcullisError(
      'PCL_CLI_BAD_VALUE',
      `--gateway "${flags.gateway}": expected NAMESPACE/NAME of the egress Gateway`,
    );
  }
  const snap = flags.config !== undefined ? await loadSnapshot(flags.config, flags.settings, io) : null;
  const edges = logs.length > 0 ? edgesFromLogs(logs) : await edgesFromAdmin(flags.admin!);

  // The Gateway for unknown destinations: --gateway, else the one egress Gateway --config serves, else the one
  // Gateway the observed flows went through.
  const served =
    snap
      ?.servedGateways()
      .filter((g) => g.mode === 'egress')
      .map((g) => g.ref) ?? [];
  const seen = [...new Set(edges.map((e) => e.gateway).filter((g): g is string => g !== null))].sort();
  const defaultGateway = flags.gateway ?? (served.length === 1 ? served[0] : seen.length === 1 ? seen[0] : null);
  if (defaultGateway === null && edges.some((e) => e.gateway === null)) {
    throw new PortcullisError(
      'PCL_CLI_USAGE',
      `portcullis suggest: some observed hosts have no ServiceEntry yet, and the Gateway to bind them to is ambiguous ` +
        `(${seen.join(', ') || 'none observed'}): pass --gateway NS/NAME\n\nUsage: ${USAGE}`,
    );
  }
  // The same private-address guard the gateway runs, with the gateway's own exceptions when --config names them.
  const allowedPrivateCidrs = snap?.settings.allowedPrivateCidrs ?? [];
  const guard = compileAddressGuard({ allowedPrivateCidrs, listeners: [], localAddresses: [] });
  const suggestion = suggestPolicy(edges, {
    defaultGateway: defaultGateway ?? 'istio-system/ztunnel-egress',
    includeDenied: flags['include-denied'] === true,
    privateAddress: (ip) => {
      const v = guard.check(ip);
      return v.ok ? null : v.reason;
    },
  });
  if (flags.out !== undefined) writeFileSync(flags.out, suggestion.yaml);
  else io.stdout.write(suggestion.yaml);
  if (flags.cases !== undefined) writeFileSync(flags.cases, suggestion.casesYaml);
  io.stderr.write(
    `portcullis suggest: ${edges.length} observed flow(s): ${suggestion.serviceEntries} ServiceEntry(s), ${suggestion.policies} ` +
      `AuthorizationPolicy(s), ${suggestion.cases.length} check case(s); ${suggestion.notAllowed.length} flow(s) not allowed\n`,
  );
  for (const n of suggestion.notAllowed)
    io.stderr.write(`  not allowed (PCL_SUGGEST_NOT_ALLOWED): ${n.source} -> ${n.destination}: ${n.reason}\n`);
  return 0;
}
