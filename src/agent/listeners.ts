/**
 * The agent's TCP listeners. A proxy port tells its protocols apart by the first byte, as ztunnel's ports are told
 * apart by number: 0x05 is SOCKS5, an ASCII letter starts an HTTP method (CONNECT or an absolute-form request),
 * anything else (SOCKS4's 0x04, a TLS ClientHello's 0x16) is closed. A forward port tunnels every connection to one
 * fixed destination.
 */
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { formatAuthority } from '../net/authority.ts';
import { createHttpProxy } from './http-proxy.ts';
import { clientOf, type ProxyContext } from './proxy-context.ts';
import type { AgentTarget } from './route.ts';
import { handleSocks5 } from './socks5-session.ts';
import { SOCKS_VERSION } from './socks5-parse.ts';
import { splice } from './splice.ts';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface RunningListener {
  /** `ip:port` actually bound (the real port when 0 was asked). */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

function isHttpMethodByte(b: number): boolean {
  return b >= 0x41 && b <= 0x5a; // 'A'..'Z': every registered method is upper-case letters
}

/** Accept on `at`; each connection is tracked by `ctx` (so close() cuts it) and can never raise an unhandled error. */
async function listen(
  ctx: ProxyContext,
  at: ListenAddress,
  onSocket: (socket: net.Socket) => void,
): Promise<RunningListener> {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    socket.on('error', () => {}); // a reset client is cleaned up through 'close'; nothing to report per byte
    ctx.track(socket);
    onSocket(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => ctx.log.error({ event: 'listener-error', err: err.message }, 'listener error'));
  const bound = server.address() as AddressInfo;
  return {
    address: formatAuthority(bound.address, bound.port),
    host: bound.address,
    port: bound.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  };
}

/** A proxy port: HTTP CONNECT, absolute-form HTTP and SOCKS5 on one address. */
export function startProxyListener(ctx: ProxyContext, at: ListenAddress): Promise<RunningListener> {
  const http = createHttpProxy(ctx);
  return listen(ctx, at, (socket) => {
    ctx.startHandshake(socket);
    const onReadable = (): void => {
      const first = socket.read(1) as Buffer | null;
      if (first === null) {
        // Nothing yet, or the client closed without a byte: wait for more, or let 'close' clean up.
        if (!socket.readableEnded) socket.once('readable', onReadable);
        else socket.destroy();
        return;
      }
      socket.unshift(first);
      const b = first[0];
      if (b === SOCKS_VERSION) handleSocks5(ctx, socket);
      else if (isHttpMethodByte(b)) http.emit('connection', socket);
      else {
        ctx.refused('unknown', clientOf(socket), null, {
          kind: 'badRequest',
          code: 'PCL_AGENT_UNKNOWN_PROTOCOL',
          reason: `first byte 0x${b.toString(16).padStart(2, '0')} is neither SOCKS5 (0x05) nor an HTTP method${b === 0x04 ? ' (SOCKS4 is not supported)' : b === 0x16 ? ' (TLS: use CONNECT first)' : ''}`,
        });
        socket.destroy();
      }
    };
    socket.once('readable', onReadable);
    socket.once('end', () => {
      if (socket.listenerCount('readable') > 0) socket.destroy();
    });
  });
}

/** A plain TCP port that tunnels every connection to `target`, for programs that know no proxy. */
export function startForwardListener(
  ctx: ProxyContext,
  at: ListenAddress,
  target: AgentTarget,
): Promise<RunningListener> {
  return listen(ctx, at, (socket) => {
    socket.pause();
    void (async () => {
      const client = clientOf(socket);
      const result = await ctx.openFor('forward', socket, client, target);
      if (result === null) return;
      if (!result.ok) {
        // Plain TCP has no words for a refusal: the log carries the reason, the client sees a reset.
        ctx.refused('forward', client, target, result.refusal);
        socket.resetAndDestroy();
        return;
      }
      ctx.track(result.stream);
      ctx.opened('forward', client, target, result.via, result.upstream);
      socket.resume();
      await splice(socket, result.stream);
    })();
  });
}
