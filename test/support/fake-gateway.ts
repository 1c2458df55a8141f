/**
 * Test fixtures for the agent: a development CA, workload certificates, and a fake HBONE gateway built on the real
 * HBONE server whose handler records each CONNECT and answers as the test says (echo, dial a local server, 401, 503).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { createHboneServer, type HboneRequest, type HboneServer } from '../../src/hbone/server.ts';
import { initCa, issueWorkloadCert, type CertificateAuthority } from '../../src/identity/ca.ts';
import { StaticCertificateSource, type TlsMaterial } from '../../src/identity/cert-store.ts';
import { splice } from '../../src/agent/splice.ts';
import { GATEWAY_SPIFFE } from './agent-config.ts';

export interface SeenConnect {
  readonly authority: string;
  readonly peer: string;
  readonly sessionId: number;
  readonly forwarded?: string;
  readonly baggage?: string;
  readonly traceparent?: string;
}

export type Answer =
  | { readonly echo: true }
  | { readonly dial: number }
  | { readonly status: number; readonly headers?: Record<string, string> };

export interface FakeGateway {
  readonly server: HboneServer;
  readonly port: number;
  readonly seen: SeenConnect[];
  /** Decide the answer for an authority (default: echo). */
  answer: (authority: string) => Answer;
  close(): Promise<void>;
}

export interface TestPki {
  readonly ca: CertificateAuthority;
  workload(spiffe: string): Promise<TlsMaterial>;
  cleanup(): Promise<void>;
}

export async function createTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'pcl-agent-'));
  const ca = await initCa(dir, { trustDomain: 'cluster.local' });
  return {
    ca,
    workload: async (spiffe) => {
      const issued = await issueWorkloadCert(ca, { spiffe, ttl: 3_600_000 });
      return { certChainPem: issued.certChainPem, keyPem: issued.keyPem, rootCertPem: issued.rootCertPem };
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export async function startFakeGateway(pki: TestPki, identity = GATEWAY_SPIFFE): Promise<FakeGateway> {
  const material = await pki.workload(identity);
  const seen: SeenConnect[] = [];
  const gw: { answer: (authority: string) => Answer } = { answer: () => ({ echo: true }) };
  const handler = async (req: HboneRequest): Promise<void> => {
    seen.push({
      authority: req.authority.raw,
      peer: req.peer.uri,
      sessionId: req.sessionId,
      forwarded: req.forwarded,
      baggage: req.baggage,
      traceparent: req.traceparent,
    });
    const answer = gw.answer(req.authority.raw);
    if ('echo' in answer) {
      req.respond(200);
      req.stream.pipe(req.stream);
      return;
    }
    if ('dial' in answer) {
      const upstream = net.connect({ host: '127.0.0.1', port: answer.dial, allowHalfOpen: true });
      upstream.on('error', () => {});
      await new Promise<void>((resolve) => {
        upstream.once('connect', resolve);
        upstream.once('error', () => resolve());
      });
      if (upstream.destroyed || !upstream.remotePort) {
        req.respond(503, { 'x-portcullis-reason': 'upstream connect failed' });
        return;
      }
      req.respond(200);
      await splice(req.stream, upstream);
      return;
    }
    req.respond(answer.status, answer.headers);
  };
  const server = createHboneServer({
    certificates: new StaticCertificateSource(material),
    trustDomain: 'cluster.local',
    handler,
  });
  server.on('error', () => {});
  const addr = await server.listen(0, '127.0.0.1');
  return Object.assign(gw, {
    server,
    port: addr.port,
    seen,
    close: async () => {
      server.destroy();
      await server.close();
    },
  });
}

/** A logger that keeps its JSON lines in memory, so tests can assert refusals were logged. */
export function memoryLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** A TCP server that echoes, and one that answers HTTP with what it received as JSON. */
export async function startEchoServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.once('close', () => sockets.delete(s));
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
