/**
 * The L7 branch of the egress waypoint (seed 002): HTTP/1.1 inside one HBONE tunnel whose destination is an HTTP
 * port of a ServiceEntry bound to a waypoint-class Gateway. Per request: strict parsing (node's llhttp, smuggling
 * refused with 400), the verified `%%source.principal%%`, both AuthorizationPolicy layers with HTTP attributes,
 * HTTPRoute matching, filters, TLS origination with the backend's per-identity credential, then streaming both ways
 * on a pooled connection that only ever carries that credential.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { BufferOnlyStream } from '../hbone/buffer-only-stream.ts';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import type { HTTPRouteFilter } from '../config/api-types.ts';
import type { WaypointCode } from '../errors/waypoint-codes.ts';
import type { SpiffeId } from '../identity/spiffe-id.ts';
import type { Destination } from '../mesh/destination.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import { decideEgress } from '../policy/engine.ts';
import { applyLearnMode } from '../learn/learn-mode.ts';
import type { CredentialStore, ResolvedTls } from './credentials.ts';
import { endpointsFor } from './endpoints.ts';
import { planOrigination } from './origination.ts';
import {
  headerLines,
  headerMap,
  outgoingRequestHeaders,
  outgoingResponseHeaders,
  withVerifiedPrincipal,
} from './principal-header.ts';
import type { RequestEvent } from '../events/request-event.ts';
import { pickBackend, type BackendTarget } from './routing/backend.ts';
import { applyModifiers, urlRewriteFor, type HeaderList } from './routing/filters.ts';
import { firstQueryValues, splitTarget } from './routing/path.ts';
import { RouteTableCache, type MatchEntry } from './routing/route-table.ts';
import { classifyUpstreamError } from './upstream-errors.ts';

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
  /** The private-address guard: null = may be dialled, else why not. */
  readonly guard: (ip: string) => string | null;
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
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const REASON_HEADER = 'x-portcullis-reason';
const CODE_HEADER = 'x-portcullis-code';

const sharedRoutes = new RouteTableCache();

/** Header values may not carry CR, LF or non-Latin-1 text. */
function headerSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 2000);
}

/** The 400 written straight to the stream when the parser refuses a request (no response object exists). */
function rawBadRequest(reason: string): string {
  const body = `${reason}\n`;
  return (
    'HTTP/1.1 400 Bad Request\r\n' +
    'content-type: text/plain; charset=utf-8\r\n' +
    `${CODE_HEADER}: PCL_WAYPOINT_BAD_REQUEST\r\n` +
    `${REASON_HEADER}: ${headerSafe(reason)}\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n` +
    'connection: close\r\n\r\n' +
    body
  );
}

/** Per-tunnel state shared by its requests. */
interface TunnelState {
  /** The response of the request being read, while its request body may still fail to parse. */
  current: { res: ServerResponse; abort: (why: string) => void } | null;
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
  const state: TunnelState = { current: null };
  const server = http.createServer({
    maxHeaderSize: MAX_HEADER_BYTES,
    requireHostHeader: false,
    keepAliveTimeout: IDLE_TIMEOUT_MS,
    requestTimeout: 0,
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => void serveRequest(ctx, state, req, res, false));
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => void serveRequest(ctx, state, req, res, true));
  server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => {
    const cur = state.current;
    state.current = null;
    if (cur) cur.abort(`malformed request body: ${err.message}`);
    if (err.code === 'ECONNRESET' || !socket.writable || (cur && cur.res.headersSent)) {
      socket.destroy();
      return;
    }
    const what = err.code === 'HPE_HEADER_OVERFLOW' ? `request headers larger than ${MAX_HEADER_BYTES} bytes` : err.message;
    socket.end(rawBadRequest(`malformed HTTP/1.1 request (${err.code ?? 'parse error'}): ${what}`));
  });
  const refuse = (req: IncomingMessage, socket: Duplex, what: string) => {
    socket.end(rawBadRequest(`${what} is not supported inside an HBONE tunnel to an HTTP port`));
  };
  server.on('connect', (req: IncomingMessage, socket: Duplex) => refuse(req, socket, 'CONNECT'));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => refuse(req, socket, `Upgrade (${req.headers.upgrade ?? ''})`));

  // node's HTTP server writes its response head as a latin1 string; Node 26's HTTP/2 stream corrupts a queued string
  // write (the first 16 bytes arrive as garbage), so the tunnel is only ever handed Buffers.
  const stream = new BufferOnlyStream(ctx.stream);
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

