/**
 * `portcullis serve`: run the HBONE egress gateway for every served Gateway in --config, until SIGTERM/SIGINT,
 * then drain and exit 0. Prints one line once ready (tests and scripts wait for it).
 */
import { createServer } from 'node:net';
import { ipFamily } from '../net/ip-syntax.ts';
import { PortcullisError } from '../errors/portcullis-error.ts';
import { assertSettingsValid, loadConfigDir } from '../config/load.ts';
import { startGateway, type HostPort } from '../gateway/gateway.ts';
import { dnsServerFlags } from './dns-server-flag.ts';
import { durationFlag, formatTtl } from '../identity/ttl.ts';
import { DEFAULT_GATEWAY_LIMITS } from '../config/settings-types.ts';
import { DEFAULT_HBONE_LIMITS } from '../hbone/settings.ts';
import { availableParallelism } from 'node:os';
import {
  runPrimary,
  serveAsWorker,
  stopSignal,
  WORKER_ADMIN_ENV,
  WORKER_ENV,
  WORKER_LISTEN_ENV,
} from '../gateway/workers.ts';
import { type FlagTable, HELP_FLAG, type Io, parseFlags } from './args.ts';
import { istiodFromFlags, ISTIOD_FLAG_OPTIONS, ISTIOD_USAGE } from './ca-flags.ts';
import { inPod } from '../identity/pod-identity.ts';
import { HEALTH_PORT } from '../gateway/health-server.ts';
import { DEV_CA_WARNING } from '../gateway/gateway-cert.ts';
import { CA_DIR_FLAG, CERT_FLAG, CONFIG_FLAG, KEY_FLAG, SETTINGS_FLAG, TRUST_BUNDLE_FLAG } from './common-flags.ts';
import { checkConfigPath } from './config-path.ts';
import { tuneGatewayHeap } from './gateway-heap.ts';
import { renderHelp } from './help.ts';
import { listenFailure } from './render-error.ts';
import { KUBE_SERVE_FLAG_ROWS } from './kube-flag-rows.ts';
import { chooseSource, KUBE_SERVE_USAGE } from '../kube/source-choice.ts';

const USAGE =
  'portcullis serve (--config PATH | --kube [--kubeconfig F]) (--ca-address HOST:PORT | --cert F --key F --trust-bundle F | --ca-dir D)\n' +
  '       [--settings F]\n' +
  `       ${ISTIOD_USAGE} [--gateway NS/NAME]... [--health 0.0.0.0:15021]\n` +
  '       [--listen 0.0.0.0:15008] [--admin 127.0.0.1:15000] [--dns-server IP[:PORT]]... [--drain-seconds N]\n' +
  '       [--idle-timeout 10m] [--max-tunnels N] [--log-file F] [--workers N (default: the number of cores)]\n' +
  KUBE_SERVE_USAGE;
const SUMMARY = 'run the HBONE egress gateway (control plane, data plane, admin port) until SIGTERM/SIGINT';

