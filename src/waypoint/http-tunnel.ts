/**
 * The L7 branch of the egress waypoint (seed 002): HTTP/1.1 inside one HBONE tunnel whose destination is an HTTP
 * port of a ServiceEntry bound to a waypoint-class Gateway. Each request passes named stages, each returning its
 * value or a `Refusal` answered in one place: framing (strict parsing by llhttp, smuggling refused with 400, the one
 * normalised path), authorize (the verified `%%source.principal%%`, both AuthorizationPolicy layers with HTTP
 * attributes, on the current snapshot), route (HTTPRoute matching, filters), originate (TLS with the backend's
 * per-identity credential), pick upstream (planned, resolved once and vetted with the current guard, as L4 does),
 * forward (streaming both ways on a pooled connection that only ever carries this caller's requests).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { buffersOnly } from './buffer-writes.ts';
import type { Duplex } from 'node:stream';
import type { HTTPRouteFilter } from '../config/api-types.ts';
import type { WaypointCode } from '../errors/waypoint-codes.ts';
import { statusOf } from '../errors/http-status.ts';
import type { SpiffeId } from '../identity/spiffe-id.ts';
import type { Destination } from '../mesh/destination.ts';
import type { GatewayModel, ServiceEntryModel, Snapshot } from '../mesh/snapshot.ts';
import { decideEgress } from '../policy/engine.ts';
import type { AddressGuard } from '../upstream/private-address-guard.ts';
import { formatAddress } from '../upstream/dial.ts';
import type { UpstreamAddress } from '../upstream/plan.ts';
import { applyLearnMode } from '../learn/learn-mode.ts';
import type { CredentialStore, ResolvedTls } from './credentials.ts';
import type { TlsPlan } from './origination.ts';
import { frameRequest, type Framed } from './framing.ts';
import { planOrigination } from './origination.ts';
import {
  headerLines,
  headerMapOf,
  outgoingRequestHeaders,
  outgoingRequestRaw,
  outgoingResponseHeaders,
  outgoingResponseRaw,
  withVerifiedPrincipal,
} from './principal-header.ts';
import type { RequestEvent } from '../events/request-event.ts';
import { pickBackend, type BackendTarget } from './routing/backend.ts';
import { applyModifiers, urlRewriteFor, type HeaderList } from './routing/filters.ts';
import { firstQueryValues } from './routing/path.ts';
import { RouteTableCache } from './routing/route-table.ts';
import { rawBadRequest, Refusal, writeRefusal, type Staged } from './refusal.ts';
import { classifyUpstreamError } from './upstream-errors.ts';
import { firstEndpointName, pickUpstream, planBackend, type PickMemo, type ReadyPlan } from './upstream-pick.ts';

export type ServiceEntryDestination = Extract<Destination, { kind: 'serviceEntry' }>;

export interface HttpTunnelContext {
  /** The HBONE stream AFTER the 200 was sent. */
  readonly stream: Duplex;
  /** The verified caller identity: the only identity source. */
  readonly peer: SpiffeId;
  readonly peerAddress: string;
  readonly destination: ServiceEntryDestination;
  /** The current snapshot; re-read per request. */
  readonly snapshot: () => Snapshot;
  /** Resolve a hostname once (the configured DNS). */
  readonly resolver: (host: string) => Promise<string[]>;
  /** The current private-address guard; read per request, so a narrowed allowedPrivateCidrs applies at once. */
  readonly guard: () => AddressGuard;
  readonly credentials: CredentialStore;
  /** One event per request (access log, metrics). Must not throw. */
  readonly emit?: (event: RequestEvent) => void;
  readonly signal?: AbortSignal;
  /** Warnings an operator should see (insecureSkipVerify). Defaults to nothing. */
  readonly warn?: (message: string) => void;
  /**
   * Maps the port about to be dialled. For local stand-ins of external hosts (tests, `portcullis` quickstarts) that
   * cannot listen on 443; identity by default.
   */
  readonly upstreamPort?: (host: string, port: number) => number;
  /** Random source for weighted backends, [0, 1). Default Math.random. */
  readonly random?: () => number;
  /** Route tables; shared between tunnels so each snapshot compiles once. Default: a process-wide cache. */
  readonly routes?: RouteTableCache;
  /** Give up connecting (TCP + TLS) to the upstream after this long. Default 10 s. */
  readonly connectTimeoutMs?: number;
}

