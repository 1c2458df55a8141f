/**
 * One HBONE tunnel, from CONNECT to close: decide (both policy layers, or egressPolicies), answer 401/503 or pick
 * and dial a checked upstream, answer 200 only once it is connected (ztunnel inbound), check the SNI on TLS ports,
 * then pipe bytes. `handleTunnel` decides and chooses a forwarder; `forwardL4` is the L4 one, and an `OpenTunnel` is
 * an allowed L4 tunnel from its 200 to its close. Gateways of mode `waypoint` are forwarded at L4 here as well: the
 * L7 forwarder branches in `handleTunnel` on the port's protocol.
 */
import type { Socket } from 'node:net';
import type { HboneRequest } from '../hbone/server.ts';
import { REASON_HEADER } from '../hbone/server.ts';
import type { ErrorCode } from '../errors/catalogue.ts';
import { codedReason } from '../errors/refusal-header.ts';
import { statusOf } from '../errors/http-status.ts';
import type { Authority, Destination } from '../mesh/destination.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import type { DecisionRecord, LayerRecord } from '../policy/engine.ts';
import type { AuthzRequest } from '../policy/request.ts';
import { publish, summarizeLayers, type ResponseFlag, type TunnelIdentity } from '../events/diagnostics.ts';
import type { DecidedTunnel } from './policy-recheck.ts';
import type { AddressGuard } from '../upstream/private-address-guard.ts';
import type { NameResolver } from './resolver.ts';
import { checkSni, needsSniCheck, readClientHello } from './sni-check.ts';
import { decideUnknownAddresses, type RoutableDestination } from './tunnel-decision.ts';
import { pipeTunnel, type PipeOutcome, type TunnelPipe } from './tunnel-pipe.ts';
import { decideFirst, prepareUpstream, type UpstreamPrep } from './decision-memo.ts';
import { dialFirst, formatAddress } from '../upstream/dial.ts';
import type { CredentialStore } from '../waypoint/credentials.ts';
import { handleHttpTunnel, type ServiceEntryDestination } from '../waypoint/http-tunnel.ts';
import { applyLearnMode, egressPoliciesFor } from '../learn/learn-mode.ts';
import { vetAddresses, type UpstreamAddress, type VetResult } from '../upstream/plan.ts';
import { messageOf } from '../errors/message-of.ts';

/** What a tunnel needs from the gateway. Everything is read at the moment of use, so reloads apply at once. */
export interface TunnelContext {
  readonly request: HboneRequest;
  readonly instance: number;
  snapshot(): Snapshot;
  guard(): AddressGuard;
  readonly resolver: NameResolver;
  readonly open: Set<OpenTunnel>;
  /** An L4 tunnel with no byte either way for this long is closed (limits.tcpIdleTimeout). */
  readonly idleTimeoutMs: number;
  /** The same for an L7 (HTTP) tunnel (limits.httpIdleTimeout); 0 = never. */
  readonly httpIdleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly clientHelloTimeoutMs: number;
  /** The L7 waypoint's per-credential TLS contexts and pools (one per gateway process). */
  readonly credentials: CredentialStore;
}

/** The fields of a tunnel known after deciding, shared by its decided event and its access-log record. */
function identityOf(ctx: TunnelContext, dest: Destination | null, startMs: number): TunnelIdentity {
  const r = ctx.request;
  const se = dest !== null && dest.kind !== 'unknown' ? dest.serviceEntry : null;
  let host: string | null = r.authority.isIp ? null : r.authority.host;
  if (dest?.kind === 'serviceEntry') host = dest.host;
  return {
    instance: ctx.instance,
    tunnelId: r.tunnelId,
    sessionId: r.sessionId,
    startMs,
    sourcePrincipal: r.peer.uri,
    sourceAddress: r.peerAddress,
    sourcePort: r.peerPort,
    authority: r.authority.raw,
    gateway: dest !== null && dest.kind !== 'unknown' ? dest.gateway.ref : null,
    serviceEntry: se?.ref ?? null,
    serviceEntryNamespace: se?.namespace ?? null,
    host,
    port: r.authority.port,
    traceparent: r.traceparent,
    baggage: r.baggage,
    forwarded: r.forwarded,
  };
}

