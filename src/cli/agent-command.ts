/**
 * `portcullis agent`: carry workloads' outbound traffic to the egress gateway over HBONE with their SPIFFE
 * certificates, as ztunnel does inside a cluster. Runs until SIGINT/SIGTERM (or `signal` aborts).
 */
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { startAgent, defaultAgentLogger, type AgentWorkload, type ForwardSpec } from '../agent/agent.ts';
import { parseForward, parseListenAddress, parseWorkloads } from '../agent/agent-flags.ts';
import { issueIdentity, type IssuedIdentity } from '../agent/issued-identity.ts';
import type { ListenAddress } from '../agent/listeners.ts';
import { ConfigSource } from '../config/config-source.ts';
import { agentCodes } from '../errors/agent-codes.ts';
import { PortcullisError } from '../errors/catalogue.ts';
import { parseAuthority } from '../hbone/authority.ts';
import { loadCa } from '../identity/ca.ts';
import { FileCertificateSource } from '../identity/cert-store.ts';
import { spiffeIdentities } from '../identity/peer-identity.ts';
import { parseIdentityArg } from '../identity/spiffe-id.ts';
import { compileSnapshot } from '../mesh/compile.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import { parseTtl } from '../identity/ttl.ts';
import { type Io, parseFlags, required } from './args.ts';

const USAGE = `portcullis agent --gateway HOST:PORT --config DIR
         (--ca-dir DIR (--spiffe ID | --workloads FILE) | --cert FILE --key FILE --trust-bundle FILE)
         [--listen 127.0.0.1:15001] [--forward LOCAL_ADDR=HOST:PORT]... [--settings FILE] [--log-level info]
         [--handshake-timeout 10s]

  --gateway       the egress gateway's HBONE listener (port 15008 by convention)
  --config        the manifests folder the gateway serves; the agent routes by the same ServiceEntries (watched)
  --ca-dir        a CA in Istio's cacerts layout: each workload's certificate is issued from it in memory
  --spiffe        the workload identity, spiffe://<td>/ns/<ns>/sa/<sa> or <ns>/<sa>
  --workloads     YAML list of {namespace, serviceAccount, listen, forward?}: one identity and proxy port each
  --cert/--key/--trust-bundle   an existing workload certificate chain, its key and the mesh root (reloaded on change)
  --listen        the proxy port: HTTP CONNECT, absolute-form HTTP and SOCKS5 (default 127.0.0.1:15001)
  --forward       a plain TCP port that always tunnels to HOST:PORT (repeatable)
  --handshake-timeout   time a proxy-port client has from connecting to complete its SOCKS5 or HTTP request (10s)`;

const DEFAULT_LISTEN = '127.0.0.1:15001';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function bad(message: string): PortcullisError {
  return new PortcullisError('PCL_CLI_BAD_VALUE', `portcullis agent: ${message}`);
}

function usage(message: string): PortcullisError {
  return new PortcullisError('PCL_CLI_USAGE', `portcullis agent: ${message}\n\nUsage: ${USAGE}`);
}

