/** The byte pump: half-close in each direction, counts, idle timeout, external close. Real TCP on 127.0.0.1. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { IdleSweeper } from './idle-sweep.ts';
import { pipeTunnel, type PipeOutcome } from './tunnel-pipe.ts';

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

test('back-pressure both ways: 16 MiB each way to slow readers arrive whole and in order, and are counted', async (t) => {
  const SIZE = 16 * 1024 * 1024;
  const payload = (seed: number): Buffer => {
    const b = Buffer.allocUnsafe(SIZE);
    for (let i = 0; i < SIZE; i += 4) b.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
    return b;
  };
  const up = payload(1);
  const down = payload(2);
  /** Read everything `s` sends, pausing now and then so the sender has to wait. */
  const slowRead = (s: Socket): Promise<Buffer> =>
    new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let n = 0;
      s.on('data', (c: Buffer) => {
        chunks.push(c);
        if (++n % 16 === 0) {
          s.pause();
          setTimeout(() => s.resume(), 2);
        }
      });
      s.once('end', () => resolve(Buffer.concat(chunks)));
    });
  let upstreamGot!: Promise<Buffer>;
  const server = await upstreamServer(t, (s) => {
    upstreamGot = slowRead(s);
    s.end(down);
  });
  const { caller, downstream } = await pair(t);
  const pipe = pipeTunnel(downstream, await server.dial(), 60_000);
  const callerGot = slowRead(caller);
  caller.end(up);
  const [atCaller, outcome] = await Promise.all([callerGot, pipe.done]);
  assert.ok((await upstreamGot).equals(up), 'the caller-to-upstream bytes arrived whole');
  assert.ok(atCaller.equals(down), 'the upstream-to-caller bytes arrived whole');
  assert.equal(outcome.end, 'complete');
  assert.equal(outcome.bytesReceived, SIZE);
  assert.equal(outcome.bytesSent, SIZE);
});

test('a caller stream left paused (as the ClientHello read leaves it) still flows once piped, after the head', async (t) => {
  const up = await upstreamServer(t, (s) => {
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (got += d));
    s.on('end', () => s.end(`got:${got}`));
  });
  const { caller, downstream } = await pair(t);
  downstream.pause();
  caller.end('rest');
  await new Promise((r) => setTimeout(r, 20)); // the bytes wait in the paused stream
  const pipe = pipeTunnel(downstream, await up.dial(), 60_000, { head: Buffer.from('head-') });
  let answer = '';
  caller.setEncoding('utf8');
  caller.on('data', (d: string) => (answer += d));
  await once(caller, 'end');
  assert.equal(answer, 'got:head-rest');
  assert.equal((await pipe.done).end, 'complete');
});

test('bytes either way keep a tunnel open past its idle timeout; silence then closes it (sweeper on a fake clock)', async (t) => {
  let now = 0;
  const sweeper = new IdleSweeper(() => now);
  const up = await upstreamServer(t, (s) => s.pipe(s)); // echo
  const { caller, downstream } = await pair(t);
  caller.on('error', () => {});
  let ended: PipeOutcome | null = null;
  const pipe = pipeTunnel(downstream, await up.dial(), 1000, { sweeper, onDone: (o) => (ended = o) });
  for (let i = 0; i < 5; i++) {
    caller.write('x');
    await once(caller, 'data'); // the echo came back: bytes moved both ways
    now += 600;
    sweeper.sweep();
    assert.equal(ended, null, `open after ${now} ms of wall-clock with bytes every 600 ms`);
  }
  now += 999;
  sweeper.sweep();
  assert.equal(ended, null, 'not closed before a whole timeout of silence');
  now += 1;
  sweeper.sweep();
  const outcome = await pipe.done;
  assert.equal(outcome.end, 'idle');
  assert.equal(ended, outcome, 'onDone got the same outcome');
  assert.equal(outcome.bytesReceived, 5);
  assert.equal(outcome.bytesSent, 5);
});
