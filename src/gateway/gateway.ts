/**
 * A running Portcullis gateway: the live configuration (ConfigSource → compiled Snapshot, swapped atomically), its
 * serving identity, ONE HBONE listener for every served Gateway, the tunnel handler, the access log, metrics and the
 * admin server. `startGateway` is what `portcullis serve` runs; tests and the quickstart run it in-process.
 */
import { networkInterfaces } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AddressInfo } from 'node:net';
import type { Writable } from 'node:stream';
import type { Registry } from 'prom-client';
import { gatewaySources, startAdminServer, type AdminServer } from '../admin/admin-server.ts';
import { startFlowFeed } from '../admin/flow-feed.ts';
import { FlowHub } from '../admin/flow-hub.ts';
import { uiRoutes } from '../admin/ui-routes.ts';
import { ConfigSource } from '../config/config-source.ts';
import { assertSettingsValid, type LoadResult } from '../config/load.ts';
import { PortcullisError } from '../errors/portcullis-error.ts';
import type { HboneRefusal } from '../events/hbone-events.ts';
import { createHboneServer, REASON_HEADER, type HboneRequest, type HboneServer } from '../hbone/server.ts';
import { hboneLimitsFrom, type HboneLimits } from '../hbone/settings.ts';
import { gatewayLimits, type GatewayLimits } from '../config/settings-types.ts';
import { loadCa } from '../identity/ca.ts';
import { FileCertificateSource, type CertificateSource } from '../identity/cert-store.ts';
import { compileSnapshot } from '../mesh/compile.ts';
import { configIssues, diffIssues, errorsByKind, type ConfigIssue } from '../mesh/config-health.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import { startAccessLog, type AccessLog } from '../telemetry/access-log.ts';
import { CHANNELS, newInstanceId, publish, subscribe, type WaypointRequestRecord } from '../events/diagnostics.ts';
import { CredentialStore } from '../waypoint/credentials.ts';
import { createWaypointMetrics } from '../telemetry/waypoint-metrics.ts';
import { startMetrics, type GatewayMetrics } from '../telemetry/metrics.ts';
import {
  certificateExpiry,
  certificateIdentities,
  DEV_CA_WARNING,
  registerCertificateMetric,
  startDevCaIdentity,
  unservableGateways,
  type DevCaIdentity,
} from './gateway-cert.ts';
import { startHealthServer } from './health-server.ts';
import { startIstiodIdentity, type IstiodSettings } from '../identity/istiod-identity.ts';
import { POLICY_CHANGE_REASON, recheckTunnel } from '../dataplane/policy-recheck.ts';
import { compileAddressGuard, type AddressGuard, type ListenerAddress } from '../upstream/private-address-guard.ts';
import { createDnsResolver, type NameResolver } from '../dataplane/resolver.ts';
import { CLIENT_HELLO_TIMEOUT_MS } from '../dataplane/sni-check.ts';
import { handleTunnel, type OpenTunnel, type TunnelContext } from '../dataplane/tunnel-handler.ts';
import { CONNECT_TIMEOUT_MS } from '../upstream/dial.ts';
import { messageOf } from '../errors/message-of.ts';
import { applyLearnMode, LEARN_BANNER } from '../learn/learn-mode.ts';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * A configuration source other than the folder (`serve --kube`: src/kube/kube-gateway-source.ts): ConfigSource's
 * contract, plus what only a remote source has.
 */
export interface ExternalConfigSource {
  start(): Promise<LoadResult>;
  onUpdate(listener: (result: LoadResult) => void): () => void;
  onError(listener: (error: Error) => void): () => void;
  reload(): Promise<void>;
  close(): void | Promise<void>;
  /** Why the configuration in force may be stale (its source is unreachable), or null; `/ready` shows it. */
  degraded?(): string | null;
  registerMetrics?(registry: Registry): void;
  /** Called with each snapshot put in force (the Kubernetes source writes Gateway status from it). */
  applied?(snap: Snapshot): void;
}