/** What ends a tunnel's record. */
export interface TunnelFinish {
  readonly status: number;
  readonly decision: 'allow' | 'deny';
  readonly code: ErrorCode;
  readonly reason: string;
  readonly layers: readonly LayerRecord[];
  readonly flags: ResponseFlag;
  readonly bytesReceived?: number;
  readonly bytesSent?: number;
}

/** Accumulates the access-log record of one tunnel and publishes it exactly once. */
export class TunnelLog {
  readonly #ctx: TunnelContext;
  readonly #startMs: number;
  /** The destination as decided (null until then): the record's identity fields are built from it when published. */
  #dest: Destination | null = null;
  #done = false;
  /** The address dialled (formatted only when the line is written). */
  upstream: UpstreamAddress | null = null;
  sni: string | null = null;

  constructor(ctx: TunnelContext, startMs: number) {
    this.#ctx = ctx;
    this.#startMs = startMs;
  }

  decided(dest: Destination, record: DecisionRecord): void {
    this.#dest = dest;
    publish.tunnelDecided({
      ...identityOf(this.#ctx, dest, this.#startMs),
      decision: record.decision,
      code: record.code,
      reason: record.reason,
      layers: summarizeLayers(record.layers),
    });
  }

  finish(f: TunnelFinish): void {
    if (this.#done) return;
    this.#done = true;
    publish.tunnelClosed({
      ...identityOf(this.#ctx, this.#dest, this.#startMs),
      durationMs: Date.now() - this.#startMs,
      status: f.status,
      decision: f.decision,
      code: f.code,
      reason: f.reason,
      layers: summarizeLayers(f.layers),
      upstreamAddress: this.upstream === null ? null : formatAddress(this.upstream),
      sni: this.sni,
      bytesReceived: f.bytesReceived ?? 0,
      bytesSent: f.bytesSent ?? 0,
      responseFlags: f.flags,
    });
  }
}

/** Answer a refusal with ztunnel's status and the reason header (`<code>: <reason>`). */
function refuse(
  ctx: TunnelContext,
  log: TunnelLog,
  status: number,
  flags: ResponseFlag,
  record: DecisionRecord,
  decision: 'allow' | 'deny',
): void {
  ctx.request.respond(status, { [REASON_HEADER]: codedReason(record.code, record.reason) });
  log.finish({ status, decision, code: record.code, reason: record.reason, layers: record.layers, flags });
}

/** The decided state a forwarder works from. */
export interface ForwardInput {
  readonly ctx: TunnelContext;
  readonly log: TunnelLog;
  readonly authority: Authority;
  readonly authz: AuthzRequest;
  readonly dest: RoutableDestination;
  readonly record: DecisionRecord;
  /** The unknown destination was named by host and decided on the addresses it resolved to (reused, never re-resolved). */
  readonly resolved: ReadonlyMap<string, readonly string[]> | null;
  /** The destination's plan, when the decision memo already has it. */
  readonly prep?: UpstreamPrep;
}

/**
 * Handle one CONNECT. Resolves once the tunnel is refused, or piping (an L4 tunnel then finishes on its own: it
 * writes its access-log line and leaves `ctx.open` when it closes), or, for an L7 tunnel, finished. Never rejects
 * for anything a caller or upstream did.
 *
 * @example
 * createHboneServer({ ..., handler: (request) => handleTunnel({ request, snapshot: () => snap, ... }) });
 */
export async function handleTunnel(ctx: TunnelContext): Promise<void> {
  const log = new TunnelLog(ctx, Date.now());
  const r = ctx.request;
  // The parsed authority (host, port, isIp) is the mesh's Authority; its text keys the decision memo.
  const authority: Authority = r.authority;
  const snap = ctx.snapshot();
  const verdict = decideFirst(snap, authority, r.authority.raw, r.peer.uri, r.peerAddress);
  switch (verdict.kind) {
    case 'http':
      // The tunnel answers 200 at once, as Envoy's waypoint does: there is no single upstream to wait for.
      await forwardHttp(ctx, log, verdict.dest);
      return;
    case 'refuse':
      log.decided(verdict.dest, verdict.logged);
      refuse(ctx, log, verdict.status, verdict.flags, verdict.answer, verdict.decision);
      return;
    case 'forward':
      log.decided(verdict.dest, verdict.record);
      await forwardL4({
        ctx,
        log,
        authority,
        authz: verdict.authz,
        dest: verdict.dest,
        record: verdict.record,
        resolved: null,
        prep: verdict.prep,
      });
      return;
    case 'resolveFirst':
      break;
  }
  // An undeclared name: resolve it once and decide on every address (all must be allowed by egressPolicies).
  let ips: string[] = [];
  try {
    ips = await ctx.resolver.resolve(authority.host);
  } catch (err) {
    log.decided(verdict.dest, verdict.record);
    const failed: DecisionRecord = {
      decision: 'deny',
      code: 'PCL_DATAPLANE_DNS_FAILED',
      reason: `${authority.host}: ${messageOf(err)}`,
      layers: verdict.record.layers,
    };
    refuse(ctx, log, statusOf(failed.code), 'DF', failed, 'deny');
    return;
  }
  const record = applyLearnMode(snap.settings, decideUnknownAddresses(snap.egressPolicies, ips, authority.port));
  log.decided(verdict.dest, record);
  if (record.decision === 'deny') {
    refuse(ctx, log, statusOf(record.code), 'UAEX', record, 'deny');
    return;
  }
  const resolved = new Map([[authority.host, ips]]);
  await forwardL4({ ctx, log, authority, authz: verdict.authz, dest: verdict.dest, record, resolved });
}

/** `vetAddresses` of a plan with no names against `guard`, kept on the (memoized) prep while the guard stays. */
function vettedFor(prep: UpstreamPrep, guard: AddressGuard, snap: Snapshot): VetResult {
  const plan = prep.plan;
  if (!plan.ok) throw new Error('vettedFor: the plan failed');
  const kept = prep.vetted;
  if (kept !== null && kept.guard === guard) return kept.result;
  const result = vetAddresses(plan, new Map(), guard, egressPoliciesFor(snap));
  prep.vetted = { guard, result };
  return result;
}

/**
 * Forward an allowed tunnel at L4: plan, resolve once, check every address, dial, answer 200, then hand it to an
 * `OpenTunnel` (SNI check, pipe). Resolves once the tunnel is refused or its pipe has started.
 */
export async function forwardL4(input: ForwardInput): Promise<void> {
  const { ctx, log, authority, authz, dest, record } = input;
  const r = ctx.request;
  const snap = ctx.snapshot();
  const fail = (
    status: number,
    flags: ResponseFlag,
    code: ErrorCode,
    reason: string,
    decision: 'allow' | 'deny',
  ): void => refuse(ctx, log, status, flags, { decision: 'deny', code, reason, layers: record.layers }, decision);

  const prep = input.prep ?? prepareUpstream(dest);
  const plan = prep.plan;
  if (!plan.ok) {
    fail(statusOf(plan.code), 'NR', plan.code, plan.reason, 'allow');
    return;
  }
  let vetted: VetResult;
  if (prep.names.length === 0) {
    vetted = vettedFor(prep, ctx.guard(), snap);
  } else {
    const resolutions = new Map<string, readonly string[]>(input.resolved ?? []);
    for (const name of prep.names) {
      if (resolutions.has(name)) continue;
      try {
        resolutions.set(name, await ctx.resolver.resolve(name));
      } catch (err) {
        fail(
          statusOf('PCL_DATAPLANE_DNS_FAILED'),
          'DF',
          'PCL_DATAPLANE_DNS_FAILED',
          `${name}: ${messageOf(err)}`,
          'allow',
        );
        return;
      }
    }
    vetted = vetAddresses(plan, resolutions, ctx.guard(), egressPoliciesFor(snap));
  }
  if (!vetted.ok) {
    if (vetted.code === 'PCL_DATAPLANE_DNS_FAILED')
      fail(statusOf(vetted.code), 'DF', vetted.code, vetted.reason, 'allow');
    else fail(statusOf(vetted.code), 'UAEX', vetted.code, vetted.reason, 'deny');
    return;
  }
  const addresses: readonly UpstreamAddress[] = plan.shuffle ? shuffle([...vetted.addresses]) : vetted.addresses;

  const dialled = await dialFirst(addresses, ctx.connectTimeoutMs, r.gone);
  if (!dialled.ok) {
    if (dialled.aborted)
      log.finish({
        status: 0,
        decision: 'allow',
        code: record.code,
        reason: dialled.reason,
        layers: record.layers,
        flags: 'DC',
      });
    else
      fail(
        statusOf('PCL_DATAPLANE_UPSTREAM_CONNECT_FAILED'),
        'UF',
        'PCL_DATAPLANE_UPSTREAM_CONNECT_FAILED',
        dialled.reason,
        'allow',
      );
    return;
  }
  const upstream = dialled.socket;
  log.upstream = dialled.address;
  if (!r.respond(200)) {
    upstream.on('error', ignore);
    upstream.destroy();
    log.finish({
      status: 0,
      decision: 'allow',
      code: record.code,
      reason: 'the caller went away before the answer',
      layers: record.layers,
      flags: 'DC',
    });
    return;
  }

  const tunnel = new OpenTunnel(ctx, log, record, authority, authz, upstream, {
    ip: dialled.address.ip,
    port: dialled.address.port,
    trusted: plan.targets.some((t) => t.kind === 'trusted' && t.ip === dialled.address.ip),
    egressCheck: plan.egressCheck,
  });
  ctx.open.add(tunnel);
  await tunnel.start(dest);
}

/** Errors of a socket that is being destroyed anyway. */
function ignore(): void {}

/** The final verdict of a tunnel closed from outside while it ran (policy change, shutdown). */
interface Verdict {
  readonly code: ErrorCode;
  readonly reason: string;
  readonly flag: ResponseFlag;
  readonly layers: readonly LayerRecord[];
  readonly decision: 'allow' | 'deny';
}

/**
 * An allowed L4 tunnel from its 200 to its close, as the gateway tracks it for re-decision and shutdown: it checks
 * the SNI on TLS ports, pipes bytes until a side ends or it idles out, then writes the tunnel's one access-log line
 * and leaves `ctx.open`. `close` may come at any point of that (the SNI read or the pipe); the verdict it records is
 * the final one. While idle it holds only its fields: the pipe's end is a callback, not an awaiting async function.
 */
export class OpenTunnel implements DecidedTunnel {
  readonly authority: Authority;
  readonly request: AuthzRequest;
  readonly upstream: DecidedTunnel['upstream'];
  readonly #ctx: TunnelContext;
  readonly #log: TunnelLog;
  readonly #record: DecisionRecord;
  readonly #socket: Socket;
  #verdict: Verdict | null = null;
  #pipe: TunnelPipe | null = null;
  /** The idle timeout the pipe runs with (the context's is read once, when the pipe starts). */
  #idleTimeoutMs = 0;

  constructor(
    ctx: TunnelContext,
    log: TunnelLog,
    record: DecisionRecord,
    authority: Authority,
    request: AuthzRequest,
    socket: Socket,
    upstream: DecidedTunnel['upstream'],
  ) {
    this.authority = authority;
    this.request = request;
    this.upstream = upstream;
    this.#ctx = ctx;
    this.#log = log;
    this.#record = record;
    this.#socket = socket;
  }

  get tunnelId(): number {
    return this.#ctx.request.tunnelId;
  }

  /** Close it with a final verdict (policy change, shutdown); the access-log line records that verdict. */
  close(code: ErrorCode, reason: string, flag: ResponseFlag, layers?: readonly LayerRecord[]): void {
    if (this.#verdict !== null) return;
    this.#verdict = {
      code,
      reason,
      flag,
      layers: layers ?? this.#record.layers,
      decision: flag === 'LR' ? 'allow' : 'deny',
    };
    const r = this.#ctx.request;
    if (this.#pipe !== null) {
      this.#pipe.destroy(() => r.close(reason));
    } else {
      r.close(reason);
      this.#socket.destroy();
    }
  }

  /** Check the SNI (TLS ports), then pipe. Resolves once the pipe runs, or the tunnel is over (refused or closed). */
  async start(dest: RoutableDestination): Promise<void> {
    const r = this.#ctx.request;
    const log = this.#log;
    const record = this.#record;
    // Errors surface as 'close' to the pipe; until it runs (the SNI read), nothing may throw them.
    this.#socket.on('error', ignore);
    let head: Buffer | undefined;
    if (dest.kind === 'serviceEntry' && needsSniCheck(dest.port.protocol)) {
      const hello = await readClientHello(r.stream, this.#ctx.clientHelloTimeoutMs);
      const early = this.#verdict;
      if (early !== null) {
        this.#end();
        finishClosed(log, early, { bytesReceived: 0, bytesSent: 0 });
        return;
      }
      const verdictSni = hello.ok ? checkSni(hello.hello, dest.serviceEntry.hosts) : hello;
      if (hello.ok) log.sni = hello.hello.sni;
      if (!verdictSni.ok) {
        // Refused after the 200: reset the stream (ztunnel closes the connection the same way) and log it.
        r.close(verdictSni.reason);
        this.#socket.destroy();
        this.#end();
        const flags: ResponseFlag = !hello.ok && hello.ended ? 'DC' : 'NR';
        log.finish({
          status: 200,
          decision: 'deny',
          code: verdictSni.code,
          reason: verdictSni.reason,
          layers: record.layers,
          flags,
        });
        return;
      }
      head = hello.ok ? hello.buffered : undefined;
    }
    this.#idleTimeoutMs = this.#ctx.idleTimeoutMs;
    this.#pipe = pipeTunnel(r.stream, this.#socket, this.#idleTimeoutMs, {
      head,
      onDone: (outcome) => {
        try {
          this.#piped(outcome);
        } catch (err) {
          // The pipe ends inside a stream event, where a throw would take the process down: report it instead.
          publish.problem({
            instance: this.#ctx.instance,
            code: 'PCL_HBONE_HANDLER_FAILED',
            message: `finishing tunnel ${this.tunnelId}: ${messageOf(err)}`,
          });
        }
      },
    });
  }

  /** No longer open: the gateway stops tracking it (a reload no longer re-decides it, shutdown no longer waits). */
  #end(): void {
    this.#ctx.open.delete(this);
  }

  /** The pipe ended: write the tunnel's access-log line with the final verdict. */
  #piped(outcome: PipeOutcome): void {
    this.#end();
    const r = this.#ctx.request;
    const log = this.#log;
    const record = this.#record;
    const idleTimeoutMs = this.#idleTimeoutMs;
    const counts = { bytesReceived: outcome.bytesReceived, bytesSent: outcome.bytesSent };
    const closed = this.#verdict;
    if (closed !== null) {
      finishClosed(log, closed, counts);
      return;
    }
    if (outcome.end === 'idle') {
      r.close(`idle for ${idleTimeoutMs} ms`);
      log.finish({
        status: 200,
        decision: 'allow',
        code: 'PCL_DATAPLANE_IDLE_TIMEOUT',
        reason: `no bytes either way for ${idleTimeoutMs} ms`,
        layers: record.layers,
        flags: 'SI',
        ...counts,
      });
      return;
    }
    const flags: ResponseFlag = outcome.end === 'downstream' ? 'DC' : outcome.end === 'upstream' ? 'UC' : '-';
    log.finish({
      status: 200,
      decision: 'allow',
      code: record.code,
      reason: record.reason,
      layers: record.layers,
      flags,
      ...counts,
    });
  }
}

