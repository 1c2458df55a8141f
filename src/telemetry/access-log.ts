/**
 * The access log: one pino JSON line per tunnel when it ends (Envoy's and ztunnel's "one line per connection"),
 * one line per L7 waypoint request, plus the HBONE layer's refusals, configuration changes and problems. It subscribes to the data plane's channels
 * and never runs on the data path itself.
 */
import pino from 'pino';
import { LOG_FORMAT } from './logger.ts';
import type { Writable } from 'node:stream';
import {
  CHANNELS,
  subscribe,
  summarizeLayers,
  type WaypointRequestRecord,
  type ConfigEvent,
  type ConfigIssueEvent,
  type GatewayProblemEvent,
  type HboneRefusalEvent,
  type LayerSummary,
  type TunnelRecord,
} from '../events/diagnostics.ts';
import { isWouldDeny, LEARN_BANNER, WOULD_DENY } from '../learn/learn-mode.ts';
import { LineBatcher } from './line-batcher.ts';

export interface AccessLogOptions {
  readonly instance: number;
  /** A file path (appended to), or a stream; default stdout. */
  readonly destination?: string | Writable;
}

export interface AccessLog {
  /** Mark every line from now on as learn mode (set from the first snapshot, before anything else is logged). */
  setLearn(on: boolean): void;
  /** Write out what is buffered (called before the process exits). */
  flush(): void;
  /** Unsubscribe and flush. */
  close(): void;
}

/** The JSON fields of one tunnel line: snake_case, as Envoy's and ztunnel's access logs name them. */
function accessLogFields(r: TunnelRecord): Record<string, unknown> {
  return {
    type: 'tunnel',
    start: new Date(r.startMs).toISOString(),
    duration_ms: r.durationMs,
    tunnel_id: r.tunnelId,
    session_id: r.sessionId,
    source_principal: r.sourcePrincipal,
    source_address: `${r.sourceAddress}:${r.sourcePort}`,
    authority: r.authority,
    gateway: r.gateway,
    service_entry: r.serviceEntry,
    host: r.host,
    port: r.port,
    upstream_address: r.upstreamAddress,
    status: r.status,
    decision: isWouldDeny(r.decision, r.layers) ? WOULD_DENY : r.decision,
    code: r.code,
    reason: r.reason,
    policies: summarizeLayers(r.layers),
    sni: r.sni,
    bytes_received: r.bytesReceived,
    bytes_sent: r.bytesSent,
    response_flags: r.responseFlags,
    traceparent: r.traceparent,
    baggage: r.baggage,
    forwarded: r.forwarded,
  };
}

/** A JSON value for the line: strings escaped as JSON does, null as null. */
function json(value: string | null): string {
  return value === null ? 'null' : JSON.stringify(value);
}