const FLAGS = {
  config: { ...CONFIG_FLAG, defaultText: 'none (required without --kube)' },
  ...KUBE_SERVE_FLAG_ROWS,
  'ca-dir': CA_DIR_FLAG,
  settings: SETTINGS_FLAG,
  listen: {
    type: 'string',
    value: 'IP:PORT',
    default: '0.0.0.0:15008',
    description: "the HBONE listener ztunnel connects to (port 0 picks a free one); '[::]:15008' for IPv6",
    example: '--listen 127.0.0.1:15008',
  },
  admin: {
    type: 'string',
    value: 'IP:PORT',
    default: '127.0.0.1:15000',
    description: 'the admin port: /ready, /healthz, /metrics (Prometheus), /config_dump',
    example: '--admin 127.0.0.1:15000',
  },
  'dns-server': {
    type: 'string',
    multiple: true,
    value: 'IP[:PORT]',
    defaultText: "the system's resolvers",
    description: 'a DNS server for resolving DNS-resolution ServiceEntry hosts ([v6]:PORT for IPv6)',
    example: '--dns-server 127.0.0.1:5353',
  },
  'drain-seconds': {
    type: 'string',
    value: 'N',
    default: '5',
    description: 'on SIGTERM, how long open tunnels may finish before they are closed (0 closes at once)',
    example: '--drain-seconds 30',
  },
  'idle-timeout': {
    type: 'string',
    value: 'DURATION',
    defaultText: `${formatTtl(DEFAULT_GATEWAY_LIMITS.tcpIdleTimeoutMs)} (limits.tcpIdleTimeout in portcullis.yaml)`,
    description: 'close a tunnel that has carried no bytes in either direction for this long',
    example: '--idle-timeout 30m',
  },
  'max-tunnels': {
    type: 'string',
    value: 'N',
    defaultText: String(DEFAULT_HBONE_LIMITS.maxTunnels),
    description: 'the most tunnels one worker carries at once; more are refused with 503 PCL_HBONE_TOO_MANY_TUNNELS',
    example: '--max-tunnels 20000',
  },
  'log-file': {
    type: 'string',
    value: 'FILE',
    defaultText: 'stdout',
    description: 'write the access log (pino JSON, one line per tunnel or request) to this file, appending',
    example: '--log-file /var/log/portcullis/access.log',
  },
  workers: {
    type: 'string',
    value: 'N',
    defaultText: 'the number of cores',
    description: 'worker processes sharing the HBONE port (SO_REUSEPORT); 1 runs everything in one process',
    example: '--workers 2',
  },
  cert: CERT_FLAG,
  key: KEY_FLAG,
  'trust-bundle': TRUST_BUNDLE_FLAG,
  ...ISTIOD_FLAG_OPTIONS,
  gateway: {
    type: 'string',
    multiple: true,
    value: 'NS/NAME',
    defaultText: 'every Gateway of a served class',
    description:
      'a Gateway whose pods this process is (repeatable); the start fails when the certificate cannot name it',
    example: '--gateway istio-egress/egress-gateway',
  },
  health: {
    type: 'string',
    value: 'IP:PORT',
    defaultText: '0.0.0.0:15021 in a pod; otherwise off',
    description: "the kubelet's health port (/healthz/ready, /healthz/live only); the admin port stays on loopback",
    example: '--health 0.0.0.0:15021',
  },
  help: HELP_FLAG,
} as const satisfies FlagTable;

/** Seconds past the drain after which a stopping gateway exits whatever is still open. */
const SHUTDOWN_GRACE_SECONDS = 5;

/** Parse `host:port` / `[v6]:port` (port 0 = any free port). */
function parseHostPort(flag: string, text: string): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = m ? (m[1] ?? m[2]) : '';
  const port = m ? Number(m[3]) : -1;
  if (
    !m ||
    port > 65535 ||
    (m[1] !== undefined && ipFamily(host) !== 6) ||
    (m[2] !== undefined && ipFamily(host) === 0 && host !== 'localhost')
  ) {
    throw new PortcullisError(
      'PCL_CLI_BAD_VALUE',
      `--${flag} "${text}": expected IP:PORT, e.g. 0.0.0.0:15008 or [::]:15008`,
      { where: `--${flag}` },
    );
  }
  return { host, port };
}

function positiveInt(flag: string, text: string | undefined, allowZero = false): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || (!allowZero && Number(text) === 0)) {
    throw new PortcullisError(
      'PCL_CLI_BAD_VALUE',
      `--${flag} "${text}": expected a ${allowZero ? 'non-negative' : 'positive'} whole number`,
    );
  }
  return Number(text);
}

/** Which flag chose the address a listen error names. */
function hostPortFlag(err: unknown, listen: HostPort, admin: HostPort): string | undefined {
  const port = (err as { port?: number }).port;
  return port === listen.port ? '--listen' : port === admin.port ? '--admin' : undefined;
}

