/**
 * A fake Kubernetes API server for tests, speaking the real protocol closely enough for `kubectl` 1.32: TLS, a
 * bearer token (or a client certificate), discovery, list and watch with resourceVersion and bookmarks, 410 Gone for
 * an expired resourceVersion, create/update/delete, merge and server-side-apply patches, the `/status` subresource,
 * server-side Tables for `kubectl get`, and switches for the failures a controller must survive (403 on a resource,
 * the server going away, every watch expiring).
 * Protocol facts from kubernetes/apiserver (pkg/endpoints/handlers/watch.go, get.go) and
 * kubernetes/apimachinery (pkg/apis/meta/v1/types.go: Status, WatchEvent, Table).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { parse as parseYaml } from 'yaml';

/** One resource the fake serves (the same shape as src/kube/access.ts's KubeResource, minus RBAC). */
export interface FakeResource {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly resource: string;
  readonly namespaced: boolean;
}

export type KubeObject = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata?: Record<string, unknown>;
};

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly contentType: string | undefined;
  readonly accept: string | undefined;
  readonly body: string;
  /** Who asked: `token:<token>` or `cert:<subject CN>` (anonymous requests are refused before they are recorded). */
  readonly user: string;
}

export interface FakeKubeApiOptions {
  /** PEM chain and key of the serving certificate (must name 127.0.0.1). */
  readonly certPem: string;
  readonly keyPem: string;
  /** Accepted bearer tokens. */
  readonly tokens: readonly string[];
  /** CA that signs accepted client certificates (PEM); optional. */
  readonly clientCaPem?: string;
  readonly resources: readonly FakeResource[];
  /** How often open watches that asked for them get a BOOKMARK. Default 1 s. */
  readonly bookmarkIntervalMs?: number;
  readonly host?: string;
  readonly port?: number;
}

interface WatchEvent {
  readonly rv: number;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly res: FakeResource;
  readonly object: KubeObject;
}

interface OpenWatch {
  readonly res: FakeResource;
  readonly namespace: string | undefined;
  readonly filter: (o: KubeObject) => boolean;
  readonly table: boolean;
  readonly bookmarks: boolean;
  readonly response: ServerResponse;
  sentRv: number;
}

const status = (code: number, reason: string, message: string, details?: Record<string, unknown>): KubeObject => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message,
  reason,
  ...(details ? { details } : {}),
  code,
});

function apiVersionOf(r: FakeResource): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

function groupResource(r: FakeResource): string {
  return r.group === '' ? r.resource : `${r.resource}.${r.group}`;
}