/** Envoy's default `max_request_headers_kb` (60 KiB); larger headers get 400. */
const MAX_HEADER_BYTES = 60 * 1024;
/** Envoy's HTTP connection manager idle timeout default (1 h). */
const IDLE_TIMEOUT_MS = 3_600_000;
/** Methods for which node's client would add chunked framing to a request that has none (it never guesses here). */
const BODYLESS_BY_DEFAULT = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

const sharedRoutes = new RouteTableCache();

/** Per-tunnel state shared by its requests. */
interface TunnelState {
  /** The response of the request being read, while its request body may still fail to parse. */
  current: { res: ServerResponse; abort: (why: string) => void } | null;
  /** The last "originate" result, valid for the snapshot (and backend) it was computed from. */
  originated: OriginateMemo | null;
  /** The last upstream pool, valid for the TLS settings, port and vetted addresses it was looked up with. */
  pool: PoolMemo | null;
  /** The last vetting of upstream addresses, valid for the plan, guard, egress policies and answers it was made with. */
  picked: PickMemo | null;
}

/**
 * What "originate" computed for one backend on one snapshot. Everything it reads (the ServiceEntry, DestinationRule,
 * Secret, settings) lives in the snapshot, and snapshots are never mutated, so the same snapshot object and backend
 * give the same answer; certificate files named by path can change under an unchanged snapshot and are never
 * remembered. Per tunnel, so per caller identity.
 */
interface OriginateMemo {
  /** Weak: an idle tunnel must not keep a replaced snapshot (its indexes, every model) alive. */
  readonly snap: WeakRef<Snapshot>;
  readonly gw: GatewayModel;
  readonly serviceEntry: ServiceEntryModel;
  readonly port: BackendTarget['port'];
  readonly host: string;
  readonly result: Originated;
  readonly destinationRule: string | null;
}

/** The agent `CredentialStore.agent` returned for this tunnel's identity, TLS settings, port and addresses. */
interface PoolMemo {
  readonly tls: ResolvedTls | null;
  /** The vetted addresses (with their ports) the pool dials. */
  readonly addresses: readonly UpstreamAddress[];
  readonly generation: number;
  readonly agent: http.Agent;
}

/**
 * Serve HTTP/1.1 on an HBONE tunnel until the stream closes. Resolves when it does; never rejects.
 *
 * @example
 * if (destination.gateway.mode === 'waypoint' && destination.port.protocol === 'HTTP') {
 *   await handleHttpTunnel({ stream, peer, peerAddress, destination, snapshot: () => current, resolver, guard, credentials });
 * }
 */
