/** Test fixtures for the HBONE tests: a throwaway CA, identities, a running server and a raw HTTP/2 attempt helper. */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import * as http2 from 'node:http2';
import type { ClientHttp2Session, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { initCa, issueWorkloadCert, type CertificateAuthority, type IssuedCertificate } from '../../src/identity/ca.ts';
import { StaticCertificateSource } from '../../src/identity/cert-store.ts';
import type { HboneRefusal } from '../../src/events/hbone-events.ts';
import { createHboneServer, type HboneHandler, type HboneServer } from '../../src/hbone/server.ts';
import type { HboneLimits } from '../../src/hbone/settings.ts';

export const TRUST_DOMAIN = 'cluster.local';
export const GATEWAY_ID = 'spiffe://cluster.local/ns/istio-system/sa/egress-gateway';
export const CLIENT_ID = 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage';
const HOUR = 3_600_000;

interface TestContextLike {
  after(fn: () => unknown): void;
}

export interface Pki {
  readonly ca: CertificateAuthority;
  readonly gateway: IssuedCertificate;
  readonly client: IssuedCertificate;
  readonly dir: string;
}

/** A CA with a gateway and a client workload certificate, removed after the test. */
export async function makePki(t: TestContextLike): Promise<Pki> {
  const dir = await mkdtemp(join(tmpdir(), 'pcl-hbone-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ca = await initCa(join(dir, 'ca'), { trustDomain: TRUST_DOMAIN });
  const gateway = await issueWorkloadCert(ca, { spiffe: GATEWAY_ID, ttl: HOUR });
  const client = await issueWorkloadCert(ca, { spiffe: CLIENT_ID, ttl: HOUR });
  return { ca, gateway, client, dir };
}

export interface RunningServer {
  readonly server: HboneServer;
  readonly port: number;
  readonly refusals: HboneRefusal[];
  /** Resolves with the first refusal (already seen or future) matching `code`. */
  refusal(code: string): Promise<HboneRefusal>;
}

export async function startServer(
  t: TestContextLike,
  pki: Pki,
  handler: HboneHandler,
  limits: Partial<HboneLimits> = {},
): Promise<RunningServer> {
  const server = createHboneServer({
    certificates: new StaticCertificateSource(pki.gateway),
    trustDomain: TRUST_DOMAIN,
    handler,
    limits: { keepaliveIntervalMs: 0, ...limits },
  });
  const refusals: HboneRefusal[] = [];
  server.on('refused', (r: HboneRefusal) => refusals.push(r));
  const { port } = await server.listen(0, '127.0.0.1');
  t.after(async () => {
    server.destroy();
    await server.close();
  });
  const refusal = (code: string): Promise<HboneRefusal> => {
    const seen = refusals.find((r) => r.code === code);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const on = (r: HboneRefusal): void => {
        if (r.code !== code) return;
        server.off('refused', on);
        resolve(r);
      };
      server.on('refused', on);
    });
  };
  return { server, port, refusals, refusal };
}

/** TLS options for a client presenting `identity` and trusting the PKI's root. */
export function clientTls(
  pki: Pki,
  port: number,
  identity: IssuedCertificate | null = pki.client,
): tls.ConnectionOptions {
  return {
    host: '127.0.0.1',
    port,
    ...(identity ? { cert: identity.certChainPem, key: identity.keyPem } : {}),
    ca: pki.ca.rootCertPem,
    minVersion: 'TLSv1.3',
    ALPNProtocols: ['h2'],
    checkServerIdentity: () => undefined,
  };
}

export type Attempt =
  | { readonly kind: 'response'; readonly status: number; readonly headers: IncomingHttpHeaders }
  | { readonly kind: 'error'; readonly message: string };

/** Open a raw node HTTP/2 session (no HBONE client logic) and send one request; report what came back. */
export async function rawAttempt(
  tlsOptions: tls.ConnectionOptions,
  headers: OutgoingHttpHeaders,
  sessionOptions: http2.ClientSessionOptions = {},
): Promise<Attempt> {
  const session: ClientHttp2Session = http2.connect(`https://127.0.0.1:${tlsOptions.port}`, {
    ...sessionOptions,
    createConnection: () => tls.connect(tlsOptions),
  });
  session.on('error', () => {});
  try {
    return await new Promise<Attempt>((resolve) => {
      let req: http2.ClientHttp2Stream;
      try {
        req = session.request(headers, { endStream: false });
      } catch (err) {
        resolve({ kind: 'error', message: (err as Error).message });
        return;
      }
      req.on('response', (h) => resolve({ kind: 'response', status: Number(h[':status']), headers: h }));
      req.on('error', (err) => resolve({ kind: 'error', message: err.message }));
      req.on('close', () => resolve({ kind: 'error', message: `closed, rst ${req.rstCode}` }));
      session.on('close', () => resolve({ kind: 'error', message: 'session closed' }));
    });
  } finally {
    session.destroy();
  }
}

/** Read a stream to its end. */
export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  await once(stream, 'end');
  return Buffer.concat(chunks).toString('utf8');
}
