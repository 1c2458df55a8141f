/**
 * What `serve --kube` plugs into the gateway beside (instead of) the folder's ConfigSource: the KubeSource, the
 * Secrets the snapshot's DestinationRules name, the status writer, and the Lease that picks the one replica that
 * writes status. The gateway sees the ConfigSource contract plus `degraded`, `registerMetrics` and `applied`.
 */
import { Gauge, type Registry } from 'prom-client';
import type { LoadResult } from '../config/load.ts';
import type { ConfigFile } from '../config/yaml-documents.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import type { KubeClient } from './kube-client.ts';
import { KubeSource, secretsOf } from './kube-source.ts';
import { LeaderLease } from './leader-lease.ts';
import { StatusWriter } from './status-writer.ts';

export interface KubeGatewayOptions {
  readonly client: KubeClient;
  readonly settings?: ConfigFile | null;
  readonly env?: Record<string, string | undefined>;
  /** Namespace of the Lease; without one (no --lease-namespace, no POD_NAMESPACE) this replica writes no status. */
  readonly leaseNamespace?: string;
  readonly leaseDurationMs?: number;
  readonly publishAddress?: string;
  readonly publishService?: { readonly namespace: string; readonly name: string };
  readonly controllerName?: string;
  readonly retryBaseMs?: number;
  readonly log?: (line: string) => void;
}

export class KubeGatewaySource {
  readonly source: KubeSource;
  readonly lease: LeaderLease | null;
  readonly writer: StatusWriter;
  #leaderGauge: Gauge | null = null;
  #closing: Promise<void> | null = null;

  constructor(opts: KubeGatewayOptions) {
    this.source = new KubeSource({
      client: opts.client,
      settings: opts.settings,
      env: opts.env,
      log: opts.log,
      retryBaseMs: opts.retryBaseMs,
    });
    this.writer = new StatusWriter({
      client: opts.client,
      publishAddress: opts.publishAddress,
      publishService: opts.publishService,
      controllerName: opts.controllerName,
      log: opts.log,
      retryMs: opts.retryBaseMs !== undefined ? opts.retryBaseMs * 5 : undefined,
    });
    this.lease =
      opts.leaseNamespace === undefined
        ? null
        : new LeaderLease({
            client: opts.client,
            namespace: opts.leaseNamespace,
            durationMs: opts.leaseDurationMs,
            log: opts.log,
            onChange: (leader) => {
              this.#leaderGauge?.set(leader ? 1 : 0);
              this.writer.setLeader(leader);
            },
          });
    if (this.lease === null)
      opts.log?.('no --lease-namespace and no POD_NAMESPACE: this replica serves but never writes Gateway status');
  }

  get current(): LoadResult | undefined {
    return this.source.current;
  }

  async start(): Promise<LoadResult> {
    const first = await this.source.start();
    this.lease?.start();
    return first;
  }

  onUpdate(listener: (result: LoadResult) => void): () => void {
    return this.source.onUpdate(listener);
  }

  onError(listener: (error: Error) => void): () => void {
    return this.source.onError(listener);
  }

  reload(): Promise<void> {
    return this.source.reload();
  }

  degraded(): string | null {
    return this.source.degraded();
  }

  registerMetrics(registry: Registry): void {
    this.source.registerMetrics(registry);
    this.#leaderGauge = new Gauge({
      name: 'portcullis_kube_status_leader',
      help: '1 while this replica holds the Lease and writes Gateway status',
      registers: [registry],
    });
    this.#leaderGauge.set(this.lease?.leader ? 1 : 0);
  }

  /** Each snapshot in force: follow the Secrets it names, and write the status it implies (when leader). */
  applied(snap: Snapshot): void {
    void this.source.watchSecrets(secretsOf(snap));
    this.writer.update(snap);
  }

  /** Stop watching and writing; a leader releases its Lease (awaited, so a graceful exit hands over at once). */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.writer.close();
      this.source.close();
      await this.lease?.stop();
    })();
    return this.#closing;
  }
}
