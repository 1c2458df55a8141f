/**
 * Keep-alive agents for the L7 upstream whose new connections are dialled only by `dialFirst` over the addresses the
 * request was vetted with (never a fresh DNS lookup, never an address the guard did not see), with one budget for
 * TCP and TLS together.
 */
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { CONNECT_TIMEOUT_MS, dialFirst } from './dial.ts';
import type { UpstreamAddress } from './plan.ts';

/** Request options the agent reads: the vetted addresses and the budget for TCP + TLS. */
export interface VettedRequestOptions {
  readonly vetted: readonly UpstreamAddress[];
  readonly connectTimeoutMs?: number;
}

/** What one pool's connections all share: the addresses it dials, and for TLS the settings every handshake uses. */
export interface PoolSettings {
  /** Dialled when a request names none of its own (`vetted` on the request wins). */
  readonly vetted?: readonly UpstreamAddress[];
  /** TLS options given to every handshake (over the request's), e.g. servername, secureContext, checkServerIdentity. */
  readonly tls?: ConnectionOptions;
}

type Oncreate = (err: Error | null, socket?: Duplex) => void;
interface AgentInternals {
  createConnection(options: Record<string, unknown>, oncreate: Oncreate): Duplex | undefined;
}

function timeoutError(ms: number): Error {
  return Object.assign(new Error(`connect timeout after ${ms} ms`), { code: 'ETIMEDOUT' });
}

/**
 * An agent (`https.Agent` when `tls`) that dials the request's `vetted` addresses (else the pool's) in order. Pass
 * the addresses with each request: `http.request({ agent, host: vetted[0].ip, port, vetted, ... })`, or once for the
 * pool: `vettedAgent(true, options, { vetted, tls: { servername, secureContext } })`. The pool's settings stay out of
 * the agent's options: node copies those (a dictionary object) into every request's options, so each entry there is
 * paid per request; here they are read only when a connection is opened.
 */
export function vettedAgent(tls: boolean, options: http.AgentOptions, pool: PoolSettings = {}): http.Agent {
  const agent = tls ? new https.Agent(options) : new http.Agent(options);
  const internals = agent as unknown as AgentInternals;
  const tlsConnect = internals.createConnection.bind(agent);

  internals.createConnection = (opts, oncreate) => {
    const vetted = (opts as unknown as Partial<VettedRequestOptions>).vetted ?? pool.vetted;
    const budget = (opts as unknown as Partial<VettedRequestOptions>).connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    if (vetted === undefined || vetted.length === 0) {
      oncreate(new Error('no vetted upstream address was given for this request'));
      return undefined;
    }
    const started = Date.now();
    void dialFirst(vetted, budget, new AbortController().signal).then((dialled) => {
      if (!dialled.ok) {
        oncreate(new Error(dialled.reason));
        return;
      }
      dialled.socket.setKeepAlive(true, 1000);
      if (!tls) {
        oncreate(null, dialled.socket);
        return;
      }
      // The TLS handshake gets what remains of the budget.
      const secure = tlsConnect({ ...opts, ...pool.tls, socket: dialled.socket }, () => {}) as TLSSocket;
      const left = Math.max(1, budget - (Date.now() - started));
      const timer = setTimeout(() => secure.destroy(timeoutError(budget)), left);
      secure.once('secureConnect', () => clearTimeout(timer));
      secure.once('close', () => clearTimeout(timer));
      oncreate(null, secure);
    });
    return undefined;
  };

  return agent;
}