function meta(o: KubeObject): Record<string, unknown> {
  if (typeof o.metadata !== 'object' || o.metadata === null) o.metadata = {};
  return o.metadata;
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386 JSON merge patch (strategic merge and apply are approximated by it: enough for whole-field updates). */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * Server-side apply, as far as status needs it: maps merge, and lists of objects keyed by `type` (conditions) or
 * `name` (listeners) merge item by item, so an applier's conditions sit beside another manager's (the Gateway API
 * CRDs declare these lists `x-kubernetes-list-type: map`). Other lists are replaced.
 */
export function applyPatch(target: unknown, patch: unknown): unknown {
  if (Array.isArray(patch) && Array.isArray(target)) {
    const keyOf = (v: unknown): string | undefined =>
      isObject(v)
        ? typeof v.type === 'string'
          ? `type=${v.type}`
          : typeof v.name === 'string'
            ? `name=${v.name}`
            : undefined
        : undefined;
    if (patch.length > 0 && patch.every((p) => keyOf(p) !== undefined) && target.every((t) => keyOf(t) !== undefined)) {
      const out = target.map((t) => clone(t));
      for (const p of patch) {
        const i = out.findIndex((t) => keyOf(t) === keyOf(p));
        if (i >= 0) out[i] = applyPatch(out[i], p);
        else out.push(clone(p));
      }
      return out;
    }
    return clone(patch);
  }
  if (!isObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) out[k] = v === null ? null : applyPatch(out[k], v);
  return out;
}

/** `key=value,key!=value` label and field selectors (what kubectl and informers send). */
function selector(
  text: string | null,
  get: (o: KubeObject, key: string) => string | undefined,
): (o: KubeObject) => boolean {
  if (text === null || text === '') return () => true;
  const terms = text.split(',').map((t) => {
    const m = /^([^!=]+)(!=|==|=)(.*)$/.exec(t.trim());
    if (!m) return (o: KubeObject) => get(o, t.trim()) !== undefined;
    const [, key, op, value] = m;
    return (o: KubeObject) => (op === '!=' ? get(o, key) !== value : get(o, key) === value);
  });
  return (o) => terms.every((t) => t(o));
}

const fieldOf = (o: KubeObject, key: string): string | undefined => {
  let cur: unknown = o;
  for (const part of key.split('.')) cur = isObject(cur) ? cur[part] : undefined;
  return typeof cur === 'string' ? cur : undefined;
};
const labelOf = (o: KubeObject, key: string): string | undefined => {
  const labels = meta(o).labels;
  return isObject(labels) && typeof labels[key] === 'string' ? labels[key] : undefined;
};

export class FakeKubeApi {
  readonly requests: RecordedRequest[] = [];
  readonly #opts: FakeKubeApiOptions;
  #server: Server;
  readonly #sockets = new Set<Socket>();
  #resources: FakeResource[];
  /** `resource.group` → namespace/name → object. */
  readonly #store = new Map<string, Map<string, KubeObject>>();
  readonly #events: WatchEvent[] = [];
  #rv = 1000;
  /** Watches from a resourceVersion below this get 410 Gone. */
  #compactedRv = 0;
  readonly #watches = new Set<OpenWatch>();
  /** `resource.group` or `resource.group:verb` → forbidden. */
  readonly #forbidden = new Set<string>();
  #bookmarkTimer: NodeJS.Timeout | undefined;
  #port = 0;
  #up = false;

  constructor(opts: FakeKubeApiOptions) {
    this.#opts = opts;
    this.#resources = [...opts.resources];
    this.#server = this.#makeServer();
  }

  #makeServer(): Server {
    const server = createServer(
      {
        cert: this.#opts.certPem,
        key: this.#opts.keyPem,
        ...(this.#opts.clientCaPem ? { ca: this.#opts.clientCaPem, requestCert: true, rejectUnauthorized: false } : {}),
      },
      (req, res) => void this.#handle(req, res),
    );
    server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.once('close', () => this.#sockets.delete(s));
    });
    // A client that drops its TLS handshake must not crash the fake.
    server.on('tlsClientError', () => {});
    return server;
  }

  /** Listen (again, on the same port after `stop()`). */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#port || this.#opts.port || 0, this.#opts.host ?? '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#port = (this.#server.address() as AddressInfo).port;
    this.#up = true;
    this.#bookmarkTimer = setInterval(() => this.sendBookmarks(), this.#opts.bookmarkIntervalMs ?? 1000);
    this.#bookmarkTimer.unref();
  }

  /** Go away: close the listener and every connection (watches end abruptly, as when the API server dies). */
  async stop(): Promise<void> {
    if (!this.#up) return;
    this.#up = false;
    clearInterval(this.#bookmarkTimer);
    for (const w of this.#watches) w.response.destroy();
    this.#watches.clear();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const s of this.#sockets) s.destroy();
    await closed;
    this.#server = this.#makeServer();
  }

  get url(): string {
    return `https://${this.#opts.host ?? '127.0.0.1'}:${this.#port}`;
  }

  get resourceVersion(): number {
    return this.#rv;
  }

  /** Answer 403 for a resource (all verbs, or one). */
  forbid(resource: string, group: string, verb?: string): void {
    this.#forbidden.add(`${group === '' ? resource : `${resource}.${group}`}${verb ? `:${verb}` : ''}`);
  }

  allow(resource: string, group: string, verb?: string): void {
    this.#forbidden.delete(`${group === '' ? resource : `${resource}.${group}`}${verb ? `:${verb}` : ''}`);
  }

  /** Stop serving a resource (a CRD that is not installed): 404 and gone from discovery. */
  removeResource(resource: string, group: string): void {
    this.#resources = this.#resources.filter((r) => !(r.resource === resource && r.group === group));
  }

  /**
   * Forget the event history: every open watch gets an ERROR event with 410 Gone and is closed, and a watch from any
   * resourceVersion issued so far is refused the same way (etcd compaction).
   */
  expireWatches(): void {
    this.#compactedRv = this.#rv + 1;
    this.#events.length = 0;
    for (const w of [...this.#watches]) this.#endWatchGone(w, this.#rv);
  }

  /** Send a BOOKMARK to every watch that allowed them. */
  sendBookmarks(): void {
    for (const w of this.#watches) {
      if (!w.bookmarks) continue;
      this.#write(w, {
        type: 'BOOKMARK',
        object: { kind: w.res.kind, apiVersion: apiVersionOf(w.res), metadata: { resourceVersion: String(this.#rv) } },
      });
    }
  }

  /** Open watch streams right now, per `resource.group` (tests wait for a client to be watching). */
  watchers(resource?: string): number {
    return [...this.#watches].filter(
      (w) => resource === undefined || groupResource(w.res) === resource || w.res.resource === resource,
    ).length;
  }

  // ---- the store, for tests ----

  #resourceFor(apiVersion: string, kind: string): FakeResource {
    const r =
      this.#resources.find((x) => apiVersionOf(x) === apiVersion && x.kind === kind) ??
      this.#resources.find((x) => x.kind === kind && apiVersion.startsWith(x.group === '' ? 'v' : `${x.group}/`));
    if (!r) throw new Error(`fake API: no resource for ${apiVersion} ${kind}`);
    return r;
  }

  #bucket(r: FakeResource): Map<string, KubeObject> {
    const key = groupResource(r);
    let m = this.#store.get(key);
    if (!m) this.#store.set(key, (m = new Map()));
    return m;
  }

  /** Create or replace an object directly (as if applied), emitting the watch event. */
  put(object: KubeObject): KubeObject {
    const r = this.#resourceFor(String(object.apiVersion), String(object.kind));
    const m = meta(object);
    const ns = r.namespaced ? String(m.namespace ?? 'default') : undefined;
    const existing = this.get(r.resource, r.group, ns, String(m.name));
    return existing ? this.#update(r, clone(object), existing, 'all') : this.#create(r, clone(object), ns);
  }

  get(resource: string, group: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const r = this.#resources.find((x) => x.resource === resource && x.group === group);
    if (!r) return undefined;
    const o = this.#bucket(r).get(`${namespace ?? ''}/${name}`);
    return o ? clone(o) : undefined;
  }

  list(resource: string, group: string): KubeObject[] {
    const r = this.#resources.find((x) => x.resource === resource && x.group === group);
    return r ? [...this.#bucket(r).values()].map(clone) : [];
  }

  remove(resource: string, group: string, namespace: string | undefined, name: string): boolean {
    const r = this.#resources.find((x) => x.resource === resource && x.group === group);
    return r ? this.#delete(r, `${namespace ?? ''}/${name}`) !== undefined : false;
  }

  #create(r: FakeResource, object: KubeObject, namespace: string | undefined): KubeObject {
    const m = meta(object);
    object.apiVersion = apiVersionOf(r);
    object.kind = r.kind;
    if (r.namespaced) m.namespace = namespace;
    else delete m.namespace;
    m.uid = randomUUID();
    m.generation = 1;
    m.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    m.resourceVersion = String(++this.#rv);
    this.#bucket(r).set(`${namespace ?? ''}/${String(m.name)}`, object);
    this.#emit({ rv: this.#rv, type: 'ADDED', res: r, object: clone(object) });
    return clone(object);
  }

  /** Replace `part` of an object: the main resource (status kept) or only status; generation moves with spec. */
  #update(r: FakeResource, next: KubeObject, current: KubeObject, part: 'main' | 'status' | 'all'): KubeObject {
    const cm = meta(current);
    let out: KubeObject;
    if (part === 'status') {
      out = { ...clone(current), status: next.status };
    } else {
      out = clone(next);
      if (part === 'main') {
        if (current.status !== undefined) out.status = clone(current.status);
        else delete out.status;
      }
    }
    const m = meta(out);
    out.apiVersion = apiVersionOf(r);
    out.kind = r.kind;
    m.name = cm.name;
    if (r.namespaced) m.namespace = cm.namespace;
    m.uid = cm.uid;
    m.creationTimestamp = cm.creationTimestamp;
    const specChanged = JSON.stringify(out.spec) !== JSON.stringify(current.spec);
    m.generation = Number(cm.generation ?? 1) + (part !== 'status' && specChanged ? 1 : 0);
    const { resourceVersion: _a, ...restNew } = m;
    const { resourceVersion: _b, ...restOld } = cm;
    if (JSON.stringify({ ...out, metadata: restNew }) === JSON.stringify({ ...current, metadata: restOld }))
      return clone(current);
    m.resourceVersion = String(++this.#rv);
    this.#bucket(r).set(`${String(cm.namespace ?? '')}/${String(cm.name)}`, out);
    this.#emit({ rv: this.#rv, type: 'MODIFIED', res: r, object: clone(out) });
    return clone(out);
  }

  #delete(r: FakeResource, key: string): KubeObject | undefined {
    const bucket = this.#bucket(r);
    const current = bucket.get(key);
    if (!current) return undefined;
    bucket.delete(key);
    const gone = clone(current);
    meta(gone).resourceVersion = String(++this.#rv);
    this.#emit({ rv: this.#rv, type: 'DELETED', res: r, object: clone(gone) });
    return gone;
  }

  #emit(e: WatchEvent): void {
    this.#events.push(e);
    for (const w of this.#watches) this.#deliver(w, e);
  }

  #deliver(w: OpenWatch, e: WatchEvent): void {
    if (e.res !== w.res || e.rv <= w.sentRv) return;
    const ns = meta(e.object).namespace;
    if (w.namespace !== undefined && ns !== w.namespace) return;
    if (!w.filter(e.object)) return;
    w.sentRv = e.rv;
    this.#write(w, { type: e.type, object: w.table ? this.#table([e.object], false) : e.object });
  }

  #write(w: OpenWatch, event: Record<string, unknown>): void {
    if (!w.response.writableEnded) w.response.write(`${JSON.stringify(event)}\n`);
  }

  #endWatchGone(w: OpenWatch, rv: number): void {
    this.#write(w, {
      type: 'ERROR',
      object: status(410, 'Expired', `too old resource version: ${rv} (${this.#compactedRv})`),
    });
    w.response.end();
    this.#watches.delete(w);
  }

  // ---- HTTP ----

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'https://fake');
    const send = (code: number, obj: unknown): void => {
      if (res.headersSent) return;
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(obj));
    };
    const user = this.#authenticated(req);
    if (user === null) {
      send(401, status(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    this.requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      contentType: req.headers['content-type'],
      accept: req.headers.accept,
      body,
      user,
    });
    try {
      this.#route(req, res, url, body, send);
    } catch (err) {
      send(500, status(500, 'InternalError', err instanceof Error ? err.message : String(err)));
    }
  }

  #authenticated(req: IncomingMessage): string | null {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ') && this.#opts.tokens.includes(auth.slice(7))) return `token:${auth.slice(7)}`;
    const tls = req.socket as TLSSocket;
    if (this.#opts.clientCaPem === undefined || tls.authorized !== true) return null;
    return `cert:${String(tls.getPeerCertificate().subject?.CN ?? '')}`;
  }

  #route(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    body: string,
    send: (code: number, obj: unknown) => void,
  ): void {
    const method = req.method ?? 'GET';
    const parts = url.pathname.split('/').filter((p) => p !== '');
    // ---- discovery ----
    if (method === 'GET' && url.pathname === '/api')
      return send(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
    if (method === 'GET' && url.pathname === '/apis') return send(200, this.#groupList());
    if (method === 'GET' && url.pathname === '/openapi/v3') return send(200, this.#openApiIndex());
    if (method === 'GET' && url.pathname.startsWith('/openapi/v3/')) {
      const doc = this.#openApiDoc(url.pathname.slice('/openapi/v3/'.length));
      return doc
        ? send(200, doc)
        : send(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    }
    if (method === 'GET' && url.pathname === '/version')
      return send(200, { major: '1', minor: '32', gitVersion: 'v1.32.0-fake', platform: 'linux/amd64' });
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === 'api' && parts.length >= 2) {
      group = '';
      version = parts[1];
      rest = parts.slice(2);
    } else if (parts[0] === 'apis' && parts.length >= 3) {
      group = parts[1];
      version = parts[2];
      rest = parts.slice(3);
    } else if (parts[0] === 'apis' && parts.length === 2) {
      const g = this.#groupList().groups.find((x) => x.name === parts[1]);
      return g
        ? send(200, { kind: 'APIGroup', apiVersion: 'v1', ...g })
        : send(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    } else {
      return send(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    }
    if (rest.length === 0 && method === 'GET') {
      const list = this.#resources.filter((r) => r.group === group && r.version === version);
      if (list.length === 0)
        return send(404, status(404, 'NotFound', 'the server could not find the requested resource'));
      return send(200, this.#resourceList(group, version, list));
    }
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, sub] = rest;
    const r = this.#resources.find((x) => x.group === group && x.version === version && x.resource === plural);
    if (!r || rest.length > 3 || (sub !== undefined && sub !== 'status')) {
      return send(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    }
    if (!r.namespaced && namespace !== undefined)
      return send(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    const watching = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const verb = (
      {
        GET: name === undefined ? (watching ? 'watch' : 'list') : 'get',
        POST: 'create',
        PUT: 'update',
        PATCH: 'patch',
        DELETE: 'delete',
      } as Record<string, string>
    )[method];
    if (verb === undefined) return send(405, status(405, 'MethodNotAllowed', `${method} is not supported`));
    const gr = groupResource(r);
    if (this.#forbidden.has(gr) || this.#forbidden.has(`${gr}:${verb}`)) {
      const scope = namespace !== undefined ? `in the namespace "${namespace}"` : 'at the cluster scope';
      return send(
        403,
        status(
          403,
          'Forbidden',
          `${gr}${name ? ` "${name}"` : ''} is forbidden: User "system:serviceaccount:istio-system:portcullis" cannot ${verb} resource "${r.resource}"${sub ? ` "${sub}"` : ''} in API group "${group}" ${scope}`,
          { kind: r.resource, group },
        ),
      );
    }
    const key = `${namespace ?? ''}/${name ?? ''}`;
    const table = (req.headers.accept ?? '').includes('as=Table');
    const notFound = (): void =>
      send(404, status(404, 'NotFound', `${gr} "${name}" not found`, { name, group, kind: r.resource }));
    if (r.namespaced && namespace === undefined && name !== undefined) return notFound();

    if (verb === 'list' || verb === 'watch') {
      const filter = (
        (a, b) => (o: KubeObject) =>
          a(o) && b(o)
      )(
        selector(url.searchParams.get('labelSelector'), labelOf),
        selector(url.searchParams.get('fieldSelector'), fieldOf),
      );
      const items = [...this.#bucket(r).values()].filter(
        (o) => (namespace === undefined || meta(o).namespace === namespace) && filter(o),
      );
      if (verb === 'list') {
        const rvParam = url.searchParams.get('resourceVersion');
        if (rvParam !== null && rvParam !== '' && rvParam !== '0' && Number(rvParam) < this.#compactedRv) {
          return send(410, status(410, 'Expired', `too old resource version: ${rvParam} (${this.#compactedRv})`));
        }
        if (table) return send(200, this.#table(items, true));
        return send(200, {
          kind: `${r.kind}List`,
          apiVersion: apiVersionOf(r),
          metadata: { resourceVersion: String(this.#rv) },
          items: items.map(clone),
        });
      }
      return this.#watch(r, namespace, filter, url, table, res);
    }
    if (verb === 'get') {
      const o = this.#bucket(r).get(key);
      if (!o) return notFound();
      return send(200, table ? this.#table([o], true) : o);
    }
    if (verb === 'delete') {
      const gone = this.#delete(r, key);
      return gone ? send(200, gone) : notFound();
    }
    let incoming: KubeObject;
    const contentType = (req.headers['content-type'] ?? '').split(';')[0].trim();
    try {
      incoming = (contentType === 'application/apply-patch+yaml' ? parseYaml(body) : JSON.parse(body)) as KubeObject;
    } catch (err) {
      return send(
        400,
        status(400, 'BadRequest', `cannot read the body: ${err instanceof Error ? err.message : String(err)}`),
      );
    }
    if (!isObject(incoming)) return send(400, status(400, 'BadRequest', 'the body must be an object'));
    if (verb === 'create') {
      if (sub !== undefined) return send(405, status(405, 'MethodNotAllowed', 'create on a subresource'));
      const n = meta(incoming).name;
      if (typeof n !== 'string' || n === '')
        return send(422, status(422, 'Invalid', `${r.kind} is invalid: metadata.name: Required value`));
      if (this.#bucket(r).has(`${namespace ?? ''}/${n}`))
        return send(
          409,
          status(409, 'AlreadyExists', `${gr} "${n}" already exists`, { name: n, group, kind: r.resource }),
        );
      return send(201, this.#create(r, incoming, namespace));
    }
    const current = this.#bucket(r).get(key);
    const part = sub === 'status' ? 'status' : 'main';
    if (verb === 'update') {
      if (!current) return notFound();
      const wantRv = meta(incoming).resourceVersion;
      if (wantRv !== undefined && wantRv !== meta(current).resourceVersion) {
        return send(
          409,
          status(
            409,
            'Conflict',
            `Operation cannot be fulfilled on ${gr} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
            { name, group, kind: r.resource },
          ),
        );
      }
      return send(200, this.#update(r, incoming, current, part));
    }
    // patch
    if (contentType === 'application/apply-patch+yaml') {
      const manager = url.searchParams.get('fieldManager');
      if (!manager)
        return send(
          422,
          status(
            422,
            'Invalid',
            'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
          ),
        );
      if (!current) {
        if (sub !== undefined) return notFound();
        return send(201, this.#create(r, incoming, namespace));
      }
      return send(200, this.#update(r, applyPatch(current, incoming) as KubeObject, current, part));
    }
    if (contentType !== 'application/merge-patch+json' && contentType !== 'application/strategic-merge-patch+json') {
      return send(
        415,
        status(
          415,
          'UnsupportedMediaType',
          `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml`,
        ),
      );
    }
    if (!current) return notFound();
    return send(200, this.#update(r, mergePatch(current, incoming) as KubeObject, current, part));
  }

  #watch(
    r: FakeResource,
    namespace: string | undefined,
    filter: (o: KubeObject) => boolean,
    url: URL,
    table: boolean,
    res: ServerResponse,
  ): void {
    const rvParam = url.searchParams.get('resourceVersion');
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const w: OpenWatch = {
      res: r,
      namespace,
      filter,
      table,
      bookmarks: url.searchParams.get('allowWatchBookmarks') === 'true',
      response: res,
      sentRv: 0,
    };
    const from = rvParam === null || rvParam === '' || rvParam === '0' ? undefined : Number(rvParam);
    if (from !== undefined && from < this.#compactedRv) {
      this.#watches.add(w);
      this.#endWatchGone(w, from);
      return;
    }
    this.#watches.add(w);
    res.on('close', () => this.#watches.delete(w));
    if (from === undefined) {
      // No resourceVersion: "get state and start at most recent", i.e. a synthetic ADDED for every object first.
      for (const o of this.#bucket(r).values()) {
        if ((namespace === undefined || meta(o).namespace === namespace) && filter(o))
          this.#write(w, { type: 'ADDED', object: table ? this.#table([o], false) : o });
      }
      w.sentRv = this.#rv;
    } else {
      w.sentRv = from;
      for (const e of this.#events) this.#deliver(w, e);
      w.sentRv = Math.max(w.sentRv, from);
    }
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? '0');
    if (timeout > 0) {
      const t = setTimeout(() => {
        this.#watches.delete(w);
        res.end();
      }, timeout * 1000);
      t.unref();
      res.on('close', () => clearTimeout(t));
    }
  }

  #groupList(): {
    kind: string;
    apiVersion: string;
    groups: {
      name: string;
      versions: { groupVersion: string; version: string }[];
      preferredVersion: { groupVersion: string; version: string };
    }[];
  } {
    const groups = new Map<string, string[]>();
    for (const r of this.#resources) {
      if (r.group === '') continue;
      const v = groups.get(r.group) ?? [];
      if (!v.includes(r.version)) v.push(r.version);
      groups.set(r.group, v);
    }
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [...groups].map(([name, versions]) => ({
        name,
        versions: versions.map((version) => ({ groupVersion: `${name}/${version}`, version })),
        preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
      })),
    };
  }

  #resourceList(group: string, version: string, list: FakeResource[]): KubeObject {
    const verbs = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: group === '' ? version : `${group}/${version}`,
      resources: list.flatMap((r) => [
        { name: r.resource, singularName: r.kind.toLowerCase(), namespaced: r.namespaced, kind: r.kind, verbs },
        {
          name: `${r.resource}/status`,
          singularName: '',
          namespaced: r.namespaced,
          kind: r.kind,
          verbs: ['get', 'patch', 'update'],
        },
      ]),
    };
  }

  /**
   * OpenAPI v3, only as far as kubectl reads it: each group-version's PATCH operations declare the `fieldValidation`
   * query parameter, so `kubectl apply` leaves validation to the server (kubectl's QueryParamVerifierV3) instead of
   * downloading the OpenAPI v2 protobuf for client-side validation. The fake accepts what it is sent.
   */
  #openApiIndex(): KubeObject {
    const paths: Record<string, unknown> = {};
    for (const r of this.#resources) {
      const gv = r.group === '' ? `api/${r.version}` : `apis/${r.group}/${r.version}`;
      paths[gv] = { serverRelativeURL: `/openapi/v3/${gv}?hash=fake` };
    }
    return { paths };
  }

  #openApiDoc(gv: string): KubeObject | undefined {
    const list = this.#resources.filter(
      (r) => (r.group === '' ? `api/${r.version}` : `apis/${r.group}/${r.version}`) === gv,
    );
    if (list.length === 0) return undefined;
    const paths: Record<string, unknown> = {};
    for (const r of list) {
      const base = `/${gv}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.resource}/{name}`;
      paths[base] = {
        patch: {
          'x-kubernetes-group-version-kind': { group: r.group, version: r.version, kind: r.kind },
          'x-kubernetes-action': 'patch',
          parameters: ['dryRun', 'fieldManager', 'fieldValidation', 'force'].map((name) => ({
            name,
            in: 'query',
            schema: { type: 'string' },
          })),
          responses: {},
        },
      };
    }
    return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths };
  }

  /** A server-side Table (what `kubectl get` asks for): Name and Age, each row carrying the object's metadata. */
  #table(items: readonly KubeObject[], withListMeta: boolean): KubeObject {
    const age = (o: KubeObject): string => {
      const t = Date.parse(String(meta(o).creationTimestamp ?? ''));
      return Number.isNaN(t) ? '<unknown>' : `${Math.max(0, Math.round((Date.now() - t) / 1000))}s`;
    };
    return {
      kind: 'Table',
      apiVersion: 'meta.k8s.io/v1',
      metadata: withListMeta ? { resourceVersion: String(this.#rv) } : {},
      columnDefinitions: [
        { name: 'Name', type: 'string', format: 'name', description: 'Name of the object', priority: 0 },
        { name: 'Age', type: 'string', format: '', description: 'Time since creation', priority: 0 },
      ],
      rows: items.map((o) => ({
        cells: [meta(o).name, age(o)],
        object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: clone(meta(o)) },
      })),
    };
  }
}