export function handleHttpTunnel(ctx: HttpTunnelContext): Promise<void> {
  const state: TunnelState = { current: null, originated: null, pool: null, picked: null };
  const server = http.createServer({
    maxHeaderSize: MAX_HEADER_BYTES,
    requireHostHeader: false,
    keepAliveTimeout: IDLE_TIMEOUT_MS,
    requestTimeout: 0,
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => void serveRequest(ctx, state, req, res, false));
  server.on(
    'checkContinue',
    (req: IncomingMessage, res: ServerResponse) => void serveRequest(ctx, state, req, res, true),
  );
  server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => {
    const cur = state.current;
    state.current = null;
    if (cur) cur.abort(`malformed request body: ${err.message}`);
    if (err.code === 'ECONNRESET' || !socket.writable || cur?.res.headersSent) {
      socket.destroy();
      return;
    }
    const what =
      err.code === 'HPE_HEADER_OVERFLOW' ? `request headers larger than ${MAX_HEADER_BYTES} bytes` : err.message;
    socket.end(rawBadRequest(`malformed HTTP/1.1 request (${err.code ?? 'parse error'}): ${what}`));
  });
  const refuse = (_req: IncomingMessage, socket: Duplex, what: string) => {
    socket.end(rawBadRequest(`${what} is not supported inside an HBONE tunnel to an HTTP port`));
  };
  server.on('connect', (req: IncomingMessage, socket: Duplex) => refuse(req, socket, 'CONNECT'));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) =>
    refuse(req, socket, `Upgrade (${req.headers.upgrade ?? ''})`),
  );

  // node's HTTP server writes its response head as a latin1 string; Node 26's HTTP/2 stream corrupts a queued string
  // write (the first 16 bytes arrive as garbage), so the tunnel is only ever handed Buffers.
  const stream = buffersOnly(ctx.stream);
  return new Promise<void>((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      ctx.signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    const onAbort = () => stream.destroy();
    stream.once('close', finish);
    stream.once('error', () => stream.destroy());
    if (ctx.signal?.aborted) {
      stream.destroy();
      return;
    }
    ctx.signal?.addEventListener('abort', onAbort, { once: true });
    server.emit('connection', stream);
  });
}

/** What one request accumulates for its event. */
interface Trace {
  authority: string;
  path: string;
  route: RequestEvent['route'];
  backend: string | null;
  destinationRule: string | null;
  externalIdentity: string | null;
  secret: string | null;
  upstreamAddress: string | null;
  sni: string | null;
  policy: string | null;
  code: WaypointCode | null;
  reason: string | null;
  flags: string;
  warnings: string[];
  bytesReceived: number;
  bytesSent: number;
}

/** Flatten a header list into node's raw `[name, value, ...]` form. */
function flat(lines: HeaderList): string[] {
  const out: string[] = [];
  for (const [n, v] of lines) out.push(n, v);
  return out;
}

/** The request as the stages after framing see it: one snapshot, the identity-bearing headers. */
interface RequestView {
  readonly snap: Snapshot;
  readonly framed: Framed;
  /** Lower-case name → value, `%%source.principal%%` set to the verified identity (never the client's). */
  readonly headers: Map<string, string>;
}

/** Whether any of the filters is of this type (no list is built for a request no filter touches). */
function hasFilter(filters: readonly HTTPRouteFilter[], type: HTTPRouteFilter['type']): boolean {
  for (let i = 0; i < filters.length; i++) if (filters[i].type === type) return true;
  return false;
}

/** The tunnel's destination as the request's snapshot has it, once both policy layers allowed the request. */
interface Authorized {
  readonly se: ServiceEntryModel;
  readonly gw: GatewayModel;
  readonly servicePort: ServiceEntryModel['ports'][number];
}

