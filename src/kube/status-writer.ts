/**
 * Writes the status Portcullis owns (gateway-status.ts) through the `/status` subresource with server-side apply,
 * field manager `portcullis`: the API server merges conditions by type and listeners by name, so istiod's
 * conditions stay istiod's. Writes only when the leader, only what differs, and retries a failed write.
 */
import { ipFamily } from '../net/ip-syntax.ts';
import { DEFAULT_CONTROLLER_NAME, FIELD_MANAGER, SERVE_RESOURCES, SERVICE_RESOURCE } from './access.ts';
import { desiredStatuses, statusHolds, type StatusTarget } from './gateway-status.ts';
import { resourcePath, statusMessage, type KubeClient } from './kube-client.ts';
import type { Snapshot } from '../mesh/snapshot.ts';

export interface StatusWriterOptions {
  readonly client: KubeClient;
  /** `--publish-address IP`. */
  readonly publishAddress?: string;
  /** `--publish-service NS/NAME`: its ClusterIP is published. */
  readonly publishService?: { readonly namespace: string; readonly name: string };
  /** `--controller-name`; else `controllerName` in portcullis.yaml; else DEFAULT_CONTROLLER_NAME. */
  readonly controllerName?: string;
  readonly log?: (line: string) => void;
  /** Delay before retrying a failed write. Default 5 s. */
  readonly retryMs?: number;
}

const GATEWAY = SERVE_RESOURCES.find((r) => r.kind === 'Gateway')!;
const GATEWAY_CLASS = SERVE_RESOURCES.find((r) => r.kind === 'GatewayClass')!;

export class StatusWriter {
  readonly #opts: StatusWriterOptions;
  #leader = false;
  #snapshot: Snapshot | null = null;
  #address: string | null;
  #running: Promise<void> | null = null;
  #again = false;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;
  #lastError: string | null = null;
  /** Writes done (for metrics and tests). */
  writes = 0;

  constructor(opts: StatusWriterOptions) {
    this.#opts = opts;
    this.#address = opts.publishAddress ?? null;
  }

  setLeader(leader: boolean): void {
    this.#leader = leader;
    if (leader) this.#kick();
  }

  update(snap: Snapshot): void {
    this.#snapshot = snap;
    this.#kick();
  }

  close(): void {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
  }

  #kick(): void {
    if (this.#closed || !this.#leader || this.#snapshot === null) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        await this.#writeAll();
      } while (this.#again && !this.#closed);
    })().finally(() => (this.#running = null));
  }

  async #publishedAddress(): Promise<string | null> {
    if (this.#address !== null || this.#opts.publishService === undefined) return this.#address;
    const { namespace, name } = this.#opts.publishService;
    const res = await this.#opts.client.request('GET', resourcePath(SERVICE_RESOURCE, namespace, name));
    if (res.status !== 200)
      throw new Error(`get Service ${namespace}/${name} for --publish-service: ${statusMessage(res)}`);
    const ip = (res.body.spec as { clusterIP?: string } | undefined)?.clusterIP;
    // A headless Service ("None") has no address istiod could use.
    if (ip === undefined || ipFamily(ip) === 0)
      throw new Error(`Service ${namespace}/${name} has no ClusterIP (${ip ?? 'none'}): publish a ClusterIP Service`);
    this.#address = ip;
    return ip;
  }

  async #writeAll(): Promise<void> {
    const snap = this.#snapshot;
    if (snap === null || !this.#leader) return;
    let failed: string | null = null;
    let address: string | null = null;
    try {
      address = await this.#publishedAddress();
    } catch (err) {
      failed = err instanceof Error ? err.message : String(err);
    }
    const controllerName = this.#opts.controllerName ?? snap.settings.controllerName ?? DEFAULT_CONTROLLER_NAME;
    const targets = desiredStatuses(snap, {
      address,
      controllerName,
      now: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    });
    for (const t of targets) {
      if (!this.#leader || this.#closed) return;
      const current = snap.load.resources.find(
        (r) =>
          r.kind === t.kind &&
          r.metadata.name === t.name &&
          (t.namespace === undefined || r.metadata.namespace === t.namespace),
      );
      if (current !== undefined && statusHolds(current.status, t.status)) continue;
      try {
        await this.#apply(t);
        this.writes++;
      } catch (err) {
        failed = err instanceof Error ? err.message : String(err);
      }
    }
    if (failed !== null) {
      if (failed !== this.#lastError) this.#opts.log?.(`PCL_KUBE_STATUS_WRITE_FAILED: ${failed}; retrying`);
      this.#lastError = failed;
      if (this.#retry) clearTimeout(this.#retry);
      this.#retry = setTimeout(() => this.#kick(), this.#opts.retryMs ?? 5000);
      this.#retry.unref();
    } else this.#lastError = null;
  }

  async #apply(t: StatusTarget): Promise<void> {
    const r = t.kind === 'Gateway' ? GATEWAY : GATEWAY_CLASS;
    const body = {
      apiVersion: `${r.group}/${r.version}`,
      kind: t.kind,
      metadata: { name: t.name, ...(t.namespace !== undefined ? { namespace: t.namespace } : {}) },
      status: t.status,
    };
    // JSON is YAML: the apply patch body needs no YAML writer.
    const res = await this.#opts.client.request('PATCH', resourcePath(r, t.namespace, t.name, 'status'), {
      query: { fieldManager: FIELD_MANAGER, force: 'true' },
      body: JSON.stringify(body),
      contentType: 'application/apply-patch+yaml',
    });
    if (res.status !== 200 && res.status !== 201)
      throw new Error(
        `apply status of ${t.kind} ${t.namespace ? `${t.namespace}/` : ''}${t.name}: HTTP ${res.status}: ${statusMessage(res)}`,
      );
  }
}
