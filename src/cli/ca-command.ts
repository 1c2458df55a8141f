/** `portcullis ca init|issue`: the development CA on the command line. */
import { resolve } from 'node:path';
import { PortcullisError } from '../errors/portcullis-error.ts';
import {
  initCa,
  issueClientCert,
  issueServerCert,
  issueWorkloadCert,
  loadCa,
  writeIssued,
  type IssuedCertificate,
} from '../identity/ca.ts';
import { parseIdentityArg } from '../identity/spiffe-id.ts';
import { formatTtl, parseTtl } from '../identity/ttl.ts';
import { badValue, type FlagTable, HELP_FLAG, type Io, parseFlags, required } from './args.ts';
import { renderHelp } from './help.ts';

const INIT_USAGE = 'portcullis ca init --dir DIR [--trust-domain T] [--ttl-days N] [--force]';
const ISSUE_USAGE =
  'portcullis ca issue --dir DIR (--spiffe ID | --subject "CN=..." | --dns NAME... | --ip ADDR...) --out DIR [--ttl 24h] [--trust-domain T]';

const HELP = `portcullis ca: run a development CA

Usage:
  ${INIT_USAGE}
  ${ISSUE_USAGE}

  init   writes a development root CA in Istio's cacerts layout (root-cert.pem, ca-cert.pem, ca-key.pem, cert-chain.pem).
  issue  signs a certificate with the CA in --dir (any Istio cacerts folder) and writes cert-chain.pem, key.pem,
         root-cert.pem to --out.

Run 'portcullis ca init --help' or 'portcullis ca issue --help' for every flag.
`;

const TRUST_DOMAIN = {
  type: 'string',
  value: 'DOMAIN',
  default: 'cluster.local',
  description: "the SPIFFE trust domain (Istio's meshConfig.trustDomain)",
  example: '--trust-domain example.org',
} as const;

const INIT_FLAGS = {
  dir: {
    type: 'string',
    value: 'DIR',
    defaultText: 'none (required)',
    description: "the folder to write the CA into (Istio's cacerts layout)",
    example: '--dir .portcullis/ca',
  },
  'trust-domain': TRUST_DOMAIN,
  'ttl-days': {
    type: 'string',
    value: 'N',
    defaultText: "the CA's own default (10 years)",
    description: "the root certificate's lifetime in days",
    example: '--ttl-days 365',
  },
  force: {
    type: 'boolean',
    description: 'overwrite a CA already in --dir (every certificate it issued stops being trusted)',
    example: '--force',
  },
  help: HELP_FLAG,
} as const satisfies FlagTable;

const ISSUE_FLAGS = {
  dir: {
    type: 'string',
    value: 'DIR',
    defaultText: 'none (required)',
    description: "the CA to sign with: a folder in Istio's cacerts layout",
    example: '--dir .portcullis/ca',
  },
  out: {
    type: 'string',
    value: 'DIR',
    defaultText: 'none (required)',
    description: 'the folder to write cert-chain.pem, key.pem and root-cert.pem into',
    example: '--out .portcullis/productpage',
  },
  spiffe: {
    type: 'string',
    value: 'ID',
    defaultText: 'none',
    description:
      'a workload certificate with a SPIFFE URI SAN: spiffe://<td>/ns/<ns>/sa/<sa>, or <ns>/<sa> in --trust-domain',
    example: '--spiffe bookinfo/bookinfo-productpage',
  },
  subject: {
    type: 'string',
    value: 'DN',
    defaultText: 'none',
    description: 'a plain client certificate with this subject',
    example: '--subject CN=team-namespace.app1',
  },
  dns: {
    type: 'string',
    multiple: true,
    value: 'NAME',
    defaultText: 'none',
    description: 'a TLS server certificate for this DNS name',
    example: '--dns httpbin.org',
  },
  ip: {
    type: 'string',
    multiple: true,
    value: 'ADDR',
    defaultText: 'none',
    description: 'a TLS server certificate for this IP address',
    example: '--ip 127.0.0.1',
  },
  ttl: {
    type: 'string',
    value: 'DURATION',
    default: '24h',
    description: "the certificate's lifetime",
    example: '--ttl 2h',
  },
  'trust-domain': TRUST_DOMAIN,
  help: HELP_FLAG,
} as const satisfies FlagTable;