/** Stage "authorize": the tunnel's destination must still exist, then both layers decide with every HTTP attribute. */
function authorize(ctx: HttpTunnelContext, v: RequestView, trace: Trace): Staged<Authorized> {
  const seRef = ctx.destination.serviceEntry.ref;
  const gone = (why: string): Refusal =>
    new Refusal('PCL_WAYPOINT_DESTINATION_GONE', `ServiceEntry ${seRef} ${why}`, 'NR');
  const se = v.snap.serviceEntries.get(ctx.destination.serviceEntry.key);
  const gw = v.snap.gateways.get(ctx.destination.gateway.key);
  if (!se || !gw || se.waypoint !== gw.key) {
    return gone(`is no longer bound to waypoint ${ctx.destination.gateway.ref}`);
  }
  const servicePort = se.ports.find((p) => p.number === ctx.destination.port.number);
  if (!servicePort) return gone(`no longer declares port ${ctx.destination.port.number}`);
  const { target } = v.framed;
  const decision = applyLearnMode(
    v.snap.settings,
    decideEgress([v.snap.gatewayLayer(gw.key), v.snap.serviceEntryLayer(se.key)], {
      principal: ctx.peer.uri,
      sourceIp: ctx.peerAddress,
      destinationIp: ctx.destination.ip ?? '',
      destinationPort: servicePort.number,
      // The normalised path: the one routed and forwarded (Envoy's RBAC reads the path after normalize_path).
      http: {
        method: v.framed.method,
        host: v.framed.authority,
        path: target.query === '' ? target.path : `${target.path}?${target.query}`,
        headers: Object.fromEntries(v.headers),
      },
    }),
    trace.warnings,
  );
  const denying = decision.layers.find((l) => l.decision === 'deny');
  trace.policy = (denying ?? decision.layers.find((l) => l.policy !== null))?.policy ?? null;
  if (decision.decision === 'deny') {
    const by = denying?.target ?? 'policy';
    return new Refusal('PCL_WAYPOINT_DENIED', `RBAC: access denied by ${by}: ${decision.reason}`);
  }
  return { se, gw, servicePort };
}

/** Where a request goes: the backend, the route's filters, and the Host and path it is sent with. */
interface Routed {
  readonly backend: BackendTarget;
  readonly filters: readonly HTTPRouteFilter[];
  readonly hostHeader: string;
  readonly upstreamPath: string;
}

/** Stage "route": the HTTPRoutes attached to the ServiceEntry (or the ServiceEntry itself when none is). */
function route(ctx: HttpTunnelContext, v: RequestView, a: Authorized, trace: Trace): Staged<Routed> {
  const { method, target } = v.framed;
  const table = (ctx.routes ?? sharedRoutes).table(v.snap, a.se.key, a.servicePort.number);
  const withQuery = (path: string): string => path + (target.query !== '' ? `?${target.query}` : '');
  // An invalid HTTPRoute on this parent fails closed: 503 naming it, never routing as if it were absent.
  if (table.invalid.length > 0) return new Refusal('PCL_WAYPOINT_INVALID_ROUTE', table.invalid.join('; '), 'NR');
  if (table.routeCount === 0) {
    if (table.refused.length > 0) {
      // An operator meant to route this host; bypassing a refused route would silently drop its identity mapping.
      return new Refusal('PCL_WAYPOINT_ROUTE_NOT_ACCEPTED', table.refused.join('; '), 'NR');
    }
    const backend: BackendTarget = { host: ctx.destination.host, serviceEntry: a.se, port: a.servicePort };
    trace.backend = `${backend.host}:${backend.port.number}`;
    return { backend, filters: [], hostHeader: v.framed.authority, upstreamPath: withQuery(target.path) };
  }
  const matched = table.match({ method, path: target.path, query: firstQueryValues(target.query), headers: v.headers });
  if (!matched) {
    const attached = `${table.routeCount} HTTPRoute(s) attached to ServiceEntry ${ctx.destination.serviceEntry.ref}`;
    const reason = `no route matched: ${attached}, none matches ${method} ${target.path}`;
    return new Refusal('PCL_WAYPOINT_NO_ROUTE', reason, 'NR');
  }
  const rule = matched.rule;
  trace.route = { name: rule.route, rule: rule.ruleIndex };
  const choice = pickBackend(rule.backends, (ctx.random ?? Math.random)());
  const invalid = (why: string): Refusal =>
    new Refusal('PCL_WAYPOINT_BACKEND_INVALID', `${rule.route} rules[${rule.ruleIndex}]${why}`, 'NR');
  if (!choice) return invalid(' has no backend with a weight above 0');
  trace.backend = choice.name;
  if (!choice.target) return invalid(`: ${choice.invalid}`);
  const backend = choice.target;
  trace.backend = `${backend.host}:${backend.port.number}`;
  const filters = [...rule.filters, ...choice.filters];
  const rewrite = urlRewriteFor(filters, target.path, matched.match);
  return {
    backend,
    filters,
    hostHeader: rewrite.hostname ?? v.framed.authority,
    upstreamPath: withQuery(rewrite.path ?? target.path),
  };
}

