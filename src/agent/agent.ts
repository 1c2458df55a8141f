/**
 * `startAgent`: the workload side of the mesh outside a cluster, as ztunnel is inside one. Each workload identity
 * gets its own certificate, its own HBONE client pool (ztunnel keys its pool by source identity, so sessions are
 * never shared between identities), its own proxy port and its forward ports.
 */
import type { Logger } from 'pino';
import { createLogger } from '../telemetry/logger.ts';
import { HboneClient, type HboneClientOptions, type HboneGateway } from '../hbone/client.ts';
import { formatAuthority } from '../net/authority.ts';
import type { CertificateSource, TlsMaterial } from '../identity/cert-store.ts';
import { parseSpiffeId } from '../identity/spiffe-id.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import { startForwardListener, startProxyListener, type ListenAddress, type RunningListener } from './listeners.ts';
import { OwnListeners } from './own-listeners.ts';
import { ProxyContext } from './proxy-context.ts';
import type { AgentTarget } from './route.ts';
import { systemResolver, TunnelOpener, type Resolver } from './tunnel-opener.ts';

export interface ForwardSpec {
  readonly listen: ListenAddress;
  readonly target: AgentTarget;
}

export interface AgentWorkload {
  /** Full SPIFFE ID the certificate carries. */
  readonly identity: string;
  readonly certificates: CertificateSource | TlsMaterial;
  /** Proxy ports (CONNECT, absolute-form HTTP, SOCKS5). */
  readonly listen: readonly ListenAddress[];
  readonly forwards?: readonly ForwardSpec[];
}

export interface StartAgentOptions {
  /** Where the egress gateway's HBONE listener is. */
  readonly gateway: HboneGateway;
  /** The compiled configuration, or a function returning the current one (a watched config folder). */
  readonly snapshot: Snapshot | (() => Snapshot);
  readonly workloads: readonly AgentWorkload[];
  /** JSON log (pino); default: info level to stdout, in the shared format. */
  readonly logger?: Logger;
  /** Name resolution for destinations no ServiceEntry declares; default: the system resolver. */
  readonly resolve?: Resolver;
  /** HBONE client tuning (timeouts, streams per session); the certificates always come from the workload. */
  readonly hbone?: Omit<HboneClientOptions, 'certificates' | 'gateway' | 'expectedSans'>;
  /** Budget for a direct (egressPolicies Allow) connection. Default 10 s, ztunnel's CONNECTION_TIMEOUT. */
  readonly directConnectTimeoutMs?: number;
  /** Time a proxy-port client has to complete its SOCKS5 or HTTP request from connecting. Default 10 s; 0 = none. */
  readonly handshakeTimeoutMs?: number;
}

export interface AgentListenerInfo {
  readonly identity: string;
  readonly kind: 'proxy' | 'forward';
  /** `ip:port` bound. */
  readonly address: string;
  /** For a forward port: the destination, `host:port`. */
  readonly target?: string;
}

export interface RunningAgent {
  /** Every listener, in the order the workloads and their addresses were given. */
  readonly addresses: readonly AgentListenerInfo[];
  /** Per identity: its client pool's open HBONE sessions and the client sockets and tunnels it holds. */
  stats(): { identity: string; hboneSessions: number; openStreams: number }[];
  /** Stop listening, cut every open connection and HBONE session. */
  close(): Promise<void>;
}

/** A default logger: the shared JSON format (ISO time, level names) on stdout; human lines go to stderr. */
export function defaultAgentLogger(level = 'info'): Logger {
  return createLogger({ level });
}

export async function startAgent(options: StartAgentOptions): Promise<RunningAgent> {
  if (options.workloads.length === 0) throw new TypeError('startAgent: no workloads');
  const seen = new Set<string>();
  for (const w of options.workloads) {
    const parsed = parseSpiffeId(w.identity);
    if (!parsed.ok) throw new TypeError(`startAgent: ${parsed.reason}`);
    if (seen.has(w.identity)) throw new TypeError(`startAgent: identity ${w.identity} is listed twice`);
    seen.add(w.identity);
  }
  const log = options.logger ?? defaultAgentLogger();
  const snapshot =
    typeof options.snapshot === 'function'
      ? options.snapshot
      : (
          (s: Snapshot) => () =>
            s
        )(options.snapshot);
  const own = new OwnListeners();
  const isSelf = (ip: string, port: number): boolean => own.has(ip, port);

  const units: { ctx: ProxyContext; client: HboneClient; listeners: RunningListener[]; identity: string }[] = [];
  const addresses: AgentListenerInfo[] = [];
  const closeAll = async (): Promise<void> => {
    // Stop accepting first; a listener's close completes only once its connections are gone, so cut them now.
    const closing = units.flatMap((u) => u.listeners.map((l) => l.close()));
    for (const u of units) {
      u.ctx.destroyAll();
      u.client.destroy();
    }
    await Promise.all(closing);
  };

  try {
    for (const w of options.workloads) {
      const namespace = (parseSpiffeId(w.identity) as { ok: true; id: { namespace: string } }).id.namespace;
      // One pool per identity: ztunnel's WorkloadKey starts with the source identity.
      const client = new HboneClient({ ...options.hbone, certificates: w.certificates, gateway: options.gateway });
      const opener = new TunnelOpener({
        identity: w.identity,
        namespace,
        snapshot,
        gateway: options.gateway,
        client,
        resolve: options.resolve ?? systemResolver,
        directConnectTimeoutMs: options.directConnectTimeoutMs ?? 10_000,
        isSelf,
      });
      const ctx = new ProxyContext(opener, log.child({ identity: w.identity }), options.handshakeTimeoutMs);
      const unit = { ctx, client, listeners: [] as RunningListener[], identity: w.identity };
      units.push(unit);
      for (const at of w.listen) {
        const l = await startProxyListener(ctx, at);
        unit.listeners.push(l);
        own.add(l.host, l.port);
        addresses.push({ identity: w.identity, kind: 'proxy', address: l.address });
      }
      for (const f of w.forwards ?? []) {
        const l = await startForwardListener(ctx, f.listen, f.target);
        unit.listeners.push(l);
        own.add(l.host, l.port);
        addresses.push({
          identity: w.identity,
          kind: 'forward',
          address: l.address,
          target: formatAuthority(f.target.host, f.target.port),
        });
      }
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  for (const a of addresses) log.info({ event: 'listening', ...a }, `${a.identity} listening on ${a.address}`);

  let closed: Promise<void> | null = null;
  return {
    addresses,
    stats: () =>
      units.map((u) => ({
        identity: u.identity,
        hboneSessions: u.client.sessionCount,
        openStreams: u.ctx.openStreams,
      })),
    close: () => (closed ??= closeAll()),
  };
}