export interface GatewayOptions {
  /** The --config folder (watched; changes apply without a restart). Exactly one of this and `source`. */
  readonly configDir?: string;
  /** Another configuration source (the Kubernetes API). */
  readonly source?: ExternalConfigSource;
  readonly settingsFile?: string;
  /** Istio cacerts folder to issue the serving certificate from. */
  readonly caDir?: string;
  /** Serving certificate files instead of a CA (reloaded when they change). */
  readonly certFiles?: { readonly cert: string; readonly key: string; readonly trustBundle: string };
  /** The serving certificate from istiod (one identity, renewed at half its lifetime). */
  readonly istiod?: IstiodSettings;
  /** `--gateway NS/NAME`: the Gateways this process is the pod of; each must be nameable by its certificate. */
  readonly gateways?: readonly string[];
  /** Health port for the kubelet (`/healthz/ready`, Istio's 15021); default none. */
  readonly health?: HostPort | null;
  /** HBONE listener; default 0.0.0.0:15008. */
  readonly listen?: HostPort;
  /** Admin listener; default 127.0.0.1:15000; null = none. */
  readonly admin?: HostPort | null;
  /** Sockets of this gateway held by another process (a worker's primary admin port): refused as destinations. */
  readonly ownSockets?: readonly HostPort[];
  /** Bind the HBONE port with SO_REUSEPORT, so several worker processes share it (`serve --workers`). */
  readonly reusePort?: boolean;
  /** `--dns-server` values (`IP` or `IP:PORT`); empty = the system resolver's servers. */
  readonly dnsServers?: readonly string[];
  /** A resolver to use instead (tests). */
  readonly resolver?: NameResolver;
  /** Drain period on close; default 5 s. */
  readonly drainMs?: number;
  readonly idleTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly clientHelloTimeoutMs?: number;
  /** Access log: a file path, a stream, or null for none; default stdout. */
  readonly log?: string | Writable | null;
  readonly maxTunnels?: number;
  readonly hboneLimits?: Partial<HboneLimits>;
  readonly env?: Record<string, string | undefined>;
  /** Quiet time after a config file event before reloading. */
  readonly configDebounceMs?: number;
}

export interface RunningGateway {
  /** `host:port` of the HBONE listener as bound (`[v6]:port` for IPv6). */
  readonly hboneAddress: string;
  readonly hbonePort: number;
  /** `host:port` of the admin server, or null. */
  readonly adminAddress: string | null;
  readonly registry: Registry;
  /** The instance number its events carry (a worker feeds them to its primary's flow map). */
  readonly instance: number;
  readonly startedMs: number;
  /** The snapshot in force. */
  snapshot(): Snapshot;
  /** Open tunnels (allowed and carrying bytes). */
  openTunnels(): number;
  /** Why new tunnels are refused (the serving certificate expired), or null. */
  identityProblem(): string | null;
  /** Why the configuration is the last one received rather than the current one (the API server lost), or null. */
  degraded(): string | null;
  /** Reload the config folder now rather than waiting for the watcher. */
  reload(): Promise<void>;
  /**
   * Stop accepting, let open tunnels finish for the drain period, then close what remains and release everything.
   */
  close(options?: { readonly drainMs?: number }): Promise<void>;
}

/** The part of a tunnel's context every tunnel of one gateway shares. */
interface SharedTunnelContext {
  readonly instance: number;
  snapshot(): Snapshot;
  guard(): AddressGuard;
  readonly resolver: NameResolver;
  readonly open: Set<OpenTunnel>;
  readonly credentials: CredentialStore;
  /** The limits of the snapshot in force (computed once per snapshot). */
  limits(): GatewayLimits;
  /** A fixed idle timeout (tests), else limits.tcpIdleTimeout. */
  readonly idleTimeoutMs: number | undefined;
  readonly connectTimeoutMs: number;
  readonly clientHelloTimeoutMs: number;
}

/**
 * One tunnel's context: its request and the gateway's shared part (two fields per tunnel, rather than a copy of
 * every setting and closure). Timeouts are read from the snapshot in force when asked for.
 */
class GatewayTunnelContext implements TunnelContext {
  readonly #shared: SharedTunnelContext;
  readonly request: HboneRequest;

  constructor(shared: SharedTunnelContext, request: HboneRequest) {
    this.#shared = shared;
    this.request = request;
  }

  get instance(): number {
    return this.#shared.instance;
  }

  snapshot(): Snapshot {
    return this.#shared.snapshot();
  }