/** Hand an HTTP tunnel to the L7 waypoint; the tunnel's own access-log line records its bytes, each request has its own. */
async function forwardHttp(ctx: TunnelContext, log: TunnelLog, dest: ServiceEntryDestination): Promise<void> {
  const r = ctx.request;
  const record: DecisionRecord = {
    decision: 'allow',
    code: 'PCL_DATAPLANE_HTTP_TUNNEL',
    reason: `HTTP port ${dest.port.number} of ${dest.serviceEntry.ref} on waypoint ${dest.gateway.ref}: each request is decided on its own`,
    layers: [],
  };
  log.decided(dest, record);
  if (!r.respond(200)) {
    log.finish({
      status: 0,
      decision: 'allow',
      code: record.code,
      reason: 'the caller went away before the answer',
      layers: [],
      flags: 'DC',
    });
    return;
  }
  let bytesReceived = 0;
  let bytesSent = 0;
  // No byte either way on the tunnel for httpIdleTimeoutMs (HTTP/2 streams time reads and writes alike): close it,
  // as Envoy's stream_idle_timeout does for a stream. Requests in flight are cut with it.
  let idled = false;
  if (ctx.httpIdleTimeoutMs > 0) {
    r.stream.setTimeout(ctx.httpIdleTimeoutMs, () => {
      idled = true;
      r.close(`idle for ${ctx.httpIdleTimeoutMs} ms`);
    });
  }
  await handleHttpTunnel({
    stream: r.stream,
    peer: r.peer,
    peerAddress: r.peerAddress,
    destination: dest,
    snapshot: () => ctx.snapshot(),
    resolver: (host) => ctx.resolver.resolve(host),
    // Read per request, never kept: a snapshot that narrows allowedPrivateCidrs applies to the next request.
    guard: () => ctx.guard(),
    credentials: ctx.credentials,
    signal: r.signal,
    // Weakened verification (insecureSkipVerify) is carried on each request's event and logged as a warning there.
    emit: (event) => {
      bytesReceived += event.bytesReceived;
      bytesSent += event.bytesSent;
      publish.requestCompleted({ ...event, instance: ctx.instance });
    },
  });
  if (idled) {
    const reason = `no bytes either way for ${ctx.httpIdleTimeoutMs} ms`;
    log.finish({
      status: 200,
      decision: 'allow',
      code: 'PCL_DATAPLANE_IDLE_TIMEOUT',
      reason,
      layers: [],
      flags: 'SI',
      bytesReceived,
      bytesSent,
    });
    return;
  }
  log.finish({
    status: 200,
    decision: 'allow',
    code: record.code,
    reason: record.reason,
    layers: [],
    flags: '-',
    bytesReceived,
    bytesSent,
  });
}

function finishClosed(
  log: TunnelLog,
  v: {
    code: ErrorCode;
    reason: string;
    flag: ResponseFlag;
    layers: readonly LayerRecord[];
    decision: 'allow' | 'deny';
  },
  counts: { bytesReceived: number; bytesSent: number },
): void {
  log.finish({
    status: 200,
    decision: v.decision,
    code: v.code,
    reason: v.reason,
    layers: v.layers,
    flags: v.flag,
    ...counts,
  });
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
