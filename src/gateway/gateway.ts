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
import { ConfigSource } from '../config/config-source.ts';
import type { LoadResult } from '../config/load.ts';
import { PortcullisError } from '../errors/catalogue.ts';
import type { HboneRefusal } from '../events/hbone-events.ts';
import { createHboneServer, type HboneServer } from '../hbone/server.ts';
import type { HboneLimits } from '../hbone/settings.ts';
import { loadCa, type CertificateAuthority } from '../identity/ca.ts';
import { FileCertificateSource, StaticCertificateSource, type CertificateSource } from '../identity/cert-store.ts';
import { compileSnapshot } from '../mesh/compile.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import { startAccessLog, type AccessLog } from '../telemetry/access-log.ts';
import { CHANNELS, newInstanceId, publish, subscribe, type WaypointRequestRecord } from '../events/diagnostics.ts';
import { CredentialStore } from '../waypoint/credentials.ts';
import { createWaypointMetrics } from '../telemetry/waypoint-metrics.ts';
import { startMetrics, type GatewayMetrics } from '../telemetry/metrics.ts';
import { GATEWAY_CERT_TTL_MS, issueGatewayCert } from './gateway-cert.ts';
import { POLICY_CHANGE_REASON, recheckTunnel } from '../dataplane/policy-recheck.ts';
import { compileAddressGuard, type AddressGuard, type ListenerAddress } from '../dataplane/private-address-guard.ts';
import { createDnsResolver, type NameResolver } from '../dataplane/resolver.ts';
import { CLIENT_HELLO_TIMEOUT_MS } from '../dataplane/sni-check.ts';
import { handleTunnel, type OpenTunnel } from '../dataplane/tunnel-handler.ts';
import { DEFAULT_IDLE_TIMEOUT_MS } from '../dataplane/tunnel-pipe.ts';
import { CONNECT_TIMEOUT_MS } from '../dataplane/upstream-dial.ts';

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
  /** The snapshot in force. */
  snapshot(): Snapshot;
  /** Open tunnels (allowed and carrying bytes). */
  openTunnels(): number;
  /** Reload the config folder now rather than waiting for the watcher. */
  reload(): Promise<void>;
  /**
   * Stop accepting, let open tunnels finish for the drain period, then close what remains and release everything.
   */
  close(options?: { readonly drainMs?: number }): Promise<void>;
}

function formatHostPort(a: AddressInfo): string {
  return a.family === 'IPv6' || a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

function localAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) out.push(i.address);
  return out;
}

