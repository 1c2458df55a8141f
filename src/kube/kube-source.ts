/**
 * The Kubernetes API as a live configuration, beside the folder's ConfigSource and with the same contract: one
 * list+watch informer per kind of SERVE_RESOURCES, plus one per Secret a DestinationRule names (a watch on that
 * namespace with a fieldSelector on the name, never a cluster-wide Secret watch); every change is debounced, loaded
 * through config/load-objects.ts (same validation, last-good rule and snapshot path as files) and emitted as `update`.
 * Start waits until every kind has been listed once: serving with a kind missing could let a policy-less
 * configuration allow what a policy would deny. Afterwards a failing watch keeps the last state (degraded), is
 * retried with backoff and resumes from its resourceVersion (relisting on 410 Gone).
 */
import type { ListWatch, KubernetesObject } from '@kubernetes/client-node';
import { Counter, Gauge, type Registry } from 'prom-client';
import { loadApiObjects, type ApiObject } from '../config/load-objects.ts';
import { ConfigEmitter } from '../config/config-source.ts';
import type { LoadResult } from '../config/load.ts';
import type { ConfigFile } from '../config/yaml-documents.ts';
import type { ErrorCode } from '../errors/catalogue.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import { SECRET_RESOURCE, SERVE_RESOURCES, type KubeResource } from './access.ts';
import { KubeApiError, resourcePath, type KubeClient } from './kube-client.ts';

export interface KubeSourceOptions {
  readonly client: KubeClient;
  /** `portcullis.yaml` (`--settings FILE`), or null for the defaults. */
  readonly settings?: ConfigFile | null;
  readonly env?: Record<string, string | undefined>;
  /** Quiet time after the last API event before reloading. Default 20 ms. */
  readonly debounceMs?: number;
  /** First retry delay after a failure; doubled up to `retryMaxMs`. Defaults 1 s and 30 s. */
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  /** One line per problem and per recovery (serve prints them on stderr). */
  readonly log?: (line: string) => void;
  /** The kinds to watch; default SERVE_RESOURCES. */
  readonly resources?: readonly KubeResource[];
}

interface Feed {
  readonly resource: KubeResource;
  readonly label: string;
  readonly informer: ListWatch<KubernetesObject>;
  synced: boolean;
  /** Lists done (the first is the initial sync; later ones are relists). */
  lists: number;
  failure: { code: ErrorCode; message: string } | null;
  retries: number;
  timer: NodeJS.Timeout | undefined;
  stopped: boolean;
}

/** The Secrets (`namespace/name`) the DestinationRules of a snapshot name: the only ones Portcullis reads. */
export function secretsOf(snap: Snapshot): string[] {
  const out = new Set<string>();
  for (const dr of snap.destinationRules.values())
    if (dr.credential) out.add(`${dr.credential.namespace}/${dr.credential.name}`);
  return [...out].sort();
}

/** `group/resource` as RBAC and error messages name it. */
function groupResource(r: KubeResource): string {
  return r.group === '' ? r.resource : `${r.resource}.${r.group}`;
}

/** The RBAC rule that a 403 on `r` says is missing. */
function missingRule(r: KubeResource, namespace?: string): string {
  const scope =
    namespace !== undefined
      ? ` (a Role in namespace ${namespace}${r === SECRET_RESOURCE ? ', or resourceNames for the Secret' : ''})`
      : ' (a ClusterRole)';
  return `apiGroups: ["${r.group}"], resources: ["${r.resource}"], verbs: [${r.verbs.map((v) => `"${v}"`).join(', ')}]${scope}`;
}

/** Sort an error from client-node or the API into a catalogue code and a message that says what to do. */
export function classify(
  err: unknown,
  r: KubeResource,
  server: string,
  namespace?: string,
): { code: ErrorCode; message: string } {
  const status =
    err instanceof KubeApiError
      ? err.statusCode
      : typeof (err as { statusCode?: unknown })?.statusCode === 'number'
        ? (err as { statusCode: number }).statusCode
        : undefined;
  const what = `${groupResource(r)}${namespace !== undefined ? ` in namespace ${namespace}` : ''}`;
  const detail = err instanceof Error ? err.message : String(err);
  if (status === 403)
    return {
      code: 'PCL_KUBE_FORBIDDEN',
      message: `list/watch ${what} is forbidden (${detail}): the ServiceAccount needs the RBAC rule ${missingRule(r, namespace)}`,
    };
  if (status === 404)
    return {
      code: 'PCL_KUBE_CRD_MISSING',
      message: `the API server does not serve ${what} (${r.group === '' ? '' : `${r.group}/`}${r.version}): install its CRD`,
    };
  if (status === 401)
    return { code: 'PCL_KUBE_UNAUTHORIZED', message: `${server} refused the credentials (401) for ${what}` };
  if (status !== undefined)
    return { code: 'PCL_KUBE_REQUEST_FAILED', message: `list/watch ${what}: HTTP ${status}: ${detail}` };
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return {
    code: 'PCL_KUBE_UNREACHABLE',
    message: `cannot reach the Kubernetes API at ${server} for ${what}: ${cause?.code ?? cause?.message ?? detail}`,
  };
}