/** How the backend is reached: its upstream plan and, when a DestinationRule asks, the caller's TLS credential. */
interface Originated {
  readonly plan: ReadyPlan;
  readonly tls: ResolvedTls | null;
}

/** Stage "originate": plan the backend's addresses, then its DestinationRule's TLS with this caller's credential. */
function originate(
  ctx: HttpTunnelContext,
  state: TunnelState,
  v: RequestView,
  a: Authorized,
  r: Routed,
  trace: Trace,
): Staged<Originated> {
  const m = state.originated;
  const b = r.backend;
  if (
    m !== null &&
    m.snap.deref() === v.snap &&
    m.gw === a.gw &&
    m.serviceEntry === b.serviceEntry &&
    m.port === b.port &&
    m.host === b.host
  ) {
    trace.destinationRule = m.destinationRule;
    if (m.result.tls) noteTls(ctx, m.result.tls, m.destinationRule, trace);
    return m.result;
  }
  const fresh = originateFresh(ctx, v, a, r, trace);
  if (!(fresh instanceof Refusal) && !fresh.files) {
    const result: Originated = { plan: fresh.plan, tls: fresh.tls };
    state.originated = {
      snap: new WeakRef(v.snap),
      gw: a.gw,
      serviceEntry: b.serviceEntry,
      port: b.port,
      host: b.host,
      result,
      destinationRule: trace.destinationRule,
    };
    return result;
  }
  return fresh;
}

/** The request's trace (and the operator's warning) for the TLS settings a request is sent with. */
function noteTls(ctx: HttpTunnelContext, tls: ResolvedTls, destinationRule: string | null, trace: Trace): void {
  trace.externalIdentity = tls.subject;
  trace.secret = tls.secret;
  trace.sni = tls.servername;
  if (tls.warning) {
    trace.warnings.push(tls.warning);
    ctx.warn?.(`${destinationRule}: ${tls.warning}`);
  }
}

/** A TLS plan that reads certificate files by path (re-read when they change, so never remembered per snapshot). */
function readsFiles(tls: TlsPlan): boolean {
  const isPath = (v: string | null): boolean => v !== null && !v.includes('-----BEGIN');
  return isPath(tls.caCertificates) || isPath(tls.clientCertificate) || isPath(tls.privateKey);
}

function originateFresh(
  ctx: HttpTunnelContext,
  v: RequestView,
  a: Authorized,
  r: Routed,
  trace: Trace,
): Staged<Originated & { readonly files: boolean }> {
  const own = r.backend.serviceEntry === a.se;
  const byName = !own || ctx.destination.via === 'host';
  const plan = planBackend(r.backend, own ? ctx.destination.ip : null, byName, trace.backend ?? r.backend.host);
  if (plan instanceof Refusal) return plan;
  const origination = planOrigination(v.snap, a.gw, r.backend, firstEndpointName(plan));
  trace.destinationRule = origination.destinationRule;
  if (!origination.ok) return new Refusal(origination.code, origination.reason, 'UF');
  if (!origination.tls) return { plan, tls: null, files: false };
  const resolved = ctx.credentials.resolve(v.snap, origination.tls);
  if (!resolved.ok) return new Refusal(resolved.code, resolved.reason, 'UF');
  const tls = resolved.tls;
  noteTls(ctx, tls, origination.destinationRule, trace);
  return { plan, tls, files: readsFiles(origination.tls) };
}

/** The per-request state the forward stage and the tunnel's parser error handler share. */
interface InFlight {
  aborted: string | null;
  upstream: http.ClientRequest | null;
}