/** Answer with a waypoint error: status, `x-portcullis-code`, `x-portcullis-reason`, the reason as the body. */
function reply(res: ServerResponse, trace: Trace, status: number, code: WaypointCode, reason: string, close = false): void {
  trace.code = code;
  trace.reason = reason;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${reason}\n`;
  const headers: Record<string, string> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    [CODE_HEADER]: code,
    [REASON_HEADER]: headerSafe(reason),
  };
  if (close) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(body);
}

/** Flatten a header list into node's raw `[name, value, ...]` form. */
function flat(lines: HeaderList): string[] {
  const out: string[] = [];
  for (const [n, v] of lines) out.push(n, v);
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
  const startTime = new Date().toISOString();
  const trace: Trace = {
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
  const hostLines = req.headersDistinct.host ?? [];
  let authority = hostLines[0] ?? '';
  let target = req.url ?? '';
  const gatewayRef = ctx.destination.gateway.ref;
  const seRef = ctx.destination.serviceEntry.ref;

  let aborted: string | null = null;
  let upstreamReq: http.ClientRequest | null = null;
  state.current = {
    res,
    abort: (why) => {
      aborted = why;
      trace.code = 'PCL_WAYPOINT_BAD_REQUEST';
      trace.reason = why;
      trace.flags = 'DPE';
      if (!res.headersSent) res.statusCode = 400;
      upstreamReq?.destroy(new Error(why));
    },
  };
  req.once('end', () => {
    if (state.current?.res === res) state.current = null;
  });
  res.once('close', () => {
    if (state.current?.res === res) state.current = null;
    ctx.emit?.({
      type: 'waypoint.request',
      startTime,
      method: req.method ?? '',
      authority,
      path: req.url ?? '',
      status: res.statusCode,
      code: trace.code,
      reason: trace.reason,
      responseFlags: trace.flags,
      principal: ctx.peer.uri,
      peerAddress: ctx.peerAddress,
      gateway: gatewayRef,
      serviceEntry: seRef,
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
      durationMs: performance.now() - t0,
      warnings: trace.warnings,
    });
  });
  // A final answer before "100 Continue" leaves the unread body on the wire: close rather than guess (RFC 9110 §10.1.1).
  let continued = false;
  const fail = (status: number, code: WaypointCode, reason: string, flags = '-') => {
    trace.flags = flags;
    reply(res, trace, status, code, reason, expectContinue && !continued);
  };

  // ---- the request line and framing (what llhttp does not already refuse) ----
  const method = req.method ?? '';
  if (/^https?:\/\//i.test(target)) {
    // Absolute-form: its authority replaces Host (RFC 9112 §3.2.2).
    try {
      const u = new URL(target);
      authority = u.host;
      target = `${u.pathname}${u.search}`;
    } catch {
      return fail(400, 'PCL_WAYPOINT_BAD_REQUEST', `malformed request target "${target.slice(0, 200)}"`, 'DPE');
    }
  }
  if (hostLines.length !== 1 || authority === '') {
    return fail(
      400,
      'PCL_WAYPOINT_BAD_REQUEST',
      hostLines.length > 1 ? 'more than one Host header (RFC 9112 §3.2)' : 'missing Host header (RFC 9112 §3.2)',
      'DPE',
    );
  }
  if (req.httpVersionMajor !== 1) {
    // llhttp reads a bare `GET /` as HTTP/0.9; Envoy refuses it, and so do we.
    return fail(400, 'PCL_WAYPOINT_BAD_REQUEST', `HTTP/${req.httpVersion} is not supported; send HTTP/1.1`, 'DPE');
  }
  const te = req.headers['transfer-encoding'];
  if (te !== undefined && te.trim().toLowerCase() !== 'chunked') {
    return fail(501, 'PCL_WAYPOINT_UNSUPPORTED_TRANSFER_ENCODING', `Transfer-Encoding "${te}" is not supported; only chunked is`, 'DPE');
  }
  const split = splitTarget(target);
  if (!split) return fail(400, 'PCL_WAYPOINT_BAD_REQUEST', `request target "${target.slice(0, 200)}" is not an absolute path`, 'DPE');

  // ---- the snapshot, and whether this tunnel's destination still exists ----
  const snap = ctx.snapshot();
  const se = snap.serviceEntries.get(ctx.destination.serviceEntry.key);
  const gw = snap.gateways.get(ctx.destination.gateway.key);
  if (!se || !gw || se.waypoint !== gw.key) {
    return fail(503, 'PCL_WAYPOINT_DESTINATION_GONE', `ServiceEntry ${seRef} is no longer bound to waypoint ${gatewayRef}`, 'NR');
  }
  const servicePort = se.ports.find((p) => p.number === ctx.destination.port.number);
  if (!servicePort) {
    return fail(503, 'PCL_WAYPOINT_DESTINATION_GONE', `ServiceEntry ${seRef} no longer declares port ${ctx.destination.port.number}`, 'NR');
  }

  // ---- identity: the verified peer, never a client header ----
  const lines = withVerifiedPrincipal(headerLines(req.rawHeaders), ctx.peer.uri);
  const headers = headerMap(lines);

  // ---- authorization: both layers, with every HTTP attribute ----
  const decision = applyLearnMode(snap.settings, decideEgress([snap.gatewayLayer(gw.key), snap.serviceEntryLayer(se.key)], {
    principal: ctx.peer.uri,
    sourceIp: ctx.peerAddress,
    destinationIp: ctx.destination.ip ?? '',
    destinationPort: servicePort.number,
    http: { method, host: authority, path: target, headers: Object.fromEntries(headers) },
  }), trace.warnings);
  const decidingLayer = decision.layers.find((l) => l.decision === 'deny') ?? decision.layers.find((l) => l.policy !== null);
  trace.policy = decidingLayer?.policy ?? null;
  if (decision.decision === 'deny') {
    const layer = decision.layers.find((l) => l.decision === 'deny');
    return fail(403, 'PCL_WAYPOINT_DENIED', `RBAC: access denied by ${layer?.target ?? 'policy'}: ${decision.reason}`);
  }

  // ---- routing ----
  const routes = ctx.routes ?? sharedRoutes;
  const table = routes.table(snap, se.key, servicePort.number);
  let backend: BackendTarget;
  let filters: readonly HTTPRouteFilter[] = [];
  let matched: MatchEntry | null = null;
  if (table.routeCount === 0) {
    if (table.refused.length > 0) {
      // An operator meant to route this host; bypassing a refused route would silently drop its identity mapping.
      return fail(404, 'PCL_WAYPOINT_ROUTE_NOT_ACCEPTED', table.refused.join('; '), 'NR');
    }
    backend = { host: ctx.destination.host, serviceEntry: se, port: servicePort };
  } else {
    matched = table.match({ method, path: split.path, query: firstQueryValues(split.query), headers });
    if (!matched) {
      return fail(
        404,
        'PCL_WAYPOINT_NO_ROUTE',
        `no route matched: ${table.routeCount} HTTPRoute(s) attached to ServiceEntry ${seRef}, none matches ${method} ${split.path}`,
        'NR',
      );
    }
    trace.route = { name: matched.rule.route, rule: matched.rule.ruleIndex };
    const choice = pickBackend(matched.rule.backends, (ctx.random ?? Math.random)());
    if (!choice) {
      return fail(500, 'PCL_WAYPOINT_BACKEND_INVALID', `${matched.rule.route} rules[${matched.rule.ruleIndex}] has no backend with a weight above 0`, 'NR');
    }
    trace.backend = choice.name;
    if (!choice.target) {
      return fail(500, 'PCL_WAYPOINT_BACKEND_INVALID', `${matched.rule.route} rules[${matched.rule.ruleIndex}]: ${choice.invalid}`, 'NR');
    }
    backend = choice.target;
    filters = [...matched.rule.filters, ...choice.filters];
  }
  trace.backend = `${backend.host}:${backend.port.number}`;

  // ---- filters ----
  let outLines = applyModifiers(lines, filters, 'RequestHeaderModifier');
  const rewrite = matched ? urlRewriteFor(filters, split.path, matched.match) : { hostname: null, path: null };
  const hostHeader = rewrite.hostname ?? authority;
  const upstreamPath = (rewrite.path ?? split.path) + (split.query !== '' ? `?${split.query}` : '');

  // ---- endpoints and TLS origination ----
  const endpoints = endpointsFor(backend, backend.serviceEntry === se ? ctx.destination.ip : null);
  if (endpoints.length === 0) {
    return fail(503, 'PCL_WAYPOINT_NO_ENDPOINT', `backend ${trace.backend} (ServiceEntry ${backend.serviceEntry.ref}) has no endpoint to dial`, 'UH');
  }
  const plan = planOrigination(snap, gw, backend, endpoints[0].hostname);
  trace.destinationRule = plan.destinationRule;
  if (!plan.ok) return fail(503, plan.code, plan.reason, 'UF');
  let tls: ResolvedTls | null = null;
  if (plan.tls) {
    const r = ctx.credentials.resolve(snap, plan.tls);
    if (!r.ok) return fail(503, r.code, r.reason, 'UF');
    tls = r.tls;
    trace.externalIdentity = tls.subject;
    trace.secret = tls.secret;
    trace.sni = tls.servername;
    if (tls.warning) {
      trace.warnings.push(tls.warning);
      ctx.warn?.(`${plan.destinationRule}: ${tls.warning}`);
    }
  }
  if (expectContinue) {
    // As Envoy does by default: the proxy answers 100 itself once it will forward, and strips Expect upstream.
    continued = true;
    res.writeContinue();
  }

  // ---- resolve once, guard every address, dial a checked one ----
  let address: string | null = null;
  let port = 0;
  const refusals: string[] = [];
  for (const ep of endpoints) {
    let addrs: string[];
    if (isIP(ep.address) !== 0) addrs = [ep.address];
    else {
      try {
        addrs = await ctx.resolver(ep.address);
      } catch (err) {
        refusals.push(`${ep.address}: DNS lookup failed: ${(err as Error).message}`);
        continue;
      }
      if (addrs.length === 0) refusals.push(`${ep.address}: DNS returned no address`);
    }
    for (const a of addrs) {
      const why = ctx.guard(a);
      if (why === null) {
        address = a;
        break;
      }
      refusals.push(`${a} (${ep.address}): ${why}`);
    }
    if (address !== null) {
      port = ctx.upstreamPort ? ctx.upstreamPort(ep.address, ep.port) : ep.port;
      break;
    }
  }
  if (aborted !== null) return;
  if (address === null) {
    return fail(503, 'PCL_WAYPOINT_NO_ENDPOINT', `backend ${trace.backend}: no address may be dialled: ${refusals.join('; ')}`, 'UH');
  }
  trace.upstreamAddress = isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;

  // ---- forward, streaming both ways ----
  outLines = outgoingRequestHeaders(outLines);
  outLines.unshift(['Host', hostHeader]);
  if (te !== undefined) outLines.push(['Transfer-Encoding', 'chunked']);
  const where = `${trace.upstreamAddress}${tls ? ` (sni ${tls.servername})` : ''}`;
  const agent = ctx.credentials.agent(tls, address, port);
  const options: https.RequestOptions = {
    agent,
    host: address,
    port,
    method,
    path: upstreamPath,
    setHost: false,
    headers: flat(outLines),
    ...(tls
      ? {
          servername: tls.servername,
          secureContext: tls.secureContext,
          rejectUnauthorized: tls.rejectUnauthorized,
          checkServerIdentity: tls.checkServerIdentity,
        }
      : {}),
  };
  const up = tls ? https.request(options) : http.request(options);
  upstreamReq = up;
  const connectTimeout = ctx.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  up.once('socket', (socket) => {
    // Only a new connection connects; a pooled one is already up.
    if (!socket.connecting) return;
    const timer = setTimeout(() => {
      up.destroy(Object.assign(new Error(`connect timeout after ${connectTimeout} ms`), { code: 'ETIMEDOUT' }));
    }, connectTimeout);
    socket.once(tls ? 'secureConnect' : 'connect', () => clearTimeout(timer));
    socket.once('close', () => clearTimeout(timer));
  });
  up.on('error', (err: Error & { code?: string }) => {
    if (aborted !== null) {
      if (!res.headersSent) res.destroy();
      return;
    }
    const f = classifyUpstreamError(err, where);
    if (res.headersSent) {
      trace.flags = 'UPE';
      trace.code = f.code;
      trace.reason = f.reason;
      res.destroy();
      return;
    }
    fail(f.status, f.code, f.reason, f.status === 502 ? 'UPE' : 'UF');
  });
  up.on('response', (upRes) => {
    let resLines = outgoingResponseHeaders(headerLines(upRes.rawHeaders));
    resLines = applyModifiers(resLines, filters, 'ResponseHeaderModifier');
    res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, flat(resLines));
    upRes.on('data', (chunk: Buffer) => {
      trace.bytesSent += chunk.length;
    });
    upRes.pipe(res);
    upRes.once('aborted', () => res.destroy());
    upRes.once('error', () => res.destroy());
  });
  res.once('close', () => {
    if (!res.writableFinished) up.destroy();
  });
  req.once('close', () => {
    // The client went away (or its body failed to parse) before the request was complete: never let the upstream
    // see a request that looks complete.
    if (!req.complete) up.destroy(new Error('client request incomplete'));
  });
  // Counted here, not earlier: a 'data' listener starts the flow, and the body must wait for the upstream.
  req.on('data', (chunk: Buffer) => {
    trace.bytesReceived += chunk.length;
  });
  req.pipe(up);
}