/** Bind and release `addr` (exclusively), throwing the listen failure named after `flag`. */
async function probeListen(addr: HostPort, flag: string): Promise<void> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(listenFailure(err, flag) ?? err));
    server.listen({ host: addr.host, port: addr.port, exclusive: true }, () => server.close(() => resolve()));
  });
}

export async function run(argv: string[], io: Io): Promise<number> {
  const flags = parseFlags('serve', USAGE, argv, FLAGS);
  if (flags.help) {
    io.stdout.write(
      renderHelp(
        'serve',
        SUMMARY,
        USAGE,
        FLAGS,
        'Prints one line on stderr once ready. Exit codes: 0 stopped by a signal, 1 a failure, 2 bad input.',
      ),
    );
    return 0;
  }
  tuneGatewayHeap();
  const kube = chooseSource('serve', USAGE, flags);
  const configDir = flags.config ?? '';
  if (!kube) checkConfigPath(configDir, flags.settings, io);
  const certFlags = [flags.cert, flags.key, flags['trust-bundle']];
  const someCert = certFlags.some((f) => f !== undefined);
  if (someCert && certFlags.some((f) => f === undefined)) {
    throw new PortcullisError('PCL_CLI_USAGE', 'portcullis serve: --cert, --key and --trust-bundle go together', {
      where: certFlags[0] === undefined ? '--cert' : certFlags[1] === undefined ? '--key' : '--trust-bundle',
      hint: 'give all three (the chain, its key and the mesh root), or use --ca-dir instead',
    });
  }
  if (someCert && flags['ca-dir'] !== undefined) {
    throw new PortcullisError(
      'PCL_CLI_USAGE',
      'portcullis serve: give one certificate source: --cert/--key/--trust-bundle or --ca-dir, not both',
      {
        where: '--ca-dir',
        hint: 'keep --cert, --key and --trust-bundle (files), or --ca-dir (a development CA), not both',
      },
    );
  }
  const istiod = istiodFromFlags(
    'serve',
    flags,
    someCert ? '--cert' : flags['ca-dir'] !== undefined ? '--ca-dir' : null,
    process.env,
  );
  if (!someCert && flags['ca-dir'] === undefined && istiod === undefined) {
    throw new PortcullisError(
      'PCL_CLI_USAGE',
      'portcullis serve: a certificate source is required: --ca-address (istiod; the default in a pod), --cert, --key and ' +
        `--trust-bundle, or --ca-dir (development)\n\nUsage: ${USAGE}`,
    );
  }
  if (flags.identity !== undefined && istiod === undefined) {
    throw new PortcullisError(
      'PCL_CLI_USAGE',
      `portcullis serve: --identity goes with --ca-address (with --cert the identity is the certificate's)\n\nUsage: ${USAGE}`,
    );
  }
  const gateways = flags.gateway ?? [];
  for (const g of gateways) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(g)) {
      throw new PortcullisError(
        'PCL_CLI_BAD_VALUE',
        `--gateway "${g}": expected NAMESPACE/NAME, e.g. egress/portcullis`,
      );
    }
  }
  if (gateways.length > 0 && !someCert && istiod === undefined) {
    throw new PortcullisError(
      'PCL_CLI_USAGE',
      `portcullis serve: --gateway names the Gateways of one identity: it goes with --ca-address or --cert, not --ca-dir\n\nUsage: ${USAGE}`,
    );
  }
  // The kubelet probes the pod's IP: in a pod the health port is on by default, elsewhere only when asked.
  const health =
    flags.health !== undefined
      ? parseHostPort('health', flags.health)
      : inPod(process.env)
        ? { host: '0.0.0.0', port: HEALTH_PORT }
        : null;
  const dnsServers = dnsServerFlags(flags['dns-server']);
  const idleTimeoutMs = durationFlag('idle-timeout', flags['idle-timeout'], 'a duration such as 30m or 1h');
  const drainSeconds = positiveInt('drain-seconds', flags['drain-seconds'], true) ?? 5;

  const listen = parseHostPort('listen', flags.listen);
  const admin = parseHostPort('admin', flags.admin);
  const workers = positiveInt('workers', flags.workers) ?? availableParallelism();
  const isWorker = process.env[WORKER_ENV] === '1';
  const devCa = flags['ca-dir'] !== undefined && !someCert && istiod === undefined;
  if (devCa && !isWorker) io.stderr.write(`portcullis serve: warning: PCL_IDENTITY_DEV_CA_KEY: ${DEV_CA_WARNING}\n`);
  if (workers > 1 && !isWorker) {
    // Invalid settings refuse the start here, before any worker is forked (exit 2 with file:line).
    if (!kube) assertSettingsValid(await loadConfigDir(configDir, { settingsFile: flags.settings, env: process.env }));
    // Try both addresses first, so a busy port is one clear error from here rather than one per worker.
    await probeListen(listen, '--listen');
    if (admin.port !== 0) await probeListen(admin, '--admin');
    const readyNote = devCa ? `warning: PCL_IDENTITY_DEV_CA_KEY: ${DEV_CA_WARNING}` : undefined;
    return runPrimary({
      workers,
      listen,
      admin,
      health,
      readyNote,
      drainMs: drainSeconds * 1000,
      out: io.stderr,
      err: io.stderr,
    });
  }
  const gateway = await startGateway({
    configDir: kube ? undefined : configDir,
    source: kube
      ? (await import('../kube/kube-flags.ts')).kubeServeSource(flags, process.env, (line) =>
          io.stderr.write(`portcullis serve: ${line}\n`),
        )
      : undefined,
    settingsFile: flags.settings,
    caDir: someCert || istiod !== undefined ? undefined : flags['ca-dir'],
    istiod,
    gateways,
    health: isWorker ? null : health,
    certFiles: someCert ? { cert: flags.cert!, key: flags.key!, trustBundle: flags['trust-bundle']! } : undefined,
    // A worker binds the address its primary chose, with SO_REUSEPORT; the primary owns the admin port.
    listen: isWorker ? parseHostPort('listen', process.env[WORKER_LISTEN_ENV] ?? '') : listen,
    admin: isWorker ? null : admin,
    reusePort: isWorker,
    ownSockets:
      isWorker && process.env[WORKER_ADMIN_ENV] ? [parseHostPort('admin', process.env[WORKER_ADMIN_ENV]!)] : [],
    dnsServers,
    drainMs: drainSeconds * 1000,
    idleTimeoutMs,
    maxTunnels: positiveInt('max-tunnels', flags['max-tunnels']),
    log: flags['log-file'],
    env: process.env,
  }).catch((err: unknown) => {
    throw listenFailure(err, isWorker ? undefined : hostPortFlag(err, listen, admin)) ?? err;
  });
  if (isWorker)
    serveAsWorker(
      gateway.registry,
      gateway.snapshot,
      gateway.hboneAddress,
      gateway.identityProblem,
      { instance: gateway.instance, startedMs: gateway.startedMs },
      gateway.degraded,
    );
  else
    io.stderr.write(
      `portcullis serve: listening on ${gateway.hboneAddress} (HBONE), admin on ${gateway.adminAddress}\n`,
    );

  await stopSignal();
  // SIGTERM is always prompt: whatever outlives the drain (a watch reconnecting, a timer a part forgot to clear)
  // cannot keep the process, as kubelet would otherwise wait for its own kill.
  let closed = false;
  const deadline = setTimeout(
    () => {
      io.stderr.write(
        closed
          ? `portcullis serve: stopped; a leftover handle held the process (${process.getActiveResourcesInfo().join(', ')}): exiting\n`
          : `portcullis serve: shutdown did not finish within ${drainSeconds + SHUTDOWN_GRACE_SECONDS} s: exiting\n`,
      );
      process.exit(closed ? 0 : 1);
    },
    (drainSeconds + SHUTDOWN_GRACE_SECONDS) * 1000,
  );
  deadline.unref();
  await gateway.close();
  closed = true;
  // A worker's IPC channel to its primary keeps it alive: let go of it so the process can exit.
  if (isWorker) process.disconnect?.();
  return 0;
}
