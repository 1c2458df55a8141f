/** `portcullis ca init|issue`: the development CA on the command line. */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { PortcullisError } from '../errors/catalogue.ts';
import { initCa, issueClientCert, issueServerCert, issueWorkloadCert, loadCa, writeIssued, type IssuedCertificate } from './ca.ts';
import { parseIdentityArg } from './spiffe-id.ts';
import { formatTtl, parseTtl } from './ttl.ts';

export interface CliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

const USAGE = `Usage:
  portcullis ca init  --dir D [--trust-domain T] [--ttl-days N] [--force]
  portcullis ca issue --dir D (--spiffe ID | --subject "CN=..." | --dns NAME... | --ip ADDR...) --out O [--ttl 24h] [--trust-domain T]

  init   writes a development root CA in Istio's cacerts layout (root-cert.pem, ca-cert.pem, ca-key.pem, cert-chain.pem).
  issue  signs a certificate with the CA in --dir (any Istio cacerts folder) and writes cert-chain.pem, key.pem,
         root-cert.pem to --out.
           --spiffe   a workload certificate with a SPIFFE URI SAN: spiffe://<td>/ns/<ns>/sa/<sa>, or <ns>/<sa>
                      completed with --trust-domain (default cluster.local)
           --subject  a plain client certificate, e.g. --subject "CN=team-namespace.app1"
           --dns/--ip a TLS server certificate (repeatable)
`;

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

class UsageError extends Error {}

function parse<const T extends Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean' as const, short: 'h' } }, strict: true, allowPositionals: false });
  } catch (err) {
    // node's messages name the flag ("Unknown option '--foo'"); keep them, drop node's advice about `--`.
    const message = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(message);
  }
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`${flag} is required`);
  return value;
}

async function runInit(argv: string[], io: CliIo): Promise<number> {
  const { values } = parse(argv, {
    dir: { type: 'string' },
    'trust-domain': { type: 'string' },
    'ttl-days': { type: 'string' },
    force: { type: 'boolean' },
  });
  if (values.help) {
    io.stdout.write(USAGE);
    return EXIT_OK;
  }
  const dir = resolve(required(values.dir, '--dir'));
  const trustDomain = values['trust-domain'] ?? 'cluster.local';
  let ttlDays: number | undefined;
  if (values['ttl-days'] !== undefined) {
    ttlDays = Number(values['ttl-days']);
    if (!Number.isInteger(ttlDays) || ttlDays <= 0) throw new UsageError(`--ttl-days must be a positive whole number, got "${values['ttl-days']}"`);
  }
  const ca = await initCa(dir, { trustDomain, ttlDays, force: values.force ?? false });
  io.stdout.write(`CA for trust domain ${trustDomain} written to ${dir} (valid until ${ca.notAfter.toISOString()})\n`);
  return EXIT_OK;
}

async function runIssue(argv: string[], io: CliIo): Promise<number> {
  const { values } = parse(argv, {
    dir: { type: 'string' },
    out: { type: 'string' },
    spiffe: { type: 'string' },
    subject: { type: 'string' },
    dns: { type: 'string', multiple: true },
    ip: { type: 'string', multiple: true },
    ttl: { type: 'string' },
    'trust-domain': { type: 'string' },
  });
  if (values.help) {
    io.stdout.write(USAGE);
    return EXIT_OK;
  }
  const dirArg = required(values.dir, '--dir');
  const out = resolve(required(values.out, '--out'));
  const kinds = [values.spiffe !== undefined, values.subject !== undefined, (values.dns ?? []).length + (values.ip ?? []).length > 0];
  const chosen = kinds.filter(Boolean).length;
  if (chosen !== 1) {
    throw new UsageError(chosen === 0 ? 'one of --spiffe, --subject or --dns/--ip is required' : '--spiffe, --subject and --dns/--ip are mutually exclusive');
  }
  const ttlText = values.ttl ?? '24h';
  const ttl = parseTtl(ttlText);
  if (ttl === null) {
    throw new PortcullisError('PCL_IDENTITY_TTL_INVALID', `--ttl "${ttlText}" is not a positive duration such as 30m, 24h or 7d`);
  }
  let spiffe: string | undefined;
  if (values.spiffe !== undefined) {
    const parsed = parseIdentityArg(values.spiffe, values['trust-domain'] ?? 'cluster.local');
    if (!parsed.ok) throw new PortcullisError('PCL_IDENTITY_SPIFFE_INVALID', `--spiffe: ${parsed.reason}`);
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
  return EXIT_OK;
}

/**
 * Run `portcullis ca ...` with `argv` = the words after `ca`. Returns the exit code: 0 done, 2 for usage and
 * configuration errors (unknown flag, malformed SPIFFE ID, missing CA, existing CA), 1 for anything unexpected.
 */
export async function runCaCommand(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case 'init':
        return await runInit(rest, io);
      case 'issue':
        return await runIssue(rest, io);
      case '--help':
      case '-h':
      case 'help':
        io.stdout.write(USAGE);
        return EXIT_OK;
      default:
        throw new UsageError(sub === undefined ? 'missing subcommand (init or issue)' : `unknown subcommand "${sub}" (expected init or issue)`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`portcullis ca: ${err.message} [PCL_IDENTITY_CA_USAGE]\n\n${USAGE}`);
      return EXIT_USAGE;
    }
    if (err instanceof PortcullisError) {
      io.stderr.write(`portcullis ca: ${err.message} [${err.code}]\n`);
      return EXIT_USAGE;
    }
    io.stderr.write(`portcullis ca: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT_FAILURE;
  }
}
