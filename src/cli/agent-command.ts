/**
 * `portcullis agent`: carry workloads' outbound traffic to the egress gateway over HBONE with their SPIFFE
 * certificates, as ztunnel does inside a cluster. Runs until SIGINT/SIGTERM (or `signal` aborts).
 */
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { startAgent, defaultAgentLogger, type AgentWorkload, type ForwardSpec } from '../agent/agent.ts';
import { parseForward, parseListenAddress, parseWorkloads } from '../agent/agent-flags.ts';
import { issueIdentity, type IssuedIdentity } from '../agent/issued-identity.ts';
import type { ListenAddress } from '../agent/listeners.ts';
import { ConfigSource } from '../config/config-source.ts';
import { PortcullisError } from '../errors/portcullis-error.ts';
import { messageOf } from '../errors/message-of.ts';
import { parseAuthority } from '../net/authority.ts';
import { loadCa } from '../identity/ca.ts';
import { FileCertificateSource } from '../identity/cert-store.ts';
import { spiffeIdentities } from '../identity/peer-identity.ts';
import { parseIdentityArg } from '../identity/spiffe-id.ts';
import { compileSnapshot } from '../mesh/compile.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import { durationFlag } from '../identity/ttl.ts';
import { badValue, type FlagTable, HELP_FLAG, type Io, parseFlags, required } from './args.ts';
import { istiodFromFlags, ISTIOD_FLAG_OPTIONS } from './ca-flags.ts';
import { startIstiodIdentity, type IstiodIdentity } from '../identity/istiod-identity.ts';
import { CA_DIR_FLAG, CERT_FLAG, CONFIG_FLAG, KEY_FLAG, SETTINGS_FLAG, TRUST_BUNDLE_FLAG } from './common-flags.ts';
import { checkConfigPath } from './config-path.ts';
import { renderHelp } from './help.ts';
import { listenFailure } from './render-error.ts';

const USAGE = `portcullis agent --gateway HOST:PORT --config PATH
         (--ca-address HOST:PORT [--ca-root-cert F] [--ca-token-file F] [--cert-ttl 24h] [--identity NS/SA]
          | --cert FILE --key FILE --trust-bundle FILE | --ca-dir DIR (--spiffe ID | --workloads FILE))
         [--listen 127.0.0.1:15001] [--forward LOCAL_ADDR=HOST:PORT]... [--settings FILE] [--log-level info]
         [--handshake-timeout 10s]`;
const SUMMARY =
  "carry a workload's outbound traffic to the gateway over HBONE with its SPIFFE certificate (as ztunnel does)";

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const FLAGS = {
  gateway: {
    type: 'string',
    value: 'HOST:PORT',
    defaultText: 'none (required)',
    description: "the egress gateway's HBONE listener (port 15008 by convention)",
    example: '--gateway 127.0.0.1:15008',
  },
  config: {
    ...CONFIG_FLAG,
    description: `${CONFIG_FLAG.description}; the agent routes by the gateway's ServiceEntries (watched)`,
  },
  settings: SETTINGS_FLAG,
  'ca-dir': CA_DIR_FLAG,
  spiffe: {
    type: 'string',
    value: 'ID',
    defaultText: 'none',
    description: 'with --ca-dir: the workload identity, spiffe://<td>/ns/<ns>/sa/<sa> or <ns>/<sa>',
    example: '--spiffe bookinfo/bookinfo-productpage',
  },
  workloads: {
    type: 'string',
    value: 'FILE',
    defaultText: 'none',
    description:
      'with --ca-dir: a YAML list of {namespace, serviceAccount, listen, forward?}, one identity and proxy port each',
    example: '--workloads workloads.yaml',
  },
  cert: CERT_FLAG,
  key: KEY_FLAG,
  'trust-bundle': TRUST_BUNDLE_FLAG,
  ...ISTIOD_FLAG_OPTIONS,
  listen: {
    type: 'string',
    value: 'IP:PORT',
    default: '127.0.0.1:15001',
    description: 'the proxy port (HTTP CONNECT, absolute-form HTTP and SOCKS5 on one port) for --spiffe or --cert',
    example: '--listen 127.0.0.1:15001',
  },
  forward: {
    type: 'string',
    multiple: true,
    value: 'LOCAL_ADDR=HOST:PORT',
    defaultText: 'none',
    description: 'a plain TCP port that always tunnels to HOST:PORT',
    example: '--forward 127.0.0.1:5432=db.partner.example:5432',
  },
  'handshake-timeout': {
    type: 'string',
    value: 'DURATION',
    defaultText: '10s',
    description: 'how long a proxy-port client has, from connecting, to complete its SOCKS5 or HTTP request',
    example: '--handshake-timeout 30s',
  },
  'log-level': {
    type: 'string',
    default: 'info',
    choices: LOG_LEVELS,
    description: 'the least severe level written to the JSON log on stdout',
    example: '--log-level debug',
  },
  help: HELP_FLAG,
} as const satisfies FlagTable;