async function runInit(argv: string[], io: Io): Promise<number> {
  const values = parseFlags('ca init', INIT_USAGE, argv, INIT_FLAGS);
  if (values.help) {
    io.stdout.write(renderHelp('ca init', 'write a development root CA', INIT_USAGE, INIT_FLAGS));
    return 0;
  }
  const dir = resolve(required('ca init', INIT_USAGE, 'dir', values.dir));
  let ttlDays: number | undefined;
  if (values['ttl-days'] !== undefined) {
    ttlDays = Number(values['ttl-days']);
    if (!Number.isInteger(ttlDays) || ttlDays <= 0)
      throw badValue('ca init', 'ttl-days', `--ttl-days must be a positive whole number, got "${values['ttl-days']}"`);
  }
  try {
    const ca = await initCa(dir, { trustDomain: values['trust-domain'], ttlDays, force: values.force ?? false });
    io.stdout.write(
      `CA for trust domain ${values['trust-domain']} written to ${dir} (valid until ${ca.notAfter.toISOString()})\n`,
    );
  } catch (err) {
    if (err instanceof PortcullisError && err.code === 'PCL_IDENTITY_CA_EXISTS') {
      throw new PortcullisError(err.code, err.message, {
        where: '--dir',
        hint: `keep using it, or add --force to replace it (certificates it issued stop being trusted): portcullis ca init --dir ${values.dir} --force`,
        cause: err,
      });
    }
    throw err;
  }
  return 0;
}

async function runIssue(argv: string[], io: Io): Promise<number> {
  const values = parseFlags('ca issue', ISSUE_USAGE, argv, ISSUE_FLAGS);
  if (values.help) {
    io.stdout.write(
      renderHelp('ca issue', 'sign a workload, client or server certificate with a CA', ISSUE_USAGE, ISSUE_FLAGS),
    );
    return 0;
  }
  const dirArg = required('ca issue', ISSUE_USAGE, 'dir', values.dir);
  const out = resolve(required('ca issue', ISSUE_USAGE, 'out', values.out));
  const kinds = [
    values.spiffe !== undefined,
    values.subject !== undefined,
    (values.dns ?? []).length + (values.ip ?? []).length > 0,
  ];
  const chosen = kinds.filter(Boolean).length;
  if (chosen !== 1) {
    throw new PortcullisError(
      'PCL_IDENTITY_CA_USAGE',
      chosen === 0
        ? 'one of --spiffe, --subject or --dns/--ip is required'
        : '--spiffe, --subject and --dns/--ip are mutually exclusive',
      { where: '--spiffe', hint: 'give exactly one kind, e.g. --spiffe bookinfo/bookinfo-productpage' },
    );
  }
  const ttl = parseTtl(values.ttl);
  if (ttl === null) {
    throw new PortcullisError(
      'PCL_IDENTITY_TTL_INVALID',
      `--ttl "${values.ttl}" is not a positive duration such as 30m, 24h or 7d`,
      {
        where: '--ttl',
        hint: 'for example --ttl 2h',
      },
    );
  }
  let spiffe: string | undefined;
  if (values.spiffe !== undefined) {
    const parsed = parseIdentityArg(values.spiffe, values['trust-domain']);
    if (!parsed.ok)
      throw new PortcullisError('PCL_IDENTITY_SPIFFE_INVALID', `--spiffe: ${parsed.reason}`, { where: '--spiffe' });
    spiffe = parsed.id.uri;
  }
  const ca = await loadCa(resolve(dirArg));
  let issued: IssuedCertificate;
  let what: string;
  if (spiffe !== undefined) {
    issued = await issueWorkloadCert(ca, { spiffe, ttl });
    what = spiffe;
  } else if (values.subject !== undefined) {
    issued = await issueClientCert(ca, { subject: values.subject, ttl });
    what = values.subject;
  } else {
    issued = await issueServerCert(ca, { dnsNames: values.dns ?? [], ipAddresses: values.ip ?? [], ttl });
    what = [...(values.dns ?? []), ...(values.ip ?? [])].join(', ');
  }
  await writeIssued(out, issued);
  io.stdout.write(`certificate for ${what} (ttl ${formatTtl(ttl)}) written to ${out}\n`);
  return 0;
}

/**
 * Run `portcullis ca ...` with `argv` = the words after `ca`. Returns the exit code; refusals are thrown as
 * PortcullisError for the one error renderer (exit 2).
 */
export async function run(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'init':
      return runInit(rest, io);
    case 'issue':
      return runIssue(rest, io);
    case '--help':
    case '-h':
    case 'help':
      io.stdout.write(HELP);
      return 0;
    default:
      throw new PortcullisError(
        'PCL_IDENTITY_CA_USAGE',
        sub === undefined
          ? 'missing subcommand (init or issue)'
          : `unknown subcommand "${sub}" (expected init or issue)`,
        { where: sub ?? 'ca', hint: "run 'portcullis ca --help'" },
      );
  }
}
