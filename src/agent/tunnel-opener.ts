/**
 * Open one tunnel for one workload identity: route the destination (route.ts), then either an HBONE CONNECT through
 * that identity's own client pool, or a direct TCP connection egressPolicies allowed. Every way it can fail comes
 * back as a Refusal, never a throw, so each proxy protocol can answer in its own words.
 */
import { lookup } from 'node:dns/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { ipFamily } from '../net/ip-syntax.ts';
import type { Duplex } from 'node:stream';
import type { HboneClient, HboneGateway } from '../hbone/client.ts';
import { HboneStatusError } from '../hbone/client.ts';
import { formatAuthority } from '../net/authority.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import { CODE_HEADER, type Refusal } from './refusal.ts';
import { decideUnknownDestination } from '../policy/egress-policies.ts';
import { routeTarget, type AgentRoute, type AgentTarget } from './route.ts';
import { messageOf } from '../errors/message-of.ts';

/** Resolves a host name to its addresses (first is dialled). Injectable so tests need no DNS. */
export type Resolver = (host: string) => Promise<string[]>;

export const systemResolver: Resolver = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** The client of the agent, for `forwarded: for="ip:port"`. */
export interface ClientAddress {
  readonly address: string;
  readonly port: number;
}

export type OpenResult =
  | { readonly ok: true; readonly stream: Duplex; readonly via: 'hbone' | 'direct'; readonly upstream: string }
  | { readonly ok: false; readonly refusal: Refusal };

export interface TunnelOpenerOptions {
  readonly identity: string;
  /** Namespace of the workload, for the `baggage` header ztunnel sends (`k8s.namespace.name`). */
  readonly namespace: string;
  readonly snapshot: () => Snapshot;
  readonly gateway: HboneGateway;
  /** This identity's pool; never shared with another identity. */
  readonly client: HboneClient;
  readonly resolve: Resolver;
  readonly directConnectTimeoutMs: number;
  /** True when ip:port is one of the agent's own listeners (a loop). */
  readonly isSelf: (ip: string, port: number) => boolean;
}