  guard(): AddressGuard {
    return this.#shared.guard();
  }

  get resolver(): NameResolver {
    return this.#shared.resolver;
  }

  get open(): Set<OpenTunnel> {
    return this.#shared.open;
  }

  get credentials(): CredentialStore {
    return this.#shared.credentials;
  }

  get idleTimeoutMs(): number {
    return this.#shared.idleTimeoutMs ?? this.#shared.limits().tcpIdleTimeoutMs;
  }

  get httpIdleTimeoutMs(): number {
    return this.#shared.limits().httpIdleTimeoutMs;
  }

  get connectTimeoutMs(): number {
    return this.#shared.connectTimeoutMs;
  }

  get clientHelloTimeoutMs(): number {
    return this.#shared.clientHelloTimeoutMs;
  }
}

function formatHostPort(a: AddressInfo): string {
  return a.family === 'IPv6' || a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

function localAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) out.push(i.address);
  return out;
}

/**
 * Start a gateway. Resolves once the configuration is loaded, the HBONE listener is up and the admin server answers.
 *
 * @example
 * const gw = await startGateway({ configDir: 'examples/seed-000', caDir: '.portcullis/ca', listen: { host: '127.0.0.1', port: 0 } });
 * console.log(gw.hboneAddress);
 * await gw.close();
 */
