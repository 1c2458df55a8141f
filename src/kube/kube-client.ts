/**
 * Credentials and requests for the Kubernetes API, on @kubernetes/client-node: the kubeconfig (`--kubeconfig`,
 * `$KUBECONFIG`) or the pod's ServiceAccount (in-cluster), TLS always verified; plain JSON requests (objects stay
 * exactly as the API server sent them, dates as strings) and list+watch informers that resume from
 * resourceVersion, relist on 410 Gone and ask for bookmarks.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig, ListWatch, RequestContext, HttpMethod, Watch } from '@kubernetes/client-node';
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { fetch } from 'undici';
import { PortcullisError } from '../errors/portcullis-error.ts';
import type { KubeResource } from './access.ts';

/** Where the kubelet mounts a pod's ServiceAccount token and CA (client-go's rest.InClusterConfig). */
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubeCredentialsOptions {
  /** `--kubeconfig FILE`. */
  readonly kubeconfig?: string;
  readonly env?: Record<string, string | undefined>;
  /** The ServiceAccount folder (tests point it elsewhere). */
  readonly serviceAccountDir?: string;
}

/**
 * Choose credentials: `--kubeconfig`, then `$KUBECONFIG` (its first file), then the pod's ServiceAccount when
 * KUBERNETES_SERVICE_HOST is set. Throws PCL_KUBE_CREDENTIALS naming what was tried.
 */
