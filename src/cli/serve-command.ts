/**
 * `portcullis serve`: run the HBONE egress gateway for every served Gateway in --config, until SIGTERM/SIGINT,
 * then drain and exit 0. Prints one line once ready (tests and scripts wait for it).
 */
import { statSync } from 'node:fs';
import { isIP } from 'node:net';
import { PortcullisError } from '../errors/catalogue.ts';
import { startGateway, type HostPort } from '../gateway/gateway.ts';
import { parseDnsServer } from '../dataplane/resolver.ts';
import { parseTtl } from '../identity/ttl.ts';
import { availableParallelism } from 'node:os';
import { runPrimary, serveAsWorker, stopSignal, WORKER_ADMIN_ENV, WORKER_ENV, WORKER_LISTEN_ENV } from '../gateway/workers.ts';
import { type Io, parseFlags } from './args.ts';
import { chooseSource, KUBE_SERVE_FLAGS, KUBE_SERVE_USAGE, kubeServeSource } from '../kube/kube-flags.ts';

const USAGE =
  'portcullis serve (--config DIR | --kube [--kubeconfig F]) (--ca-dir D | --cert F --key F --trust-bundle F) [--settings F]\n' +
  '       [--listen 0.0.0.0:15008] [--admin 127.0.0.1:15000] [--dns-server IP[:PORT]]... [--drain-seconds N]\n' +
  '       [--idle-timeout 1h] [--max-tunnels N] [--log-file F] [--workers N (default: the number of cores)]\n' +
  KUBE_SERVE_USAGE;

/** Parse `host:port` / `[v6]:port` (port 0 = any free port). */
export function parseHostPort(flag: string, text: string): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = m ? (m[1] ?? m[2]) : '';
  const port = m ? Number(m[3]) : -1;
  if (!m || port > 65535 || (m[1] !== undefined && isIP(host) !== 6) || (m[2] !== undefined && isIP(host) === 0 && host !== 'localhost')) {
    throw new PortcullisError('PCL_CLI_BAD_VALUE', `--${flag} "${text}": expected IP:PORT, e.g. 0.0.0.0:15008 or [::]:15008`);
  }
  return { host, port };
}

function positiveInt(flag: string, text: string | undefined, allowZero = false): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || (!allowZero && Number(text) === 0)) {
    throw new PortcullisError('PCL_CLI_BAD_VALUE', `--${flag} "${text}": expected a ${allowZero ? 'non-negative' : 'positive'} whole number`);
  }
  return Number(text);
}

export async function run(argv: string[], io: Io): Promise<number> {
  const flags = parseFlags('serve', USAGE, argv, {
    config: { type: 'string' },
    'ca-dir': { type: 'string' },
    settings: { type: 'string' },
    listen: { type: 'string', default: '0.0.0.0:15008' },
    admin: { type: 'string', default: '127.0.0.1:15000' },
    'dns-server': { type: 'string', multiple: true },
    'drain-seconds': { type: 'string' },
    'idle-timeout': { type: 'string' },
    'max-tunnels': { type: 'string' },
    'log-file': { type: 'string' },
    workers: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    'trust-bundle': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    ...KUBE_SERVE_FLAGS,
  });
  if (flags.help) {
    io.stdout.write(`Usage: ${USAGE}\n`);
    return 0;
  }
  const kube = chooseSource('serve', USAGE, flags);
  const configDir = flags.config;
  let isDir = kube;
  try {
    isDir ||= statSync(configDir!).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw new PortcullisError('PCL_CLI_CONFIG_MISSING', `--config ${configDir}: no such folder`);
  const certFlags = [flags.cert, flags.key, flags['trust-bundle']];
  const someCert = certFlags.some((f) => f !== undefined);
  if (someCert && certFlags.some((f) => f === undefined)) {
    throw new PortcullisError('PCL_CLI_USAGE', `portcullis serve: --cert, --key and --trust-bundle go together\n\nUsage: ${USAGE}`);
  }
  if (!someCert && flags['ca-dir'] === undefined) {
    throw new PortcullisError('PCL_CLI_USAGE', `portcullis serve: --ca-dir (or --cert, --key and --trust-bundle) is required\n\nUsage: ${USAGE}`);
  }
  const dnsServers = (flags['dns-server'] ?? []).map((s) => {
    const parsed = parseDnsServer(s);
    if (parsed === null) throw new PortcullisError('PCL_CLI_BAD_VALUE', `--dns-server "${s}": expected IP or IP:PORT ([v6]:PORT for IPv6)`);
    return parsed;
  });
  let idleTimeoutMs: number | undefined;
  if (flags['idle-timeout'] !== undefined) {
    const ms = parseTtl(flags['idle-timeout']);
    if (ms === null) throw new PortcullisError('PCL_CLI_BAD_VALUE', `--idle-timeout "${flags['idle-timeout']}": expected a duration such as 30m or 1h`);
    idleTimeoutMs = ms;
  }
  const drainSeconds = positiveInt('drain-seconds', flags['drain-seconds'], true) ?? 5;

  const listen = parseHostPort('listen', flags.listen ?? '0.0.0.0:15008');
  const admin = parseHostPort('admin', flags.admin ?? '127.0.0.1:15000');
  const workers = positiveInt('workers', flags.workers) ?? availableParallelism();
  const isWorker = process.env[WORKER_ENV] === '1';
  if (workers > 1 && !isWorker) {
    return runPrimary({ workers, listen, admin, drainMs: drainSeconds * 1000, out: io.stdout, err: io.stderr });
  }
  const gateway = await startGateway({
    configDir: kube ? undefined : configDir,
    source: kube ? kubeServeSource(flags, process.env, (line) => io.stderr.write(`portcullis serve: ${line}\n`)) : undefined,
    settingsFile: flags.settings,
    caDir: someCert ? undefined : flags['ca-dir'],
    certFiles: someCert ? { cert: flags.cert!, key: flags.key!, trustBundle: flags['trust-bundle']! } : undefined,
    // A worker binds the address its primary chose, with SO_REUSEPORT; the primary owns the admin port.
    listen: isWorker ? parseHostPort('listen', process.env[WORKER_LISTEN_ENV] ?? '') : listen,
    admin: isWorker ? null : admin,
    reusePort: isWorker,
    ownSockets: isWorker && process.env[WORKER_ADMIN_ENV] ? [parseHostPort('admin', process.env[WORKER_ADMIN_ENV]!)] : [],
    dnsServers,
    drainMs: drainSeconds * 1000,
    idleTimeoutMs,
    maxTunnels: positiveInt('max-tunnels', flags['max-tunnels']),
    log: flags['log-file'],
    env: process.env,
  });
  if (isWorker) serveAsWorker(gateway.registry, gateway.snapshot, gateway.hboneAddress);
  else io.stdout.write(`portcullis serve: listening on ${gateway.hboneAddress} (HBONE), admin on ${gateway.adminAddress}\n`);

  await stopSignal();
  await gateway.close();
  // A worker's IPC channel to its primary keeps it alive: let go of it so the process can exit.
  if (isWorker) process.disconnect?.();
  return 0;
}
