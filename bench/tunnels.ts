/**
 * Tunnel setup rates against a running gateway: new HBONE tunnels per second over pooled sessions (HboneClient
 * connect, then close, with `concurrency` in flight; each tunnel is decided and dialled upstream by the gateway, as in
 * production), and new mTLS connections per second (a fresh TLS 1.3 handshake with a client certificate each, no
 * resumption, as ztunnel opens them).
 */
import tls from 'node:tls';
import { HboneClient } from '../src/hbone/client.ts';
import { HBONE_ALPN, HBONE_CIPHERS } from '../src/hbone/settings.ts';
import type { IssuedCertificate } from '../src/identity/ca.ts';
import { cpuSeconds, GATEWAY_SAN } from './env.ts';

export interface RateResult {
  readonly count: number;
  readonly perSecond: number;
  readonly errors: number;
}

async function runFor(ms: number, concurrency: number, one: () => Promise<void>): Promise<RateResult> {
  let count = 0;
  let errors = 0;
  let firstError: Error | null = null;
  const start = performance.now();
  const end = start + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        try {
          await one();
          count++;
        } catch (err) {
          errors++;
          firstError ??= err as Error;
          if (errors > 100) throw new Error(`too many failures; first: ${firstError.message}`);
        }
      }
    }),
  );
  const s = (performance.now() - start) / 1000;
  return { count, perSecond: count / s, errors };
}

/**
 * One tunnel's life: CONNECT, then a graceful close (END_STREAM both ways, as ztunnel's copy_bidirectional ends a
 * tunnel). Not RST_STREAM: nghttp2's rapid-reset guard (about 33 resets/s after a burst of 1000) answers a client
 * that cancels streams that fast with GOAWAY INTERNAL_ERROR, whoever the server is.
 */
async function openAndClose(client: HboneClient, authority: string): Promise<void> {
  const t = await client.connect(authority, { forwarded: false });
  await new Promise<void>((resolve) => {
    t.stream.once('close', resolve);
    t.stream.resume();
    t.stream.end();
  });
}

/**
 * New tunnels per second over pooled sessions; with `gatewayPid`, also per gateway CPU-second (CPU time from /proc
 * over the measured window), which means the same on any machine whatever the load generator costs.
 */
export async function hboneTunnelRate(
  gateway: { host: string; port: number },
  cert: IssuedCertificate,
  authority: string,
  opts: { ms: number; concurrency: number; gatewayPid?: number; maxStreamsPerSession?: number },
): Promise<RateResult & { sessions: number; gatewayCpuSeconds?: number; perGatewayCpuSecond?: number }> {
  // maxStreamsPerSession below `concurrency` makes the pool open several sessions (HTTP/2 connections), which
  // `serve --workers N` spreads over its workers (SO_REUSEPORT hands each new connection to one of them).
  const client = new HboneClient({
    certificates: cert,
    gateway,
    expectedSans: [GATEWAY_SAN],
    keepaliveIntervalMs: 0,
    ...(opts.maxStreamsPerSession === undefined ? {} : { maxStreamsPerSession: opts.maxStreamsPerSession }),
  });
  try {
    // Warm the pool (sessions set up once, as they are in steady state) and the gateway's code paths.
    await runFor(300, opts.concurrency, () => openAndClose(client, authority));
    const cpu0 = opts.gatewayPid === undefined ? 0 : cpuSeconds(opts.gatewayPid);
    const r = await runFor(opts.ms, opts.concurrency, () => openAndClose(client, authority));
    if (opts.gatewayPid === undefined) return { ...r, sessions: client.sessionCount };
    const cpu = cpuSeconds(opts.gatewayPid) - cpu0;
    return {
      ...r,
      sessions: client.sessionCount,
      gatewayCpuSeconds: cpu,
      perGatewayCpuSecond: cpu > 0 ? r.count / cpu : undefined,
    };
  } finally {
    client.destroy();
  }
}

export async function mtlsHandshakeRate(
  gateway: { host: string; port: number },
  cert: IssuedCertificate,
  opts: { ms: number; concurrency: number },
): Promise<RateResult> {
  const secureContext = tls.createSecureContext({
    cert: cert.certChainPem,
    key: cert.keyPem,
    ca: cert.rootCertPem,
    minVersion: 'TLSv1.3',
    ciphers: HBONE_CIPHERS,
  });
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = tls.connect({
        host: gateway.host,
        port: gateway.port,
        secureContext,
        ALPNProtocols: [HBONE_ALPN],
        // The SPIFFE SAN is what HboneClient checks; the cost compared here is the handshake itself.
        checkServerIdentity: () => undefined,
      });
      s.once('secureConnect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', reject);
    });
  await runFor(200, opts.concurrency, one);
  return runFor(opts.ms, opts.concurrency, one);
}
