/**
 * L4 data-plane measurements against a port on 127.0.0.1: bulk throughput (iperf3 when installed, else a Node
 * blaster into a discard sink) and 1 KiB request/response latency over connections opened beforehand, both open-loop
 * at a fixed rate and closed-loop at the maximum rate.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { percentile, sleep } from './stats.ts';

export interface ThroughputResult {
  readonly gbps: number;
  readonly tool: 'iperf3' | 'node';
}

/**
 * iperf3 client: `-P streams -t seconds -J`; the receiver's bits per second. The server takes one test at a time and
 * may still be closing the previous one (through a proxy its teardown lags), so "busy" is retried.
 */
export async function iperf3(port: number, streams: number, seconds: number): Promise<ThroughputResult> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await iperf3Once(port, streams, seconds);
    } catch (err) {
      // iperf3's server runs one test at a time and refuses a client while the previous test is still closing. It
      // says "server is busy" and closes the control connection with the client's cookie unread, which is a TCP RST:
      // through any proxy (haproxy's or ours) the RST can overtake the busy byte, so the client sees a reset instead.
      if (
        attempt >= 20 ||
        !/server is busy|unable to receive control message|Connection reset by peer/.test((err as Error).message)
      )
        throw err;
      await sleep(500);
    }
  }
}

function iperf3Once(port: number, streams: number, seconds: number): Promise<ThroughputResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      'iperf3',
      ['-c', '127.0.0.1', '-p', String(port), '-P', String(streams), '-t', String(seconds), '-J'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.once('error', reject);
    p.once('exit', (code) => {
      try {
        const json = JSON.parse(out) as { error?: string; end?: { sum_received?: { bits_per_second: number } } };
        if (json.error !== undefined || json.end?.sum_received === undefined)
          throw new Error(json.error ?? 'no sum_received');
        resolve({ gbps: json.end.sum_received.bits_per_second / 1e9, tool: 'iperf3' });
      } catch (err) {
        reject(
          new Error(
            `iperf3 -c :${port} -P ${streams} failed (exit ${code}): ${(err as Error).message}\n${out.slice(0, 2000)}`,
          ),
        );
      }
    });
  });
}

/**
 * The fallback blaster: `streams` connections each writing 64 KiB chunks for `seconds`; the sink (`echo-server.ts
 * discard`) counts what arrives and the count is read back over the sink's own report connection.
 */
export async function nodeBlast(port: number, streams: number, seconds: number): Promise<ThroughputResult> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let bytes = 0;
  const end = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from(
      { length: streams },
      () =>
        new Promise<void>((resolve, reject) => {
          const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
          s.on('error', reject);
          s.on('data', () => {});
          const pump = (): void => {
            while (Date.now() < end) {
              bytes += chunk.length;
              if (!s.write(chunk)) return void s.once('drain', pump);
            }
            s.end();
            s.once('close', () => resolve());
          };
          s.once('connect', pump);
        }),
    ),
  );
  return { gbps: (bytes * 8) / seconds / 1e9, tool: 'node' };
}

export interface LatencyResult {
  readonly requests: number;
  readonly rps: number;
  readonly p50us: number;
  readonly p99us: number;
}

/** One open connection carrying request/response exchanges of `size` bytes to an echo sink. */
class EchoConn {
  readonly socket: net.Socket;
  #got = 0;
  #size: number;
  #done: (() => void) | null = null;
  constructor(socket: net.Socket, size: number) {
    this.socket = socket;
    this.#size = size;
    socket.on('data', (d: Buffer) => {
      this.#got += d.length;
      if (this.#got >= this.#size && this.#done !== null) {
        this.#got -= this.#size;
        const done = this.#done;
        this.#done = null;
        done();
      }
    });
  }
  exchange(payload: Buffer): Promise<void> {
    return new Promise((resolve) => {
      this.#done = resolve;
      this.socket.write(payload);
    });
  }
}

async function openConns(port: number, n: number, size: number): Promise<EchoConn[]> {
  const conns = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<EchoConn>((resolve, reject) => {
          const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
          s.once('connect', () => resolve(new EchoConn(s, size)));
          s.once('error', reject);
        }),
    ),
  );
  // One exchange each so the tunnels are up end to end before anything is timed.
  const payload = Buffer.alloc(size, 0x62);
  await Promise.all(conns.map((c) => c.exchange(payload)));
  return conns;
}

/** Closed loop: `conns` connections each sending the next request as soon as the last answer arrived. */
export async function latencyMax(
  port: number,
  opts: { conns: number; ms: number; size: number; warmupMs: number },
): Promise<LatencyResult> {
  const conns = await openConns(port, opts.conns, opts.size);
  const payload = Buffer.alloc(opts.size, 0x63);
  const samples: number[] = [];
  const warmEnd = performance.now() + opts.warmupMs;
  const end = warmEnd + opts.ms;
  // A stalled machine may complete nothing inside a tiny (toy) window: keep going until a few samples exist.
  const hardEnd = end + 10_000;
  await Promise.all(
    conns.map(async (c) => {
      for (;;) {
        const t0 = performance.now();
        if (t0 >= hardEnd || (t0 >= end && samples.length >= 32)) return;
        await c.exchange(payload);
        if (t0 >= warmEnd) samples.push((performance.now() - t0) * 1000);
      }
    }),
  );
  const elapsedS = (Math.max(performance.now(), end) - warmEnd) / 1000;
  for (const c of conns) c.socket.destroy();
  return {
    requests: samples.length,
    rps: samples.length / elapsedS,
    p50us: percentile(samples, 0.5),
    p99us: percentile(samples, 0.99),
  };
}

/**
 * Open loop at `rate` requests/s: requests are issued on a fixed schedule whatever the answers do, each on an idle
 * connection from the pool, or queued until one is free; latency counts from issue, so a stall is charged to every
 * request queued behind it.
 */
export async function latencyAtRate(
  port: number,
  opts: { rate: number; conns: number; ms: number; size: number; warmupMs: number },
): Promise<LatencyResult> {
  const conns = await openConns(port, opts.conns, opts.size);
  const idle = [...conns];
  const queue: number[] = [];
  const payload = Buffer.alloc(opts.size, 0x64);
  const samples: number[] = [];
  const start = performance.now();
  const warmEnd = start + opts.warmupMs;
  const end = warmEnd + opts.ms;
  let scheduled = 0;
  let inflight = 0;
  const send = (due: number, c: EchoConn): void => {
    inflight++;
    void c.exchange(payload).then(() => {
      inflight--;
      if (due >= warmEnd) samples.push((performance.now() - due) * 1000);
      const next = queue.shift();
      if (next !== undefined) send(next, c);
      else idle.push(c);
    });
  };
  while (performance.now() < end) {
    const now = performance.now();
    const dueCount = Math.floor(((now - start) / 1000) * opts.rate);
    while (scheduled < dueCount) {
      scheduled++;
      // Timed from when the client issues it (the client's own timer lag is not the proxy's), including any wait for
      // a free connection (that wait is the proxy's).
      const c = idle.pop();
      if (c !== undefined) send(now, c);
      else queue.push(now);
    }
    await sleep(0);
  }
  while (inflight > 0) await sleep(1);
  for (const c of conns) c.socket.destroy();
  return {
    requests: samples.length,
    rps: samples.length / (opts.ms / 1000),
    p50us: percentile(samples, 0.5),
    p99us: percentile(samples, 0.99),
  };
}