export class KubeSource extends ConfigEmitter {
  readonly #opts: KubeSourceOptions;
  readonly #client: KubeClient;
  readonly #feeds: Feed[] = [];
  /** `namespace/name` → the informer of that one Secret. */
  readonly #secrets = new Map<string, Feed>();
  #current: LoadResult | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #started = false;
  readonly #log: (line: string) => void;
  #metrics: { errors: Counter; relists: Counter; healthy: Gauge } | null = null;
  #waiters: (() => void)[] = [];

  constructor(opts: KubeSourceOptions) {
    super();
    this.#opts = opts;
    this.#client = opts.client;
    this.#log = opts.log ?? (() => {});
  }

  get current(): LoadResult | undefined {
    return this.#current;
  }

  /** Start every informer; resolves once each kind has been listed once (retrying with backoff until then). */
  async start(): Promise<LoadResult> {
    if (this.#closed) throw new Error('KubeSource is closed');
    this.#started = true;
    for (const r of this.#opts.resources ?? SERVE_RESOURCES)
      this.#feeds.push(this.#feed(r, resourcePath(r), groupResource(r)));
    await this.#until(() => this.#feeds.every((f) => f.synced));
    if (this.#closed) throw new Error('KubeSource is closed');
    this.#current = this.#build();
    return this.#current;
  }

  /**
   * Watch exactly these Secrets (`namespace/name`), each on its own: the gateway calls this with the credentials its
   * DestinationRules name. Resolves once each new one has been listed (or failed once).
   */
  async watchSecrets(refs: Iterable<string>): Promise<void> {
    const wanted = new Set(refs);
    for (const [ref, feed] of this.#secrets) {
      if (wanted.has(ref)) continue;
      this.#stopFeed(feed);
      this.#secrets.delete(ref);
      this.#schedule();
    }
    const added: Feed[] = [];
    for (const ref of wanted) {
      if (this.#secrets.has(ref) || this.#closed) continue;
      const [namespace, name] = [ref.slice(0, ref.indexOf('/')), ref.slice(ref.indexOf('/') + 1)];
      const feed = this.#feed(
        SECRET_RESOURCE,
        resourcePath(SECRET_RESOURCE, namespace),
        `secret ${ref}`,
        `metadata.name=${name}`,
        namespace,
      );
      this.#secrets.set(ref, feed);
      added.push(feed);
    }
    await this.#until(() => added.every((f) => f.synced || f.failure !== null || f.stopped));
  }

  /** Rebuild from what the informers hold now. */
  async reload(): Promise<void> {
    if (!this.#closed && this.#started) this.#emitBuild();
  }

  /** Why the configuration may be stale, or null when every watch is up. */
  degraded(): string | null {
    const failing = [...this.#feeds, ...this.#secrets.values()].filter((f) => f.failure !== null);
    if (failing.length === 0) return null;
    return `Kubernetes API: ${failing.map((f) => `${f.label}: ${f.failure!.code}`).join('; ')} (serving the last configuration)`;
  }

  /** Counters of API failures and relists, and whether every watch is up. */
  registerMetrics(registry: Registry): void {
    this.#metrics = {
      errors: new Counter({
        name: 'portcullis_kube_api_errors_total',
        help: 'Failed list/watch requests to the Kubernetes API, by resource and code',
        labelNames: ['resource', 'code'],
        registers: [registry],
      }),
      relists: new Counter({
        name: 'portcullis_kube_relists_total',
        help: 'Lists after the first (410 Gone or a lost watch), by resource',
        labelNames: ['resource'],
        registers: [registry],
      }),
      healthy: new Gauge({
        name: 'portcullis_kube_api_healthy',
        help: '1 when every Kubernetes watch is up, 0 while serving a possibly stale configuration',
        registers: [registry],
      }),
    };
    this.#metrics.healthy.set(this.degraded() === null ? 1 : 0);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    for (const f of [...this.#feeds, ...this.#secrets.values()]) this.#stopFeed(f);
    for (const w of this.#waiters.splice(0)) w();
  }

  #feed(resource: KubeResource, path: string, label: string, fieldSelector?: string, namespace?: string): Feed {
    const feed: Feed = {
      resource,
      label,
      informer: this.#client.informer(path, {
        fieldSelector,
        onWatchOpen: () => this.#recovered(feed),
        onWatchEvent: () => this.#recovered(feed),
        onListed: () => {
          feed.lists++;
          if (feed.lists > 1) this.#metrics?.relists.inc({ resource: groupResource(resource) });
          feed.synced = true;
          this.#recovered(feed);
          this.#schedule();
          this.#wake();
        },
      }),
      synced: false,
      lists: 0,
      failure: null,
      retries: 0,
      timer: undefined,
      stopped: false,
    };
    const changed = (): void => this.#schedule();
    feed.informer.on('add', changed);
    feed.informer.on('update', changed);
    feed.informer.on('delete', changed);
    feed.informer.on('error', (err: unknown) => this.#failed(feed, err, namespace));
    void feed.informer.start().catch((err: unknown) => this.#failed(feed, err, namespace));
    return feed;
  }

  #stopFeed(feed: Feed): void {
    feed.stopped = true;
    if (feed.timer) clearTimeout(feed.timer);
    void feed.informer.stop();
  }

  #failed(feed: Feed, err: unknown, namespace?: string): void {
    if (feed.stopped || this.#closed) return;
    const { code, message } = classify(err, feed.resource, this.#client.server, namespace);
    const first = feed.failure === null || feed.failure.message !== message;
    feed.failure = { code, message };
    this.#metrics?.errors.inc({ resource: groupResource(feed.resource), code });
    this.#metrics?.healthy.set(0);
    const base = this.#opts.retryBaseMs ?? 1000;
    const delay = Math.min(base * 2 ** feed.retries, this.#opts.retryMaxMs ?? 30_000);
    feed.retries++;
    if (first || feed.retries % 5 === 0) {
      this.#log(
        `${code}: ${message}; ${feed.synced ? 'serving the last configuration, ' : 'not ready, '}retrying in ${(delay / 1000).toFixed(1)} s`,
      );
    }
    if (this.listenerCount('error') > 0) this.emit('error', Object.assign(new Error(message), { code }));
    this.#wake();
    feed.timer = setTimeout(() => {
      feed.timer = undefined;
      // Resumes the watch from the last resourceVersion, or lists again when there is none (or it is 410 Gone).
      if (!feed.stopped && !this.#closed)
        void feed.informer.start().catch((e: unknown) => this.#failed(feed, e, namespace));
    }, delay);
    // Not unref'd: while start() waits for the API, this timer is what keeps the process alive (close() clears it).
  }

  #recovered(feed: Feed): void {
    if (feed.failure === null) return;
    this.#log(`${feed.label}: the Kubernetes API answers again`);
    feed.failure = null;
    feed.retries = 0;
    if (this.degraded() === null) this.#metrics?.healthy.set(1);
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  async #until(done: () => boolean): Promise<void> {
    while (!done() && !this.#closed) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  #schedule(): void {
    if (this.#closed || this.#current === undefined) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#emitBuild();
    }, this.#opts.debounceMs ?? 20);
  }

  #emitBuild(): void {
    try {
      this.#current = this.#build();
      this.emit('update', this.#current);
    } catch (err) {
      if (this.listenerCount('error') > 0) this.emit('error', err instanceof Error ? err : new Error(String(err)));
    }
  }

  #build(): LoadResult {
    const objects: ApiObject[] = [];
    for (const f of [...this.#feeds, ...this.#secrets.values()]) {
      const apiVersion = f.resource.group === '' ? f.resource.version : `${f.resource.group}/${f.resource.version}`;
      // Items of a list of built-in kinds come without apiVersion and kind; watch events carry them.
      for (const o of f.informer.list())
        objects.push({ apiVersion, kind: f.resource.kind, ...(o as unknown as ApiObject) });
    }
    // Informers keep a map per namespace; the order of a folder is its files', here the objects' names.
    objects.sort((a, b) => key(a).localeCompare(key(b)));
    return loadApiObjects(objects, {
      settings: this.#opts.settings ?? null,
      env: this.#opts.env ?? process.env,
      previous: this.#current,
    });
  }
}

function key(o: ApiObject): string {
  const m = (o.metadata ?? {}) as { namespace?: string; name?: string };
  return `${String(o.kind)}/${m.namespace ?? ''}/${m.name ?? ''}`;
}