export async function startGateway(opts: GatewayOptions): Promise<RunningGateway> {
  if (opts.caDir === undefined && opts.certFiles === undefined && opts.istiod === undefined) {
    throw new PortcullisError(
      'PCL_DATAPLANE_CERT_ISSUE_FAILED',
      'the gateway needs --ca-address, or --cert, --key and --trust-bundle, or --ca-dir',
    );
  }
  if ((opts.configDir === undefined) === (opts.source === undefined)) {
    throw new PortcullisError(
      'PCL_CLI_USAGE',
      'the gateway needs exactly one configuration source: a --config folder or --kube',
    );
  }
  const instance = newInstanceId();
  const startedMs = Date.now();
  const cleanups: (() => unknown)[] = [];
  const problem = (code: Parameters<typeof publish.problem>[0]['code'], err: unknown): void =>
    publish.problem({ instance, code, message: messageOf(err) });

  const accessLog: AccessLog | null = opts.log === null ? null : startAccessLog({ instance, destination: opts.log });
  const metrics: GatewayMetrics = startMetrics(instance);
  cleanups.push(() => metrics.close());

  try {
    // ---- configuration ----
    const source: ExternalConfigSource =
      opts.source ??
      new ConfigSource({
        dir: opts.configDir ?? '',
        settingsFile: opts.settingsFile,
        env: opts.env,
        debounceMs: opts.configDebounceMs,
      });
    cleanups.push(() => source.close());
    opts.source?.registerMetrics?.(metrics.registry);
    source.onError((err) => problem('PCL_DATAPLANE_CONFIG_RELOAD_FAILED', err));
    const first = await source.start();
    assertSettingsValid(first);
    let snap = compileSnapshot(first, { previous: null });
    accessLog?.setLearn(snap.settings.learn === true);
    // Each configuration error is logged once when it appears and once when it is fixed (config-health.ts).
    let issues: ConfigIssue[] = [];
    const announce = (next: Snapshot): Record<string, number> => {
      const now = configIssues(next);
      const { appeared, fixed } = diffIssues(issues, now);
      issues = now;
      for (const [state, list] of [
        ['appeared', appeared],
        ['fixed', fixed],
      ] as const) {
        for (const i of list)
          publish.configIssue({
            instance,
            state,
            code: i.code,
            kind: i.kind,
            ref: i.ref,
            file: i.file,
            line: i.line,
            message: i.message,
            generation: next.generation,
          });
      }
      return errorsByKind(now);
    };
    const trustDomain = snap.settings.trustDomain;
    const served = (s: Snapshot): string[] => s.servedGateways().map((g) => g.identity);
    if (
      served(snap).length === 0 &&
      opts.caDir !== undefined &&
      opts.certFiles === undefined &&
      opts.istiod === undefined
    ) {
      throw new PortcullisError(
        'PCL_DATAPLANE_NO_GATEWAY',
        `${opts.configDir ?? 'the Kubernetes API'} has no Gateway whose class is one of ${Object.keys(snap.settings.gatewayClasses).join(', ')}`,
      );
    }

    // ---- serving identity ----
    let certificates: CertificateSource;
    let issued: DevCaIdentity | null = null;
    if (opts.certFiles !== undefined) {
      const files = new FileCertificateSource({
        certChainFile: opts.certFiles.cert,
        keyFile: opts.certFiles.key,
        rootCertFile: opts.certFiles.trustBundle,
      });
      files.on('error', (err: unknown) => problem('PCL_IDENTITY_CERT_LOAD_FAILED', err));
      await files.start();
      cleanups.push(() => files.close());
      certificates = files;
    } else if (opts.istiod !== undefined) {
      const fromIstiod = await startIstiodIdentity(opts.istiod, trustDomain, opts.env ?? process.env);
      cleanups.push(() => fromIstiod.close());
      fromIstiod.source.on('error', (err: unknown) => problem('PCL_IDENTITY_ISTIOD_FAILED', err));
      fromIstiod.source.on('expired', (err: unknown) => problem('PCL_IDENTITY_CERT_EXPIRED', err));
      certificates = fromIstiod.source;
    } else {
      const ca = await loadCa(opts.caDir!);
      issued = await startDevCaIdentity(ca, served(snap), (err) => problem('PCL_DATAPLANE_CERT_ISSUE_FAILED', err));
      cleanups.push(() => issued?.close());
      certificates = issued.source;
      // Warned once: a gateway at the edge of a real mesh must never hold the mesh's signing key (with
      // `--workers`, the primary warns for all of them).
      if (opts.reusePort !== true) problem('PCL_IDENTITY_DEV_CA_KEY', `${DEV_CA_WARNING} (${opts.caDir})`);
    }
    const named = opts.gateways ?? [];
    if (named.length > 0) {
      const unservable = unservableGateways(
        named,
        snap.servedGateways(),
        certificateIdentities(certificates.current()),
      );
      if (unservable.length > 0)
        throw new PortcullisError('PCL_IDENTITY_GATEWAY_NOT_NAMED', `cannot serve: ${unservable.join('; ')}`);
      certificates.on('update', (m) => {
        const now = unservableGateways(named, snap.servedGateways(), certificateIdentities(m));
        if (now.length > 0) problem('PCL_IDENTITY_GATEWAY_NOT_NAMED', now.join('; '));
      });
    }
    // An expired serving certificate makes the gateway not ready and refuses new tunnels until a new one is in hand.
    registerCertificateMetric(metrics.registry, certificates);
    const expiry = certificateExpiry();
    const certProblem = (): string | null => {
      const notAfter = expiry(certificates.current());
      return notAfter.getTime() > Date.now()
        ? null
        : `PCL_IDENTITY_CERT_EXPIRED: the serving certificate expired at ${notAfter.toISOString()}`;
    };

    // ---- data plane ----
    const open = new Set<OpenTunnel>();
    // The L7 waypoint: one credential store per process (a TLS context per Secret, pools keyed by credential).
    const credentials = new CredentialStore();
    cleanups.push(() => credentials.close());
    const waypointMetrics = createWaypointMetrics(metrics.registry);
    cleanups.push(
      subscribe<WaypointRequestRecord>(CHANNELS.requestCompleted, instance, (e) => waypointMetrics.observe(e)),
    );
    const resolver = opts.resolver ?? createDnsResolver({ servers: opts.dnsServers });
    // The gateway's own sockets are never a destination (ztunnel's illegal_ports), including ones another process
    // of this gateway holds (a worker's primary owns the admin port).
    const listeners: ListenerAddress[] = (opts.ownSockets ?? []).map((h) => ({ ip: h.host, port: h.port }));
    const compileGuard = (s: Snapshot): AddressGuard => {
      try {
        return compileAddressGuard({
          allowedPrivateCidrs: s.settings.allowedPrivateCidrs,
          listeners,
          localAddresses: localAddresses(),
        });
      } catch (err) {
        problem('PCL_DATAPLANE_CONFIG_RELOAD_FAILED', err);
        return compileAddressGuard({ allowedPrivateCidrs: [], listeners, localAddresses: localAddresses() });
      }
    };
    let guard = compileGuard(snap);
    let draining = false;
    let listening = false;

    // portcullis.yaml `limits:` (reloadable), then what the command line or the caller fixed.
    const hboneLimitsOf = (s: Snapshot): Partial<HboneLimits> => ({
      ...hboneLimitsFrom(gatewayLimits(s.settings)),
      ...opts.hboneLimits,
      ...(opts.maxTunnels !== undefined ? { maxTunnels: opts.maxTunnels } : {}),
    });
    // What every tunnel reads from the gateway, in one object; each tunnel's context is that plus its request.
    let limitsOf: { snap: Snapshot; limits: GatewayLimits } | null = null;
    const shared: SharedTunnelContext = {
      instance,
      snapshot: () => snap,
      guard: () => guard,
      resolver,
      open,
      credentials,
      limits: () => {
        if (limitsOf === null || limitsOf.snap !== snap) limitsOf = { snap, limits: gatewayLimits(snap.settings) };
        return limitsOf.limits;
      },
      idleTimeoutMs: opts.idleTimeoutMs,
      connectTimeoutMs: opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
      clientHelloTimeoutMs: opts.clientHelloTimeoutMs ?? CLIENT_HELLO_TIMEOUT_MS,
    };
    const hbone: HboneServer = createHboneServer({
      certificates,
      trustDomain,
      limits: hboneLimitsOf(snap),
      handler: (request) => {
        const expired = certProblem();
        if (expired !== null) {
          request.respond(503, { [REASON_HEADER]: expired });
          return Promise.resolve();
        }
        return handleTunnel(new GatewayTunnelContext(shared, request));
      },
    });
    hbone.on('refused', (r: HboneRefusal) => publish.hboneRefused({ ...r, instance }));
    hbone.on('error', (err: unknown) => problem('PCL_HBONE_HANDLER_FAILED', err));
    metrics.watchConnections(() => ({
      pendingHandshakes: hbone.pendingHandshakes,
      connections: hbone.connectionCount,
    }));
    const listen = opts.listen ?? { host: '0.0.0.0', port: 15008 };
    const hboneInfo = await hbone.listen(listen.port, listen.host, { reusePort: opts.reusePort === true });
    cleanups.push(() => hbone.destroy());
    listening = true;
    listeners.push({ ip: hboneInfo.address, port: hboneInfo.port });

    // ---- admin ----
    // A remote source that went away leaves the last snapshot serving (ready), said plainly on /ready.
    const degradedNote = (): string => {
      const why = opts.source?.degraded?.() ?? null;
      return why === null ? '' : `; degraded: ${why}`;
    };
    let admin: AdminServer | null = null;
    const adminAt = opts.admin === undefined ? { host: '127.0.0.1', port: 15000 } : opts.admin;
    const devCaNote =
      opts.caDir !== undefined && opts.certFiles === undefined && opts.istiod === undefined
        ? `\nwarning: PCL_IDENTITY_DEV_CA_KEY: ${DEV_CA_WARNING}`
        : '';
    const readiness = (): { ready: boolean; why: string } => {
      const expired = certProblem();
      const r = draining
        ? { ready: false, why: 'draining' }
        : expired !== null
          ? { ready: false, why: expired }
          : listening
            ? {
                ready: true,
                why: `${snap.settings.learn === true ? `${LEARN_BANNER}\n` : ''}ready: generation ${snap.generation}, ${snap.servedGateways().length} gateway(s) served${degradedNote()}`,
              }
            : { ready: false, why: 'HBONE listener not up' };
      return { ready: r.ready, why: `${r.why}${devCaNote}` };
    };
    if (opts.health !== undefined && opts.health !== null) {
      const health = await startHealthServer(readiness, opts.health.host, opts.health.port);
      cleanups.push(() => health.close());
      listeners.push({ ip: health.address.address, port: health.address.port });
    }
    if (adminAt !== null) {
      // The flow map: this process's decisions, aggregated for the admin port's UI.
      const hub = new FlowHub();
      cleanups.push(
        () => hub.close(),
        startFlowFeed({ instance, snapshot: () => snap, startedMs, sink: hub.sink('gateway') }),
      );
      admin = await startAdminServer(
        { ui: uiRoutes(hub), ...gatewaySources(metrics.registry, () => snap, readiness) },
        adminAt.host,
        adminAt.port,
      );
      const adminServer = admin;
      cleanups.push(() => adminServer.close());
      listeners.push({ ip: admin.address.address, port: admin.address.port });
    }
    guard = compileGuard(snap);

    // ---- live configuration: swap, then re-decide every open tunnel ----
    const apply = (load: LoadResult): void => {
      let next: Snapshot;
      try {
        next = compileSnapshot(load, { previous: snap });
      } catch (err) {
        problem('PCL_DATAPLANE_CONFIG_RELOAD_FAILED', err);
        return;
      }
      if (next.settings.trustDomain !== trustDomain) {
        problem(
          'PCL_DATAPLANE_CONFIG_RELOAD_FAILED',
          `trustDomain changed from "${trustDomain}" to "${next.settings.trustDomain}": restart the gateway to apply it (the old one stays in force)`,
        );
      }
      snap = next;
      guard = compileGuard(next);
      hbone.setLimits(hboneLimitsOf(next));
      let closed = 0;
      for (const t of [...open]) {
        const verdict = recheckTunnel(next, t, guard);
        if (verdict.keep || applyLearnMode(next.settings, verdict.record).decision === 'allow') continue;
        closed++;
        t.close(
          'PCL_DATAPLANE_POLICY_CHANGED',
          `${POLICY_CHANGE_REASON} (${verdict.record.code}: ${verdict.record.reason})`,
          'UAEX',
          verdict.record.layers,
        );
      }
      if (issued !== null) void issued.update(served(next));
      opts.source?.applied?.(next);
      const errors = next.diagnostics.filter((d) => d.severity === 'error').length;
      const warnings = next.diagnostics.filter((d) => d.severity === 'warning').length;
      const byKind = announce(next);
      publish.configApplied({
        instance,
        generation: next.generation,
        servedGateways: next.servedGateways().map((g) => g.ref),
        errors,
        warnings,
        tunnelsClosed: closed,
        errorsByKind: byKind,
        reloadedAtMs: Date.now(),
        learn: next.settings.learn === true,
      });
    };
    const unsubscribe = source.onUpdate(apply);
    cleanups.push(unsubscribe);
    opts.source?.applied?.(snap);
    {
      const errors = snap.diagnostics.filter((d) => d.severity === 'error').length;
      const warnings = snap.diagnostics.filter((d) => d.severity === 'warning').length;
      const byKind = announce(snap);
      publish.configApplied({
        instance,
        generation: snap.generation,
        servedGateways: snap.servedGateways().map((g) => g.ref),
        errors,
        warnings,
        tunnelsClosed: 0,
        errorsByKind: byKind,
        reloadedAtMs: Date.now(),
        learn: snap.settings.learn === true,
      });
    }

    let closing: Promise<void> | null = null;
    const close = (options: { drainMs?: number } = {}): Promise<void> => {
      closing ??= (async () => {
        draining = true;
        void source.close();
        const drainMs = options.drainMs ?? opts.drainMs ?? 5000;
        const drained = hbone.close();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([drained, new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)))]);
        clearTimeout(timer);
        for (const t of [...open])
          t.close('PCL_DATAPLANE_SHUTDOWN', `gateway shut down after draining for ${drainMs} ms`, 'LR');
        hbone.destroy();
        // Let the closed tunnels publish their access-log lines before the log is flushed.
        for (let i = 0; i < 200 && open.size > 0; i++) await sleep(5);
        for (const c of cleanups.reverse()) await c();
        accessLog?.close();
      })();
      return closing;
    };

    return {
      hboneAddress: formatHostPort(hboneInfo),
      hbonePort: hboneInfo.port,
      adminAddress: admin === null ? null : formatHostPort(admin.address),
      registry: metrics.registry,
      instance,
      startedMs,
      snapshot: () => snap,
      openTunnels: () => open.size,
      identityProblem: certProblem,
      degraded: () => opts.source?.degraded?.() ?? null,
      reload: () => source.reload(),
      close,
    };
  } catch (err) {
    for (const c of cleanups.reverse()) await c();
    accessLog?.close();
    throw err;
  }
}