/** A number as JSON writes it (pino writes a non-finite number as null too). */
function jsonNumber(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

/** The `policies` JSON of a decision's layers, kept per summary (a shared decision's summary is one array). */
const policiesJson = new WeakMap<readonly LayerSummary[], string>();

function policiesOf(layers: readonly LayerSummary[]): string {
  const summary = summarizeLayers(layers);
  let text = policiesJson.get(summary);
  if (text === undefined) {
    text = JSON.stringify(summary);
    policiesJson.set(summary, text);
  }
  return text;
}

/**
 * The tunnel line pino would write for `accessLogFields(r)` (level, time, the fields in order, msg), written out
 * field by field: the one line per tunnel is the L4 hot path, and this builds no intermediate object.
 */
function tunnelLine(r: TunnelRecord, time: string): string {
  const allow = r.decision === 'allow';
  const decision = isWouldDeny(r.decision, r.layers) ? WOULD_DENY : r.decision;
  let line =
    `{"level":"${allow ? 'info' : 'warn'}","time":"${time}","type":"tunnel",` +
    `"start":"${new Date(r.startMs).toISOString()}","duration_ms":${jsonNumber(r.durationMs)},` +
    `"tunnel_id":${jsonNumber(r.tunnelId)},"session_id":${jsonNumber(r.sessionId)},` +
    `"source_principal":${json(r.sourcePrincipal)},"source_address":${json(`${r.sourceAddress}:${r.sourcePort}`)},` +
    `"authority":${json(r.authority)},"gateway":${json(r.gateway)},"service_entry":${json(r.serviceEntry)},` +
    `"host":${json(r.host)},"port":${jsonNumber(r.port)},"upstream_address":${json(r.upstreamAddress)},` +
    `"status":${jsonNumber(r.status)},"decision":${json(decision)},"code":${json(r.code)},` +
    `"reason":${json(r.reason)},"policies":${policiesOf(r.layers)},"sni":${json(r.sni)},` +
    `"bytes_received":${jsonNumber(r.bytesReceived)},"bytes_sent":${jsonNumber(r.bytesSent)},` +
    `"response_flags":${json(r.responseFlags)}`;
  if (r.traceparent !== undefined) line += `,"traceparent":${json(r.traceparent)}`;
  if (r.baggage !== undefined) line += `,"baggage":${json(r.baggage)}`;
  if (r.forwarded !== undefined) line += `,"forwarded":${json(r.forwarded)}`;
  return `${line},"msg":${allow ? '"tunnel"' : json(r.reason)}}\n`;
}

/** The access-log line of one L7 waypoint request (one line per request, as Envoy's HTTP access log). */
function requestLogFields(e: WaypointRequestRecord): Record<string, unknown> {
  return {
    type: 'request',
    start_time: e.startTime,
    duration_ms: e.durationMs,
    method: e.method,
    authority: e.authority,
    path: e.path,
    status: e.status,
    code: e.code,
    reason: e.reason,
    response_flags: e.responseFlags,
    source_principal: e.principal,
    source_address: e.peerAddress,
    gateway: e.gateway,
    service_entry: e.serviceEntry,
    route: e.route ? `${e.route.name}#${e.route.rule}` : null,
    backend: e.backend,
    destination_rule: e.destinationRule,
    external_identity: e.externalIdentity,
    secret: e.secret,
    upstream_address: e.upstreamAddress,
    sni: e.sni,
    policy: e.policy,
    bytes_received: e.bytesReceived,
    bytes_sent: e.bytesSent,
    warnings: e.warnings,
  };
}

/**
 * Lines wait until this many bytes are buffered (sonic-boom `minLength`; one write of ~40 request lines: each write
 * wakes a libuv thread, which on a busy machine cost as much as the bytes)...
 */
const BATCH_BYTES = 32 * 1024;
/** ...or until this many milliseconds passed, so a quiet gateway's lines still appear. */
const FLUSH_MS = 100;
/**
 * The batch the LineBatcher hands to sonic-boom, in UTF-16 units. Each write costs the main thread a libuv work
 * request, a thread wake-up and sonic-boom's completion callback, 20-40 us on a 2-core VM whatever the size
 * (`process.threadCpuUsage` around `fs.write`, 1 KiB to 512 KiB): per 32 KiB that was about a microsecond per tunnel
 * line. 256 Ki units (~230 tunnel lines) make it negligible; FLUSH_MS still bounds how long a line waits.
 */
const LINE_BATCH_CHARS = 8 * BATCH_BYTES;

/** Start writing the access log of one gateway instance. */
export function startAccessLog(options: AccessLogOptions): AccessLog {
  // Lines are written in batches of at least BATCH_BYTES, and whatever is waiting at least every FLUSH_MS: one write
  // system call per L7 request was ~5 % of the waypoint's CPU. `flush()` (and `close()`) still write out at once.
  // The batches are made by a LineBatcher in front of sonic-boom (see line-batcher.ts), which writes each at once.
  const batching = { minLength: 0, maxWrite: 4 * LINE_BATCH_CHARS };
  const dest =
    typeof options.destination === 'string'
      ? pino.destination({ dest: options.destination, sync: false, mkdir: true, append: true, ...batching })
      : (options.destination ?? pino.destination({ dest: 1, sync: false, ...batching }));
  const out = new LineBatcher(dest, LINE_BATCH_CHARS);
  // Learn mode marks every line, so no one mistakes a learning gateway's log for an enforcing one's.
  let learning = false;
  const logger = pino(
    {
      ...LOG_FORMAT,
      mixin: () => (learning ? { mode: 'learn', learn: LEARN_BANNER } : {}),
    },
    out,
  );
  // Only when something waits: sonic-boom's own periodicFlush writes an empty string every period even when idle.
  const timer = setInterval(() => {
    if ((dest as { destroyed?: boolean }).destroyed !== true) out.drain();
  }, FLUSH_MS);
  timer.unref();
  const { instance } = options;
  const unsubscribe = [
    subscribe<TunnelRecord>(CHANNELS.tunnelClosed, instance, (r) => {
      if (learning) {
        // Through pino, whose mixin marks the line.
        if (r.decision === 'allow') logger.info(accessLogFields(r), 'tunnel');
        else logger.warn(accessLogFields(r), r.reason);
        return;
      }
      out.write(tunnelLine(r, new Date().toISOString()));
    }),
    subscribe<HboneRefusalEvent>(CHANNELS.hboneRefused, instance, (e) => {
      logger.warn(
        {
          type: 'refusal',
          code: e.code,
          stage: e.stage,
          reason: e.reason,
          peer: e.peer ?? null,
          peer_address: e.peerAddress !== undefined ? `${e.peerAddress}:${e.peerPort ?? 0}` : null,
          session_id: e.sessionId ?? null,
          status: e.status ?? null,
          authority: e.authority ?? null,
        },
        `hbone refused: ${e.reason}`,
      );
    }),
    subscribe<ConfigEvent>(CHANNELS.configApplied, instance, (e) => {
      learning = e.learn === true;
      logger.info(
        {
          type: 'config',
          generation: e.generation,
          served_gateways: e.servedGateways,
          errors: e.errors,
          warnings: e.warnings,
          tunnels_closed: e.tunnelsClosed,
        },
        `configuration generation ${e.generation} applied`,
      );
    }),
    subscribe<WaypointRequestRecord>(CHANNELS.requestCompleted, instance, (e) => {
      const fields = requestLogFields(e);
      if (e.status < 400 && e.warnings.length === 0 && !learning) {
        // The one line per L7 request, the hot path: the same JSON line pino writes (level, time, fields, msg), built
        // by one native JSON.stringify instead of pino's key-by-key serializer (~3 % of the waypoint's CPU). In learn
        // mode the line goes through pino, whose mixin marks it.
        out.write(
          `{"level":"info","time":"${new Date().toISOString()}",${JSON.stringify(fields).slice(1, -1)},"msg":"request"}\n`,
        );
      } else {
        if (e.status < 400 && e.warnings.length === 0) logger.info(fields, 'request');
        else logger.warn(fields, e.reason ?? e.warnings.join('; ') ?? 'request');
      }
    }),
    subscribe<ConfigIssueEvent>(CHANNELS.configIssue, instance, (e) => {
      const fields = {
        type: 'config_error',
        state: e.state,
        code: e.code,
        kind: e.kind,
        ref: e.ref,
        file: e.file,
        line: e.line,
        generation: e.generation,
      };
      const where = `${e.file}:${e.line} [${e.code}] ${e.kind}${e.ref === '' ? '' : ` ${e.ref}`}`;
      if (e.state === 'appeared') logger.error(fields, `configuration error (fails closed): ${where}: ${e.message}`);
      else logger.info(fields, `configuration error fixed: ${where}: ${e.message}`);
    }),
    subscribe<GatewayProblemEvent>(CHANNELS.problem, instance, (e) => {
      logger.error({ type: 'problem', code: e.code }, e.message);
    }),
  ];
  const flush = (): void => {
    const d = dest as { flushSync?: () => void; destroyed?: boolean };
    if (d.destroyed === true) return;
    out.drain();
    try {
      d.flushSync?.();
    } catch {
      // sonic-boom throws when nothing was opened yet; there is nothing to flush then.
    }
  };
  return {
    setLearn(on: boolean): void {
      learning = on;
    },
    flush,
    close(): void {
      clearInterval(timer);
      for (const u of unsubscribe) u();
      flush();
    },
  };
}