/**
 * Stage "forward": the request leaves with headers the gateway chose (hop-by-hop and the identity header gone, Host
 * from the route) and framing the gateway wrote (the body's own Content-Length, or chunked, never none when a body
 * may follow), on a connection pooled for this caller alone; the response streams back to this request only.
 */
/** The keep-alive pool of this tunnel's caller for these TLS settings and vetted addresses (remembered per tunnel). */
function poolFor(
  ctx: HttpTunnelContext,
  state: TunnelState,
  tls: ResolvedTls | null,
  addresses: readonly UpstreamAddress[],
): http.Agent {
  const m = state.pool;
  const generation = ctx.credentials.poolGeneration;
  if (m !== null && m.tls === tls && m.generation === generation && m.addresses.length === addresses.length) {
    let same = true;
    for (let i = 0; i < addresses.length && same; i++) {
      same = m.addresses[i].ip === addresses[i].ip && m.addresses[i].port === addresses[i].port;
    }
    if (same) return m.agent;
  }
  // The pool key always holds the verified identity: no connection ever carries two callers' requests.
  const agent = ctx.credentials.agent(ctx.peer.uri, tls, addresses);
  state.pool = { tls, addresses, generation, agent };
  return agent;
}

function forward(
  ctx: HttpTunnelContext,
  state: TunnelState,
  req: IncomingMessage,
  res: ServerResponse,
  v: RequestView,
  r: Routed,
  o: Originated,
  addresses: readonly UpstreamAddress[],
  flight: InFlight,
  trace: Trace,
  answer: (refusal: Refusal) => void,
): void {
  const { framed } = v;
  let headers: string[];
  if (hasFilter(r.filters, 'RequestHeaderModifier')) {
    // The client's lines with the verified principal (a modifier may read or set any of them), modified, then
    // stripped of hop-by-hop fields, Host, Content-Length and the principal itself.
    const lines = withVerifiedPrincipal(headerLines(req.rawHeaders), ctx.peer.uri);
    const outLines = outgoingRequestHeaders(applyModifiers(lines, r.filters, 'RequestHeaderModifier')).filter(
      ([n]) => n.toLowerCase() !== 'content-length',
    );
    headers = ['Host', r.hostHeader, ...flat(outLines)];
  } else {
    headers = outgoingRequestRaw(req.rawHeaders, r.hostHeader);
  }
  if (framed.chunked) headers.push('Transfer-Encoding', 'chunked');
  else if (framed.contentLength !== null) headers.push('Content-Length', framed.contentLength);
  else if (!BODYLESS_BY_DEFAULT.has(framed.method)) headers.push('Content-Length', '0');

  const tls = o.tls;
  const first = addresses[0];
  trace.upstreamAddress = formatAddress(first);
  // Only what differs per request: the TLS settings (SNI, context, verification) and the vetted addresses are the
  // pool's own options (its key holds them), so node does not copy and compare them for every request.
  const options: http.RequestOptions & { connectTimeoutMs?: number } = {
    agent: poolFor(ctx, state, tls, addresses),
    host: first.ip,
    port: first.port,
    method: framed.method,
    path: r.upstreamPath,
    setHost: false,
    headers,
  };
  if (ctx.connectTimeoutMs !== undefined) options.connectTimeoutMs = ctx.connectTimeoutMs;
  const up = tls ? https.request(options) : http.request(options);
  flight.upstream = up;
  // `on`, not `once`, for events that come once: `once` wraps every listener in one more closure per request.
  up.on('socket', (socket) => {
    const note = (): void => {
      if (socket.remoteAddress === undefined) return;
      const port = socket.remotePort ?? first.port;
      trace.upstreamAddress = formatAddress({ ip: socket.remoteAddress, port, from: null });
    };
    // A pooled socket is connected already: a 'connect' listener on it would never fire and pile up per request.
    if (socket.remoteAddress !== undefined) note();
    else socket.once('connect', note);
  });
  up.on('error', (err: Error & { code?: string }) => {
    if (flight.aborted !== null) {
      if (!res.headersSent) res.destroy();
      return;
    }
    const where = `${trace.upstreamAddress}${tls ? ` (sni ${tls.servername})` : ''}`;
    const f = classifyUpstreamError(err, where);
    if (res.headersSent) {
      trace.flags = 'UPE';
      trace.code = f.code;
      trace.reason = f.reason;
      res.destroy();
      return;
    }
    answer(new Refusal(f.code, f.reason, statusOf(f.code) === 502 ? 'UPE' : 'UF'));
  });
  up.on('response', (upRes) => {
    const resHeaders = hasFilter(r.filters, 'ResponseHeaderModifier')
      ? flat(
          applyModifiers(outgoingResponseHeaders(headerLines(upRes.rawHeaders)), r.filters, 'ResponseHeaderModifier'),
        )
      : outgoingResponseRaw(upRes.rawHeaders);
    res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, resHeaders);
    // `pipe` without its bookkeeping (res 'close' above already ends the upstream side): count, write, back-pressure.
    upRes.on('data', (chunk: Buffer) => {
      trace.bytesSent += chunk.length;
      if (!res.write(chunk)) upRes.pause();
    });
    res.on('drain', () => upRes.resume());
    upRes.on('end', () => res.end());
    upRes.on('aborted', () => res.destroy());
    upRes.on('error', () => res.destroy());
  });
  // (A response closed before it finished destroys the upstream request: serveRequest's 'close' listener does it.)
  if (!req.complete) {
    req.on('close', () => {
      // The client went away (or its body failed to parse) before the request was complete: never let the upstream
      // see a request that looks complete.
      if (!req.complete) up.destroy(new Error('client request incomplete'));
    });
  }
  if (req.complete && !framed.chunked && framed.contentLength === null) {
    // No body framing and the request is already complete (a GET): nothing to stream; the request is sent whole.
    req.resume();
    up.end();
    return;
  }
  // Counted here, not earlier: a 'data' listener starts the flow, and the body must wait for the upstream.
  req.on('data', (chunk: Buffer) => {
    trace.bytesReceived += chunk.length;
  });
  req.pipe(up);
}