function bad(flag: string, message: string): PortcullisError {
  return badValue('agent', flag, message);
}

function usage(message: string, where: string, hint: string): PortcullisError {
  return new PortcullisError('PCL_CLI_USAGE', `portcullis agent: ${message}`, { where, hint });
}

export async function run(argv: string[], io: Io, signal?: AbortSignal): Promise<number> {
  const flags = parseFlags('agent', USAGE, argv, FLAGS);
  if (flags.help) {
    io.stdout.write(
      renderHelp(
        'agent',
        SUMMARY,
        USAGE,
        FLAGS,
        'Logs JSON lines on stdout; the ready lines ("listening on") go to stderr. Exit codes: 0 stopped by a signal, 1 a failure, 2 bad input.',
      ),
    );
    return 0;
  }

  // Everything about the command line is checked before anything is read or opened.
  const gatewayText = required('agent', USAGE, 'gateway', flags.gateway);
  const gw = parseAuthority(gatewayText);
  if (!gw.ok)
    throw bad(
      'gateway',
      `--gateway ${gw.reason.replace(/^malformed :authority /, '')} (expected HOST:PORT, e.g. 127.0.0.1:15008)`,
    );
  const configDir = required('agent', USAGE, 'config', flags.config);
  const caDir = flags['ca-dir'];
  const fileFlags = [flags.cert, flags.key, flags['trust-bundle']];
  const byFiles = fileFlags.some((f) => f !== undefined);
  if (caDir !== undefined && byFiles)
    throw usage(
      'give either --ca-dir or --cert/--key/--trust-bundle, not both',
      '--ca-dir',
      'drop --ca-dir to use the files, or drop --cert/--key/--trust-bundle',
    );
  const istiod = istiodFromFlags(
    'agent',
    flags,
    caDir !== undefined ? '--ca-dir' : byFiles ? '--cert' : null,
    process.env,
  );
  if (caDir === undefined && !byFiles && istiod === undefined) {
    throw usage(
      'an identity is required: --ca-address (istiod), --cert/--key/--trust-bundle, or --ca-dir with --spiffe or --workloads',
      '--ca-dir',
      'add --ca-dir .portcullis/ca --spiffe bookinfo/bookinfo-productpage (or --ca-address HOST:PORT for istiod)',
    );
  }
  if (flags.identity !== undefined && istiod === undefined) {
    throw usage(
      '--identity goes with --ca-address (with --ca-dir use --spiffe)',
      '--identity',
      'add --ca-address HOST:PORT, or use --spiffe with --ca-dir',
    );
  }
  if (istiod !== undefined && (flags.spiffe !== undefined || flags.workloads !== undefined)) {
    throw usage(
      "--spiffe and --workloads need --ca-dir (with --ca-address the identity is --identity or the pod's)",
      flags.spiffe !== undefined ? '--spiffe' : '--workloads',
      'use --identity NS/SA with --ca-address',
    );
  }
  if (byFiles && fileFlags.some((f) => f === undefined || f === '')) {
    throw usage(
      '--cert, --key and --trust-bundle go together',
      flags.cert === undefined ? '--cert' : flags.key === undefined ? '--key' : '--trust-bundle',
      'give all three: the chain, its key and the mesh root',
    );
  }
  if (byFiles && (flags.spiffe !== undefined || flags.workloads !== undefined)) {
    throw usage(
      "--spiffe and --workloads need --ca-dir (with --cert the identity is the certificate's)",
      flags.spiffe !== undefined ? '--spiffe' : '--workloads',
      'drop --spiffe/--workloads, or use --ca-dir instead of --cert',
    );
  }
  if (caDir !== undefined && flags.spiffe === undefined && flags.workloads === undefined) {
    throw usage(
      '--ca-dir needs --spiffe or --workloads',
      '--ca-dir',
      'add --spiffe bookinfo/bookinfo-productpage (or --workloads FILE)',
    );
  }
  const single = flags.spiffe !== undefined || byFiles || istiod !== undefined;
  if (!single && (argv.some((a) => /^--listen(=|$)/.test(a)) || flags.forward !== undefined)) {
    throw usage(
      '--listen and --forward belong to --spiffe or --cert; with --workloads, give each entry its own listen and forward',
      flags.forward !== undefined ? '--forward' : '--listen',
      'move the address into the --workloads file (listen: 127.0.0.1:15001, forward: [...])',
    );
  }
  let listen: ListenAddress | null = null;
  const forwards: ForwardSpec[] = [];
  if (single) {
    const l = parseListenAddress(flags.listen);
    if (!l.ok) throw bad('listen', `--listen ${l.reason}`);
    listen = l.value;
    for (const f of flags.forward ?? []) {
      const p = parseForward(f);
      if (!p.ok) throw bad('forward', `--forward ${p.reason}`);
      forwards.push(p.value);
    }
  }
  const handshakeTimeoutMs = durationFlag(
    'handshake-timeout',
    flags['handshake-timeout'],
    'a duration such as 10s or 1m',
    {
      fail: (message) => bad('handshake-timeout', message),
    },
  );
  checkConfigPath(configDir, flags.settings, io);
  const log = defaultAgentLogger(flags['log-level']);

  // The same manifests as the gateway, followed live; VIPs stay stable across reloads (compile's `previous`).
  const source = new ConfigSource({ dir: configDir, settingsFile: flags.settings, env: process.env });
  let snapshot: Snapshot = compileSnapshot(await source.start());
  const reportErrors = (snap: Snapshot): void => {
    const errors = snap.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0) {
      log.warn(
        {
          event: 'config-errors',
          count: errors.length,
          first: `${errors[0].file}:${errors[0].line}: ${errors[0].message}`,
        },
        `${errors.length} configuration error(s); run 'portcullis status' to see them`,
      );
    }
  };
  reportErrors(snapshot);
  source.onUpdate((load) => {
    snapshot = compileSnapshot(load, { previous: snapshot, generation: snapshot.generation + 1 });
    log.info({ event: 'config-reloaded', generation: snapshot.generation }, 'configuration reloaded');
    reportErrors(snapshot);
  });
  source.onError((err) =>
    log.error({ event: 'config-watch-error', err: err.message }, 'watching the configuration failed'),
  );

  const issued: IssuedIdentity[] = [];
  const fileSources: FileCertificateSource[] = [];
  let fromIstiod: IstiodIdentity | null = null;
  const cleanup = (): void => {
    source.close();
    fromIstiod?.close();
    for (const i of issued) i.stop();
    for (const f of fileSources) f.close();
  };
  try {
    const workloads: AgentWorkload[] = [];
    const trustDomain = snapshot.settings.trustDomain;
    if (istiod !== undefined) {
      const identity = await startIstiodIdentity(istiod, trustDomain, process.env);
      fromIstiod = identity;
      identity.source.on('error', (err: Error) =>
        log.error(
          { event: 'cert-renew-failed', err: err.message },
          'renewing the workload certificate from istiod failed; keeping the previous one',
        ),
      );
      identity.source.on('expired', (err: Error) =>
        log.error({ event: 'cert-expired', err: err.message }, 'the workload certificate expired without renewal'),
      );
      workloads.push({ identity: identity.id, certificates: identity.source, listen: [listen!], forwards });
    } else if (caDir !== undefined) {
      const ca = await loadCa(caDir);
      const onError = (err: Error): void =>
        log.error({ event: 'cert-renew-failed', err: err.message }, 'renewing a workload certificate failed');
      if (flags.spiffe !== undefined) {
        const id = parseIdentityArg(flags.spiffe, trustDomain);
        if (!id.ok) throw bad('spiffe', `--spiffe "${flags.spiffe}": ${id.reason}`);
        const identity = await issueIdentity(ca, id.id.uri, { onError });
        issued.push(identity);
        workloads.push({ identity: id.id.uri, certificates: identity.source, listen: [listen!], forwards });
      }
      if (flags.workloads !== undefined) {
        let text: string;
        try {
          text = await readFile(flags.workloads, 'utf8');
        } catch (err) {
          throw new PortcullisError('PCL_CLI_CONFIG_MISSING', `--workloads ${flags.workloads}: ${messageOf(err)}`, {
            where: '--workloads',
          });
        }
        const parsed = parseWorkloads(text, trustDomain);
        if (!parsed.ok) {
          throw new PortcullisError('PCL_AGENT_WORKLOADS_INVALID', `--workloads ${flags.workloads}: ${parsed.reason}`, {
            where: flags.workloads,
          });
        }
        for (const w of parsed.value) {
          if (workloads.some((x) => x.identity === w.identity))
            throw bad('workloads', `--workloads: ${w.identity} is also given with --spiffe`);
          const identity = await issueIdentity(ca, w.identity, { onError });
          issued.push(identity);
          workloads.push({
            identity: w.identity,
            certificates: identity.source,
            listen: [w.listen],
            forwards: w.forwards,
          });
        }
      }
    } else {
      const files = new FileCertificateSource({
        certChainFile: flags.cert!,
        keyFile: flags.key!,
        rootCertFile: flags['trust-bundle']!,
      });
      await files.start();
      fileSources.push(files);
      files.on('error', (err: Error) =>
        log.error(
          { event: 'cert-reload-failed', err: err.message },
          'reloading the certificate failed; keeping the previous one',
        ),
      );
      const leaf = new X509Certificate(files.current().certChainPem);
      const ids = spiffeIdentities(leaf.raw);
      if (ids.length === 0)
        throw bad(
          'cert',
          `--cert ${flags.cert}: the certificate has no SPIFFE URI SAN (spiffe://<td>/ns/<ns>/sa/<sa>)`,
        );
      workloads.push({ identity: ids[0].uri, certificates: files, listen: [listen!], forwards });
    }

    const agent = await startAgent({
      gateway: { host: gw.authority.host, port: gw.authority.port },
      snapshot: () => snapshot,
      workloads,
      logger: log,
      handshakeTimeoutMs,
    }).catch((err: unknown) => {
      // A busy or foreign address: name it with the flag (or file) that chose it.
      const port = (err as { port?: number }).port;
      const flag = !single
        ? `--workloads ${flags.workloads}`
        : forwards.some((f) => f.listen.port === port)
          ? '--forward'
          : '--listen';
      throw listenFailure(err, flag) ?? err;
    });
    for (const a of agent.addresses) {
      io.stderr.write(
        `portcullis agent: ${a.identity} listening on ${a.address}${a.kind === 'forward' ? ` (forwarding to ${a.target})` : ''}\n`,
      );
    }

    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        signal?.removeEventListener('abort', stop);
        resolve();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      if (signal?.aborted) stop();
      else signal?.addEventListener('abort', stop, { once: true });
    });
    log.info({ event: 'stopping' }, 'stopping');
    await agent.close();
    return 0;
  } finally {
    cleanup();
  }
}