function errnoOf(err: unknown): string | undefined {
  for (let e = err as (Error & { code?: unknown; cause?: unknown }) | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) return e.code;
    e = e.cause as typeof e;
  }
  return undefined;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export class TunnelOpener {
  readonly #o: TunnelOpenerOptions;

  constructor(options: TunnelOpenerOptions) {
    this.#o = options;
  }

  get identity(): string {
    return this.#o.identity;
  }

  async open(target: AgentTarget, client: ClientAddress, signal: AbortSignal): Promise<OpenResult> {
    let route: AgentRoute = routeTarget(this.#o.snapshot(), target);
    let resolvedFrom: string | null = null;
    if (route.kind === 'resolve') {
      // ztunnel sees the address the application resolved; as the application's proxy, the agent resolves the name
      // once, decides on that address and dials exactly it.
      let addresses: string[] = [];
      let why = 'it has no address';
      try {
        addresses = await this.#o.resolve(route.host);
      } catch (err) {
        why = `it does not resolve (${errnoOf(err) ?? messageOf(err)})`;
      }
      const ip = addresses.find((a) => ipFamily(a) !== 0);
      if (ip === undefined) {
        // Fail closed, as the gateway does for a name it cannot place: egressPolicies have no address to match.
        const decision = decideUnknownDestination(this.#o.snapshot().egressPolicies, null, target.port);
        return this.#fail('denied', 'PCL_AGENT_DNS_FAILED', `${route.host}: ${why}; ${decision.reason}`, {
          decidingCode: decision.code,
        });
      }
      resolvedFrom = route.host;
      route = routeTarget(this.#o.snapshot(), { host: ip, port: target.port, isIp: true });
      if (route.kind === 'hbone') route = { ...route, host: resolvedFrom };
    }
    const named = resolvedFrom === null ? '' : `${resolvedFrom} resolves to `;
    switch (route.kind) {
      case 'deny':
        return {
          ok: false,
          refusal: {
            kind: 'denied',
            code: 'PCL_AGENT_EGRESS_DENIED',
            reason: `${named}${route.decision.reason} (no ServiceEntry bound to a gateway declares it)`,
            decidingCode: route.decision.code,
          },
        };
      case 'direct':
        return this.#direct(route.ip, route.port, named, signal);
      case 'hbone':
        return this.#hbone(route, client, signal);
      case 'resolve':
        // routeTarget never asks to resolve an IP; kept for exhaustiveness.
        return this.#fail('unreachable', 'PCL_AGENT_DNS_FAILED', `cannot route ${route.host}`, {});
    }
  }

  async #hbone(
    route: Extract<AgentRoute, { kind: 'hbone' }>,
    client: ClientAddress,
    signal: AbortSignal,
  ): Promise<OpenResult> {
    try {
      const tunnel = await this.#o.client.connect(route.authority, {
        gateway: this.#o.gateway,
        expectedSans: [route.expectedSan],
        baggage: `k8s.namespace.name=${this.#o.namespace}`,
        forwarded: { address: client.address, port: client.port, ...(route.host !== null ? { host: route.host } : {}) },
        signal,
      });
      return { ok: true, stream: tunnel.stream, via: 'hbone', upstream: route.authority };
    } catch (err) {
      if (err instanceof HboneStatusError) {
        // Portcullis' gateway sends `x-portcullis-reason: <code>: <reason>`; a separate code header is also read.
        const text = err.reason ?? `the gateway answered ${err.status}`;
        const m = /^(PCL_[A-Z0-9_]+): ([\s\S]*)$/.exec(text);
        const reason = m ? m[2] : text;
        const extra = { gatewayStatus: err.status, decidingCode: firstHeader(err.headers[CODE_HEADER]) ?? m?.[1] };
        // ztunnel inbound: 401 = authorization policy rejection, 503 = no such port / upstream connect failed.
        if (err.status === 401) return this.#fail('denied', 'PCL_AGENT_GATEWAY_DENIED', reason, extra);
        if (err.status === 503) return this.#fail('unavailable', 'PCL_AGENT_UPSTREAM_UNAVAILABLE', reason, extra);
        return this.#fail('gateway', 'PCL_AGENT_GATEWAY_ERROR', `HBONE CONNECT ${route.authority}: ${reason}`, extra);
      }
      if (signal.aborted)
        return this.#fail('gateway', 'PCL_AGENT_CLIENT_ABORTED', 'the client went away before the tunnel was open', {});
      const gw = formatAuthority(this.#o.gateway.host, this.#o.gateway.port);
      return this.#fail('gateway', 'PCL_AGENT_GATEWAY_UNREACHABLE', `gateway ${gw} unreachable: ${messageOf(err)}`, {
        errno: errnoOf(err),
      });
    }
  }

  #direct(ip: string, port: number, named: string, signal: AbortSignal): Promise<OpenResult> {
    const where = formatAuthority(ip, port);
    if (this.#o.isSelf(ip, port)) {
      return Promise.resolve(
        this.#fail('badRequest', 'PCL_AGENT_SELF_CONNECT', `${named}${where} is this agent's own listener`, {}),
      );
    }
    return new Promise<OpenResult>((resolve) => {
      let socket: Socket | null = null;
      const settle = (result: OpenResult): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        socket?.off('connect', onConnect);
        socket?.off('error', onError);
        resolve(result);
      };
      const onConnect = (): void => {
        socket!.setNoDelay(true);
        settle({ ok: true, stream: socket!, via: 'direct', upstream: where });
      };
      const onError = (err: Error): void => {
        socket!.destroy();
        settle(
          this.#fail(
            'unreachable',
            'PCL_AGENT_DIRECT_FAILED',
            `${named}${where} (allowed by egressPolicies) unreachable: ${err.message}`,
            { errno: errnoOf(err) },
          ),
        );
      };
      const onAbort = (): void => {
        socket?.destroy();
        settle(
          this.#fail('gateway', 'PCL_AGENT_CLIENT_ABORTED', 'the client went away before the connection was open', {}),
        );
      };
      const timer = setTimeout(() => {
        const err = Object.assign(new Error(`no connection within ${this.#o.directConnectTimeoutMs} ms`), {
          code: 'ETIMEDOUT',
        });
        onError(err);
      }, this.#o.directConnectTimeoutMs);
      timer.unref();
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      socket = netConnect({ host: ip, port, allowHalfOpen: true });
      socket.on('error', () => {}); // reported once through onError (or later through 'close'); never unhandled
      socket.once('connect', onConnect);
      socket.once('error', onError);
    });
  }

  #fail(kind: Refusal['kind'], code: Refusal['code'], reason: string, extra: Partial<Refusal>): OpenResult {
    const refusal: Refusal = { kind, code, reason };
    for (const [k, v] of Object.entries(extra))
      if (v !== undefined) (refusal as unknown as Record<string, unknown>)[k] = v;
    return { ok: false, refusal };
  }
}