/** The access-log and metrics event of one finished request. */
function requestEvent(
  ctx: HttpTunnelContext,
  req: IncomingMessage,
  res: ServerResponse,
  trace: Trace,
  startMs: number,
  durationMs: number,
): RequestEvent {
  return {
    type: 'waypoint.request',
    startTime: new Date(startMs).toISOString(),
    startMs,
    method: req.method ?? '',
    authority: trace.authority,
    path: trace.path,
    status: res.statusCode,
    code: trace.code,
    reason: trace.reason,
    responseFlags: trace.flags,
    principal: ctx.peer.uri,
    peerAddress: ctx.peerAddress,
    gateway: ctx.destination.gateway.ref,
    serviceEntry: ctx.destination.serviceEntry.ref,
    route: trace.route,
    backend: trace.backend,
    destinationRule: trace.destinationRule,
    externalIdentity: trace.externalIdentity,
    secret: trace.secret,
    upstreamAddress: trace.upstreamAddress,
    sni: trace.sni,
    policy: trace.policy,
    bytesReceived: trace.bytesReceived,
    bytesSent: trace.bytesSent,
    durationMs,
    warnings: trace.warnings,
  };
}

/** The values of every line named `name` (lower case), as node's `headersDistinct[name]` without building the rest. */
function linesNamed(raw: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i];
    if (n.length === name.length && n.toLowerCase() === name) out.push(raw[i + 1]);
  }
  return out;
}