export function loadKubeConfig(opts: KubeCredentialsOptions = {}): { config: KubeConfig; from: string } {
  const env = opts.env ?? process.env;
  const config = new KubeConfig();
  const file = opts.kubeconfig ?? env.KUBECONFIG?.split(':').find((f) => f !== '');
  if (file !== undefined) {
    try {
      config.loadFromFile(file);
    } catch (err) {
      throw new PortcullisError(
        'PCL_KUBE_CREDENTIALS',
        `cannot read kubeconfig ${file}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const cluster = config.getCurrentCluster();
    if (cluster === null)
      throw new PortcullisError('PCL_KUBE_CREDENTIALS', `kubeconfig ${file}: no current context with a cluster`);
    if (cluster.skipTLSVerify)
      throw new PortcullisError(
        'PCL_KUBE_CREDENTIALS',
        `kubeconfig ${file}: insecure-skip-tls-verify is refused (give the cluster's CA)`,
      );
    return { config, from: `kubeconfig ${file}` };
  }
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  const dir = opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  if (host !== undefined && host !== '' && port !== undefined && port !== '') {
    for (const f of ['token', 'ca.crt']) {
      if (!existsSync(join(dir, f)))
        throw new PortcullisError(
          'PCL_KUBE_CREDENTIALS',
          `in a pod (KUBERNETES_SERVICE_HOST=${host}) but ${join(dir, f)} is missing: is automountServiceAccountToken off?`,
        );
    }
    const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
    // The token file is re-read on every request (client-node's tokenFile provider): kubelet rotates it.
    config.loadFromClusterAndUser(
      { name: 'in-cluster', server, caFile: join(dir, 'ca.crt'), skipTLSVerify: false },
      { name: 'in-cluster', authProvider: { name: 'tokenFile', config: { tokenFile: join(dir, 'token') } } },
    );
    return { config, from: `in-cluster ServiceAccount (${server})` };
  }
  throw new PortcullisError(
    'PCL_KUBE_CREDENTIALS',
    '--kube needs credentials: --kubeconfig FILE, $KUBECONFIG, or a pod (KUBERNETES_SERVICE_HOST/PORT with a ServiceAccount token)',
  );
}

/** An answer from the API server; `body` is the parsed JSON (a Status on errors). */
export interface KubeResponse {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** The API path of a resource: `/apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>[/<sub>]]`. */
export function resourcePath(r: KubeResource, namespace?: string, name?: string, sub?: string): string {
  const base = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  const ns = r.namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${ns}/${r.resource}${name !== undefined ? `/${encodeURIComponent(name)}` : ''}${sub !== undefined ? `/${sub}` : ''}`;
}

/** An HTTP-level failure, with the API server's status code and Status message. */
export class KubeApiError extends Error {
  readonly statusCode: number;
  constructor(statusCode: number, message: string) {
    super(message);
    this.name = 'KubeApiError';
    this.statusCode = statusCode;
  }
}

/** The Status message the API server sent, or the HTTP status. */
export function statusMessage(res: KubeResponse): string {
  return typeof res.body.message === 'string' ? res.body.message : `HTTP ${res.status}`;
}

const METHODS: Record<string, HttpMethod> = {
  GET: HttpMethod.GET,
  POST: HttpMethod.POST,
  PUT: HttpMethod.PUT,
  PATCH: HttpMethod.PATCH,
  DELETE: HttpMethod.DELETE,
};

/** Requests with one KubeConfig's credentials. */
export class KubeClient {
  readonly config: KubeConfig;
  /** Per-request timeout (watches have their own). */
  readonly timeoutMs: number;

  constructor(config: KubeConfig, opts: { timeoutMs?: number } = {}) {
    this.config = config;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  get server(): string {
    return this.config.getCurrentCluster()?.server ?? '(no cluster)';
  }

  /** One request; network failures reject, every HTTP answer resolves (callers look at `status`). */
  async request(
    method: keyof typeof METHODS,
    path: string,
    opts: { query?: Record<string, string>; body?: unknown; contentType?: string } = {},
  ): Promise<KubeResponse> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const ctx = new RequestContext(url.toString(), METHODS[method]);
    await this.config.applySecurityAuthentication(ctx);
    const headers: Record<string, string> = { ...ctx.getHeaders(), accept: 'application/json' };
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] = opts.contentType ?? 'application/json';
    }
    // client-node builds a new undici Agent (with its TLS settings) for every request context. Closed once the answer
    // is read: an idle keep-alive socket left in it would otherwise hold the process for seconds after shutdown.
    const dispatcher = ctx.getDispatcher();
    let text: string;
    let res: Awaited<ReturnType<typeof fetch>>;
    try {
      res = await fetch(url, { method, headers, body, dispatcher, signal: AbortSignal.timeout(this.timeoutMs) });
      text = await res.text();
    } finally {
      dispatcher?.close().catch(() => {});
    }
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
    } catch {
      parsed = { message: text.slice(0, 200) };
    }
    return { status: res.status, body: parsed };
  }

  /** GET a list; rejects with KubeApiError on any non-200 (ListWatch relists on a 410). */
  async list(path: string, query: Record<string, string> = {}): Promise<KubernetesListObject<KubernetesObject>> {
    const res = await this.request('GET', path, { query });
    if (res.status !== 200) throw new KubeApiError(res.status, statusMessage(res));
    return res.body as unknown as KubernetesListObject<KubernetesObject>;
  }

  /**
   * A list+watch informer on `path` (client-node's ListWatch: list, watch from the list's resourceVersion, resume
   * from the last event's, relist on 410 Gone). Not started: call `start()`.
   */
  informer(
    path: string,
    opts: { fieldSelector?: string; onWatchEvent?: () => void; onWatchOpen?: () => void; onListed?: () => void } = {},
  ): ListWatch<KubernetesObject> {
    const query: Record<string, string> = opts.fieldSelector !== undefined ? { fieldSelector: opts.fieldSelector } : {};
    const list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      const result = await this.list(path, query);
      // ListWatch stores the items right after this promise settles: tell the caller once they are in.
      if (opts.onListed) setImmediate(opts.onListed);
      return result;
    };
    const watch = new BookmarkWatch(this.config, opts.onWatchEvent, opts.onWatchOpen);
    return new StoppableListWatch(path, watch, list, opts.fieldSelector);
  }
}

/**
 * client-node's ListWatch, whose `stop()` also ends a watch still waiting for its response headers: ListWatch holds a
 * watch's AbortController only once the API server has answered, so a stop in that window left the new watch open
 * (a long poll to the API server that kept a stopped gateway's process alive).
 */
class StoppableListWatch extends ListWatch<KubernetesObject> {
  readonly #watch: BookmarkWatch;

  constructor(
    path: string,
    watch: BookmarkWatch,
    list: () => Promise<KubernetesListObject<KubernetesObject>>,
    fieldSelector: string | undefined,
  ) {
    super(path, watch, list, false, undefined, fieldSelector);
    this.#watch = watch;
  }

  override async stop(): Promise<void> {
    this.#watch.stopAll();
    await super.stop();
  }
}

/**
 * client-node's Watch, asking for bookmarks (so a quiet resource's resume point stays fresh and a reconnect does not
 * hit 410) and a server-side timeout (client-go's 5-10 minutes), and telling the caller each time a watch is open
 * and each time an event (bookmarks included) arrives, which is how the source knows the API server is there.
 */
class BookmarkWatch extends Watch {
  readonly #onEvent: (() => void) | undefined;
  readonly #onOpen: (() => void) | undefined;
  readonly #open = new Set<AbortController>();
  #stopped = false;

  constructor(config: KubeConfig, onEvent?: () => void, onOpen?: () => void) {
    super(config);
    this.#onEvent = onEvent;
    this.#onOpen = onOpen;
  }

  /** Abort every open watch, and any that opens from now on. */
  stopAll(): void {
    this.#stopped = true;
    for (const c of this.#open) c.abort();
    this.#open.clear();
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    let failed = false;
    let controller: AbortController | undefined;
    controller = await super.watch(
      path,
      { ...queryParams, allowWatchBookmarks: true, timeoutSeconds: 300 + Math.floor(Math.random() * 300) },
      (phase, obj, watchObj) => {
        this.#onEvent?.();
        callback(phase, obj, watchObj);
      },
      (err) => {
        if (err) failed = true;
        if (controller !== undefined) this.#open.delete(controller);
        done(err);
      },
    );
    if (this.#stopped) {
      // Stopped while the API server was answering: end this watch now (its done callback sees the abort).
      controller.abort();
      return controller;
    }
    if (!failed) {
      this.#open.add(controller);
      this.#onOpen?.();
    }
    return controller;
  }
}