function sameIdentities(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Serving identity from a CA: issued for the served Gateways, renewed before expiry and when that set changes. */
class IssuedIdentity {
  readonly source: StaticCertificateSource;
  readonly #ca: CertificateAuthority;
  #identities: readonly string[];
  #timer: NodeJS.Timeout | null = null;
  readonly #onError: (err: unknown) => void;

  private constructor(ca: CertificateAuthority, identities: readonly string[], source: StaticCertificateSource, onError: (err: unknown) => void) {
    this.#ca = ca;
    this.#identities = identities;
    this.source = source;
    this.#onError = onError;
    this.#schedule();
  }

  static async create(ca: CertificateAuthority, identities: readonly string[], onError: (err: unknown) => void): Promise<IssuedIdentity> {
    const issued = await issueGatewayCert(ca, identities);
    return new IssuedIdentity(ca, identities, new StaticCertificateSource(issued), onError);
  }

  async update(identities: readonly string[]): Promise<void> {
    if (identities.length === 0 || sameIdentities(identities, this.#identities)) return;
    this.#identities = identities;
    await this.#reissue();
  }

  close(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  async #reissue(): Promise<void> {
    try {
      this.source.update(await issueGatewayCert(this.#ca, this.#identities));
    } catch (err) {
      this.#onError(err);
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    // Renew at two thirds of the lifetime, as istio-agent does (SECRET_GRACE_PERIOD_RATIO defaults to 0.5-ish).
    this.#timer = setTimeout(() => void this.#reissue(), (GATEWAY_CERT_TTL_MS * 2) / 3);
    this.#timer.unref();
  }
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
  if (opts.caDir === undefined && opts.certFiles === undefined) {
    throw new PortcullisError('PCL_DATAPLANE_CERT_ISSUE_FAILED', 'the gateway needs --ca-dir, or --cert, --key and --trust-bundle');
  }
  if ((opts.configDir === undefined) === (opts.source === undefined)) {
    throw new PortcullisError('PCL_CLI_USAGE', 'the gateway needs exactly one configuration source: a --config folder or --kube');
  }
  const instance = newInstanceId();
  const cleanups: (() => unknown)[] = [];
  const problem = (code: Parameters<typeof publish.problem>[0]['code'], err: unknown): void =>
    publish.problem({ instance, code, message: err instanceof Error ? err.message : String(err) });

  const accessLog: AccessLog | null = opts.log === null ? null : startAccessLog({ instance, destination: opts.log });
  const metrics: GatewayMetrics = startMetrics(instance);
  cleanups.push(() => metrics.close());

  try {
    // ---- configuration ----
    const source: ExternalConfigSource =
      opts.source ?? new ConfigSource({ dir: opts.configDir ?? '', settingsFile: opts.settingsFile, env: opts.env, debounceMs: opts.configDebounceMs });
    cleanups.push(() => source.close());
    opts.source?.registerMetrics?.(metrics.registry);
    source.onError((err) => problem('PCL_DATAPLANE_CONFIG_RELOAD_FAILED', err));
    const first = await source.start();
    let snap = compileSnapshot(first, { previous: null });
    const trustDomain = snap.settings.trustDomain;
    const served = (s: Snapshot): string[] => s.servedGateways().map((g) => g.identity);
    if (served(snap).length === 0 && opts.certFiles === undefined) {
      throw new PortcullisError(
        'PCL_DATAPLANE_NO_GATEWAY',
        `${opts.configDir ?? 'the Kubernetes API'} has no Gateway whose class is one of ${Object.keys(snap.settings.gatewayClasses).join(', ')}`,
      );
    }

    // ---- serving identity ----
    let certificates: CertificateSource;
    let issued: IssuedIdentity | null = null;
    if (opts.certFiles !== undefined) {
      const files = new FileCertificateSource({ certChainFile: opts.certFiles.cert, keyFile: opts.certFiles.key, rootCertFile: opts.certFiles.trustBundle });
      files.on('error', (err: unknown) => problem('PCL_IDENTITY_CERT_LOAD_FAILED', err));
      await files.start();
      cleanups.push(() => files.close());
      certificates = files;
    } else {
      const ca = await loadCa(opts.caDir!);
      issued = await IssuedIdentity.create(ca, served(snap), (err) => problem('PCL_DATAPLANE_CERT_ISSUE_FAILED', err));
      cleanups.push(() => issued?.close());
      certificates = issued.source;
    }

    // ---- data plane ----
    const open = new Set<OpenTunnel>();
    // The L7 waypoint: one credential store per process (a TLS context per Secret, pools keyed by credential).
    const credentials = new CredentialStore();
    cleanups.push(() => credentials.close());
    const waypointMetrics = createWaypointMetrics(metrics.registry);
    cleanups.push(subscribe<WaypointRequestRecord>(CHANNELS.requestCompleted, instance, (e) => waypointMetrics.observe(e)));
    const resolver = opts.resolver ?? createDnsResolver({ servers: opts.dnsServers });
    // The gateway's own sockets are never a destination (ztunnel's illegal_ports), including ones another process
    // of this gateway holds (a worker's primary owns the admin port).
    const listeners: ListenerAddress[] = (opts.ownSockets ?? []).map((h) => ({ ip: h.host, port: h.port }));
    const compileGuard = (s: Snapshot): AddressGuard => {
      try {
        return compileAddressGuard({ allowedPrivateCidrs: s.settings.allowedPrivateCidrs, listeners, localAddresses: localAddresses() });
      } catch (err) {
        problem('PCL_DATAPLANE_CONFIG_RELOAD_FAILED', err);
        return compileAddressGuard({ allowedPrivateCidrs: [], listeners, localAddresses: localAddresses() });
      }
    };
    let guard = compileGuard(snap);
    let draining = false;
    let listening = false;

    const hbone: HboneServer = createHboneServer({
      certificates,
      trustDomain,
      limits: { ...opts.hboneLimits, ...(opts.maxTunnels !== undefined ? { maxTunnels: opts.maxTunnels } : {}) },
      handler: (request) =>
        handleTunnel({
          request,
          instance,
          snapshot: () => snap,
          guard: () => guard,
          resolver,
          open,
          idleTimeoutMs: opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
          connectTimeoutMs: opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
          clientHelloTimeoutMs: opts.clientHelloTimeoutMs ?? CLIENT_HELLO_TIMEOUT_MS,
          credentials,
        }),
    });
    hbone.on('refused', (r: HboneRefusal) => publish.hboneRefused({ ...r, instance }));
    hbone.on('error', (err: unknown) => problem('PCL_HBONE_HANDLER_FAILED', err));
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
    if (adminAt !== null) {
      admin = await startAdminServer(
        gatewaySources(
          metrics.registry,
          () => snap,
          () =>
            draining
              ? { ready: false, why: 'draining' }
              : listening
                ? { ready: true, why: `ready: generation ${snap.generation}, ${snap.servedGateways().length} gateway(s) served${degradedNote()}` }
                : { ready: false, why: 'HBONE listener not up' },
        ),
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
      let closed = 0;
      for (const t of [...open]) {
        const verdict = recheckTunnel(next, t, guard);
        if (verdict.keep) continue;
        closed++;
        t.close('PCL_DATAPLANE_POLICY_CHANGED', `${POLICY_CHANGE_REASON} (${verdict.record.code}: ${verdict.record.reason})`, 'UAEX', verdict.record.layers);
      }
      if (issued !== null) void issued.update(served(next));
      opts.source?.applied?.(next);
      const errors = next.diagnostics.filter((d) => d.severity === 'error').length;
      const warnings = next.diagnostics.filter((d) => d.severity === 'warning').length;
      publish.configApplied({ instance, generation: next.generation, servedGateways: next.servedGateways().map((g) => g.ref), errors, warnings, tunnelsClosed: closed });
    };
    const unsubscribe = source.onUpdate(apply);
    cleanups.push(unsubscribe);
    opts.source?.applied?.(snap);
    {
      const errors = snap.diagnostics.filter((d) => d.severity === 'error').length;
      const warnings = snap.diagnostics.filter((d) => d.severity === 'warning').length;
      publish.configApplied({ instance, generation: snap.generation, servedGateways: snap.servedGateways().map((g) => g.ref), errors, warnings, tunnelsClosed: 0 });
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
        for (const t of [...open]) t.close('PCL_DATAPLANE_SHUTDOWN', `gateway shut down after draining for ${drainMs} ms`, 'LR');
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
      snapshot: () => snap,
      openTunnels: () => open.size,
      reload: () => source.reload(),
      close,
    };
  } catch (err) {
    for (const c of cleanups.reverse()) await c();
    accessLog?.close();
    throw err;
  }
}