async function serveRequest(
  ctx: HttpTunnelContext,
  state: TunnelState,
  req: IncomingMessage,
  res: ServerResponse,
  expectContinue: boolean,
): Promise<void> {
  const t0 = performance.now();
  const startMs = Date.now();
  const hostLines = linesNamed(req.rawHeaders, 'host');
  const trace: Trace = {
    authority: hostLines[0] ?? '',
    path: req.url ?? '',
    route: null,
    backend: null,
    destinationRule: null,
    externalIdentity: null,
    secret: null,
    upstreamAddress: null,
    sni: null,
    policy: null,
    code: null,
    reason: null,
    flags: '-',
    warnings: [],
    bytesReceived: 0,
    bytesSent: 0,
  };
  const flight: InFlight = { aborted: null, upstream: null };
  state.current = {
    res,
    abort: (why) => {
      flight.aborted = why;
      trace.code = 'PCL_WAYPOINT_BAD_REQUEST';
      trace.reason = why;
      trace.flags = 'DPE';
      if (!res.headersSent) res.statusCode = 400;
      flight.upstream?.destroy(new Error(why));
    },
  };
  req.on('end', () => {
    if (state.current?.res === res) state.current = null;
  });
  res.on('close', () => {
    if (state.current?.res === res) state.current = null;
    ctx.emit?.(requestEvent(ctx, req, res, trace, startMs, performance.now() - t0));
    // Closed before the response finished (the caller went away, the tunnel closed): the upstream request goes too.
    if (!res.writableFinished) flight.upstream?.destroy();
  });
  // A final answer before "100 Continue" leaves the unread body on the wire: close, never guess (RFC 9110 §10.1.1).
  let continued = false;
  // The one place a refusal is answered, whichever stage (or the upstream) produced it.
  const answer = (refusal: Refusal): void => {
    trace.flags = refusal.flags;
    trace.code = refusal.code;
    trace.reason = refusal.reason;
    writeRefusal(res, refusal, expectContinue && !continued);
  };

  const stages = async (): Promise<Refusal | null> => {
    // One snapshot for the whole request: the path is normalised, authorized and routed by the same settings.
    const snap = ctx.snapshot();
    const framed = frameRequest(
      {
        method: req.method ?? '',
        url: req.url ?? '',
        httpVersionMajor: req.httpVersionMajor,
        httpVersion: req.httpVersion,
        hostLines,
        connectionLines: linesNamed(req.rawHeaders, 'connection'),
        transferEncoding: req.headers['transfer-encoding'],
        contentLength: req.headers['content-length'],
      },
      snap.settings.pathNormalization?.normalization ?? 'BASE',
    );
    if (framed instanceof Refusal) return framed;
    trace.authority = framed.authority;
    trace.path = framed.target.query === '' ? framed.target.path : `${framed.target.path}?${framed.target.query}`;
    // Identity: the verified peer, never a client header.
    const view: RequestView = { snap, framed, headers: headerMapOf(req.rawHeaders, ctx.peer.uri) };
    const authorized = authorize(ctx, view, trace);
    if (authorized instanceof Refusal) return authorized;
    const routed = route(ctx, view, authorized, trace);
    if (routed instanceof Refusal) return routed;
    const originated = originate(ctx, state, view, authorized, routed, trace);
    if (originated instanceof Refusal) return originated;
    if (expectContinue) {
      // As Envoy does by default: the proxy answers 100 itself once it will forward, and strips Expect upstream.
      continued = true;
      res.writeContinue();
    }
    const addresses = await pickUpstream(originated.plan, trace.backend ?? routed.backend.host, {
      resolve: ctx.resolver,
      guard: ctx.guard(),
      snapshot: snap,
      ...(ctx.upstreamPort ? { mapPort: ctx.upstreamPort } : {}),
      ...(ctx.random ? { random: ctx.random } : {}),
      memo: state,
    });
    if (flight.aborted !== null) return null;
    if (addresses instanceof Refusal) return addresses;
    forward(ctx, state, req, res, view, routed, originated, addresses, flight, trace, answer);
    return null;
  };
  const refusal = await stages();
  if (refusal !== null) answer(refusal);
}
