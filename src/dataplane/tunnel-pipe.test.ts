/** The byte pump: half-close in each direction, counts, idle timeout, external close. Real TCP on 127.0.0.1. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { pipeTunnel } from './tunnel-pipe.ts';

/** A connected pair: `caller` is the workload's end, `downstream` is what the gateway pipes (stands in for the HBONE stream). */
async function pair(t: { after(fn: () => unknown): void }): Promise<{ caller: Socket; downstream: Socket }> {
  const server = createServer({ allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const caller = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  const [downstream] = (await once(server, 'connection')) as [Socket];
  t.after(() => {
    caller.destroy();
    server.close();
  });
  return { caller, downstream };
}

async function upstreamServer(
  t: { after(fn: () => unknown): void },
  onConn: (s: Socket) => void,
): Promise<{ server: Server; dial(): Promise<Socket> }> {
  const server = createServer({ allowHalfOpen: true }, onConn);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  return {
    server,
    async dial() {
      const s = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
      await once(s, 'connect');
      return s;
    },
  };
}

test('a FIN from the caller ends only that direction: the upstream still answers after it', async (t) => {
  const up = await upstreamServer(t, (s) => {
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (got += d));
    // Answer only after the caller's half-close arrived.
    s.on('end', () => s.end(`pong:${got}`));
  });
  const { caller, downstream } = await pair(t);
  const pipe = pipeTunnel(downstream, await up.dial(), 60_000, { head: Buffer.from('hello-') });
  caller.end('ping');
  let answer = '';
  caller.setEncoding('utf8');
  caller.on('data', (d: string) => (answer += d));
  await once(caller, 'end');
  assert.equal(answer, 'pong:hello-ping');
  const outcome = await pipe.done;
  assert.equal(outcome.end, 'complete');
  assert.equal(outcome.bytesReceived, 'hello-ping'.length);
  assert.equal(outcome.bytesSent, 'pong:hello-ping'.length);
});

test('an idle tunnel is closed with end "idle"', async (t) => {
  const up = await upstreamServer(t, () => {});
  const { caller, downstream } = await pair(t);
  caller.on('error', () => {});
  const pipe = pipeTunnel(downstream, await up.dial(), 50);
  assert.equal((await pipe.done).end, 'idle');
});

test('destroy() from outside ends both sides with end "external"', async (t) => {
  let upSocket: Socket | null = null;
  const up = await upstreamServer(t, (s) => {
    upSocket = s;
    s.on('error', () => {});
  });
  const { caller, downstream } = await pair(t);
  caller.on('error', () => {});
  const pipe = pipeTunnel(downstream, await up.dial(), 60_000);
  const callerEnded = once(caller, 'end');
  pipe.destroy();
  assert.equal((await pipe.done).end, 'external');
  await callerEnded;
  assert.ok(upSocket !== null);
});

test('an upstream reset is reported as the upstream ending the tunnel', async (t) => {
  const up = await upstreamServer(t, (s) => s.once('data', () => s.resetAndDestroy()));
  const { caller, downstream } = await pair(t);
  caller.on('error', () => {});
  const pipe = pipeTunnel(downstream, await up.dial(), 60_000);
  caller.write('x');
  assert.equal((await pipe.done).end, 'upstream');
});
