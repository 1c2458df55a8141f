/** One SOCKS5 client connection: method selection, the CONNECT request, the tunnel, and the reply code (RFC 1928). */
import type { Socket } from 'node:net';
import { clientOf, type ProxyContext } from './proxy-context.ts';
import { socksReplyFor, SOCKS_REPLY } from './refusal.ts';
import type { AgentTarget } from './route.ts';
import {
  encodeReply,
  METHOD_NO_AUTH,
  METHOD_NONE_ACCEPTABLE,
  parseGreeting,
  parseRequest,
  SOCKS_VERSION,
} from './socks5-parse.ts';
import { splice } from './splice.ts';

/** Longest handshake a client may send before its request is complete: 257 (greeting) + 262 (request). */
const MAX_HANDSHAKE = 1024;

export function handleSocks5(ctx: ProxyContext, socket: Socket): void {
  const client = clientOf(socket);
  let buf: Buffer = Buffer.alloc(0);
  let stage: 'greeting' | 'request' = 'greeting';

  const detach = (): void => {
    socket.off('data', onData);
    socket.off('end', onEnd);
  };

  const refuse = (reason: string, reply: number | undefined): void => {
    detach();
    const unsupported = [
      SOCKS_REPLY.commandNotSupported,
      SOCKS_REPLY.addressTypeNotSupported,
      METHOD_NONE_ACCEPTABLE,
    ] as number[];
    const code =
      reply === undefined
        ? 'PCL_AGENT_UNKNOWN_PROTOCOL'
        : unsupported.includes(reply)
          ? 'PCL_AGENT_SOCKS_UNSUPPORTED'
          : 'PCL_AGENT_BAD_REQUEST';
    ctx.refused('socks5', client, null, { kind: 'badRequest', code, reason });
    if (reply === undefined) socket.destroy();
    else socket.end(stage === 'greeting' ? Buffer.from([SOCKS_VERSION, reply]) : encodeReply(reply));
  };

  // A client that half-closes mid-handshake can never finish it; the port is half-open, so close it here.
  function onEnd(): void {
    detach();
    ctx.refused('socks5', client, null, {
      kind: 'gateway',
      code: 'PCL_AGENT_CLIENT_ABORTED',
      reason: `the client left during the SOCKS5 ${stage}`,
    });
    socket.destroy();
  }

  function onData(chunk: Buffer): void {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    if (stage === 'greeting') {
      const g = parseGreeting(buf);
      if (g.status === 'incomplete') return void (buf.length > MAX_HANDSHAKE && socket.destroy());
      if (g.status === 'error') return refuse(g.reason, g.reply);
      if (!g.value.noAuthOffered)
        return refuse(
          'the client offered no SOCKS5 method the agent accepts (only "no authentication")',
          METHOD_NONE_ACCEPTABLE,
        );
      socket.write(Buffer.from([SOCKS_VERSION, METHOD_NO_AUTH]));
      buf = buf.subarray(g.consumed);
      stage = 'request';
    }
    const r = parseRequest(buf);
    if (r.status === 'incomplete') return void (buf.length > MAX_HANDSHAKE && socket.destroy());
    if (r.status === 'error') return refuse(r.reason, r.reply);
    ctx.handshakeDone(socket);
    detach();
    socket.pause();
    void connect(ctx, socket, r.value, buf.subarray(r.consumed));
  }

  socket.on('data', onData);
  socket.once('end', onEnd);
}

async function connect(ctx: ProxyContext, socket: Socket, target: AgentTarget, early: Buffer): Promise<void> {
  const client = clientOf(socket);
  const result = await ctx.openFor('socks5', socket, client, target);
  if (result === null) return;
  if (!result.ok) {
    ctx.refused('socks5', client, target, result.refusal);
    socket.end(encodeReply(socksReplyFor(result.refusal)));
    return;
  }
  ctx.track(result.stream);
  ctx.opened('socks5', client, target, result.via, result.upstream);
  socket.write(encodeReply(SOCKS_REPLY.succeeded));
  if (early.length > 0) result.stream.write(early);
  socket.resume();
  await splice(socket, result.stream);
}