export async function run(argv: string[], io: Io, signal?: AbortSignal): Promise<number> {
  const flags = parseFlags('agent', USAGE, argv, {
    gateway: { type: 'string' },
    config: { type: 'string' },
    settings: { type: 'string' },
    'ca-dir': { type: 'string' },
    spiffe: { type: 'string' },
    workloads: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    'trust-bundle': { type: 'string' },
    listen: { type: 'string' },
    forward: { type: 'string', multiple: true },
    'log-level': { type: 'string' },
    'handshake-timeout': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (flags.help) {
    io.stdout.write(`Usage: ${USAGE}\n`);
    return 0;
  }

  // Everything about the command line is checked before anything is read or opened.
  const gatewayText = required('agent', USAGE, 'gateway', flags.gateway);
  const gw = parseAuthority(gatewayText);
  if (!gw.ok) throw bad(`--gateway ${gw.reason.replace(/^malformed :authority /, '')} (expected HOST:PORT, e.g. 127.0.0.1:15008)`);
  const configDir = required('agent', USAGE, 'config', flags.config);
  const caDir = flags['ca-dir'];
  const fileFlags = [flags.cert, flags.key, flags['trust-bundle']];
  const byFiles = fileFlags.some((f) => f !== undefined);
  if (caDir !== undefined && byFiles) throw usage('give either --ca-dir or --cert/--key/--trust-bundle, not both');
  if (caDir === undefined && !byFiles) throw usage('an identity is required: --ca-dir with --spiffe or --workloads, or --cert/--key/--trust-bundle');
  if (byFiles && fileFlags.some((f) => f === undefined || f === '')) throw usage('--cert, --key and --trust-bundle go together');
  if (byFiles && (flags.spiffe !== undefined || flags.workloads !== undefined)) {
    throw usage('--spiffe and --workloads need --ca-dir (with --cert the identity is the certificate\'s)');
  }
  if (caDir !== undefined && flags.spiffe === undefined && flags.workloads === undefined) throw usage('--ca-dir needs --spiffe or --workloads');
  const single = flags.spiffe !== undefined || byFiles;
  if (!single && (flags.listen !== undefined || flags.forward !== undefined)) {
    throw usage('--listen and --forward belong to --spiffe or --cert; with --workloads, give each entry its own listen and forward');
  }
  let listen: ListenAddress | null = null;
  const forwards: ForwardSpec[] = [];
  if (single) {
    const l = parseListenAddress(flags.listen ?? DEFAULT_LISTEN);
    if (!l.ok) throw bad(`--listen ${l.reason}`);
    listen = l.value;
    for (const f of flags.forward ?? []) {
      const p = parseForward(f);
      if (!p.ok) throw bad(`--forward ${p.reason}`);
      forwards.push(p.value);
    }
  }
  let handshakeTimeoutMs: number | undefined;
  if (flags['handshake-timeout'] !== undefined) {
    const ms = parseTtl(flags['handshake-timeout']);
    if (ms === null) throw bad(`--handshake-timeout "${flags['handshake-timeout']}": expected a duration such as 10s or 1m`);
    handshakeTimeoutMs = ms;
  }
  const level = flags['log-level'] ?? 'info';
  if (!LOG_LEVELS.includes(level)) throw bad(`--log-level must be one of ${LOG_LEVELS.join(', ')} (got "${level}")`);

  if (!isDir(configDir)) throw new PortcullisError('PCL_CLI_CONFIG_MISSING', `--config ${configDir}: no such folder`);
  if (flags.settings !== undefined && !isFile(flags.settings)) throw new PortcullisError('PCL_CLI_CONFIG_MISSING', `--settings ${flags.settings}: no such file`);
  const log = defaultAgentLogger(level);

  // The same manifests as the gateway, followed live; VIPs stay stable across reloads (compile's `previous`).
  const source = new ConfigSource({ dir: configDir, settingsFile: flags.settings, env: process.env });
  let snapshot: Snapshot = compileSnapshot(await source.start());
  const reportErrors = (snap: Snapshot): void => {
    const errors = snap.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0) {
      log.warn({ event: 'config-errors', count: errors.length, first: `${errors[0].file}:${errors[0].line}: ${errors[0].message}` }, `${errors.length} configuration error(s); run 'portcullis status' to see them`);
    }
  };
  reportErrors(snapshot);
  source.onUpdate((load) => {
    snapshot = compileSnapshot(load, { previous: snapshot, generation: snapshot.generation + 1 });
    log.info({ event: 'config-reloaded', generation: snapshot.generation }, 'configuration reloaded');
    reportErrors(snapshot);
  });
  source.onError((err) => log.error({ event: 'config-watch-error', err: err.message }, 'watching the configuration failed'));

  const issued: IssuedIdentity[] = [];
  const fileSources: FileCertificateSource[] = [];
  const cleanup = (): void => {
    source.close();
    for (const i of issued) i.stop();
    for (const f of fileSources) f.close();
  };
  try {
    const workloads: AgentWorkload[] = [];
    const trustDomain = snapshot.settings.trustDomain;
    if (caDir !== undefined) {
      const ca = await loadCa(caDir);
      const onError = (err: Error): void => log.error({ event: 'cert-renew-failed', err: err.message }, 'renewing a workload certificate failed');
      if (flags.spiffe !== undefined) {
        const id = parseIdentityArg(flags.spiffe, trustDomain);
        if (!id.ok) throw bad(`--spiffe "${flags.spiffe}": ${id.reason}`);
        const identity = await issueIdentity(ca, id.id.uri, { onError });
        issued.push(identity);
        workloads.push({ identity: id.id.uri, certificates: identity.source, listen: [listen!], forwards });
      }
      if (flags.workloads !== undefined) {
        let text: string;
        try {
          text = await readFile(flags.workloads, 'utf8');
        } catch (err) {
          throw new PortcullisError('PCL_CLI_CONFIG_MISSING', `--workloads ${flags.workloads}: ${(err as Error).message}`);
        }
        const parsed = parseWorkloads(text, trustDomain);
        if (!parsed.ok) throw bad(`--workloads ${flags.workloads}: ${parsed.reason}\n[PCL_AGENT_WORKLOADS_INVALID] ${agentCodes.PCL_AGENT_WORKLOADS_INVALID.fix}`);
        for (const w of parsed.value) {
          if (workloads.some((x) => x.identity === w.identity)) throw bad(`--workloads: ${w.identity} is also given with --spiffe`);
          const identity = await issueIdentity(ca, w.identity, { onError });
          issued.push(identity);
          workloads.push({ identity: w.identity, certificates: identity.source, listen: [w.listen], forwards: w.forwards });
        }
      }
    } else {
      const files = new FileCertificateSource({ certChainFile: flags.cert!, keyFile: flags.key!, rootCertFile: flags['trust-bundle']! });
      await files.start();
      fileSources.push(files);
      files.on('error', (err: Error) => log.error({ event: 'cert-reload-failed', err: err.message }, 'reloading the certificate failed; keeping the previous one'));
      const leaf = new X509Certificate(files.current().certChainPem);
      const ids = spiffeIdentities(leaf.raw);
      if (ids.length === 0) throw bad(`--cert ${flags.cert}: the certificate has no SPIFFE URI SAN (spiffe://<td>/ns/<ns>/sa/<sa>)`);
      workloads.push({ identity: ids[0].uri, certificates: files, listen: [listen!], forwards });
    }

    let agent;
    try {
      agent = await startAgent({ gateway: { host: gw.authority.host, port: gw.authority.port }, snapshot: () => snapshot, workloads, logger: log, handshakeTimeoutMs });
    } catch (err) {
      const code = (err as Error & { code?: string }).code;
      if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES') {
        io.stderr.write(`portcullis agent: cannot listen: ${(err as Error).message}\n[PCL_AGENT_LISTEN_FAILED] ${agentCodes.PCL_AGENT_LISTEN_FAILED.fix}\n`);
        cleanup();
        return 1;
      }
      throw err;
    }
    for (const a of agent.addresses) {
      io.stdout.write(`portcullis agent: ${a.identity} listening on ${a.address}${a.kind === 'forward' ? ` (forwarding to ${a.target})` : ''}\n`);
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

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
