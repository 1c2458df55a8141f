/**
 * The admin port (ztunnel's 15000 on localhost): /metrics, /healthz, /ready, /config_dump. Its own HTTP server,
 * never on the data path; it reads the gateway through callbacks and holds no state of its own.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Snapshot } from '../mesh/snapshot.ts';
import { readyLines } from '../mesh/config-health.ts';
import { configDump } from './config-dump.ts';
import { messageOf } from '../errors/message-of.ts';
import type { UiRoutes } from './ui-routes.ts';

export interface AdminSources {
  /** The Prometheus exposition (one gateway's registry, or every worker's aggregated). */
  metrics(): Promise<{ readonly contentType: string; readonly text: string }>;
  /** The configuration in force as JSON-ready data, or null before the first one. */
  configDump(): Promise<unknown | null>;
  /** Ready: a snapshot is loaded, the HBONE listener is up, and the gateway is not draining. */
  ready(): { readonly ready: boolean; readonly why: string };
  /** The flow map (`/`, `/ui/*`, `/flows*`), when this admin server has one. */
  readonly ui?: UiRoutes;
}

/** Admin sources for one in-process gateway. */
export function gatewaySources(
  registry: Registry,
  snapshot: () => Snapshot | null,
  ready: AdminSources['ready'],
): AdminSources {
  return {
    metrics: async () => ({ contentType: registry.contentType, text: await registry.metrics() }),
    configDump: async () => {
      const snap = snapshot();
      return snap === null ? null : configDump(snap);
    },
    ready: () => {
      // Still 200 while it serves: the invalid resources fail closed, and the body says which and why.
      const r = ready();
      const snap = snapshot();
      const lines = snap === null ? [] : readyLines(snap);
      return lines.length === 0 ? r : { ready: r.ready, why: [r.why, ...lines].join('\n') };
    },
  };
}

export interface AdminServer {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

/** Start the admin server on `host:port` (port 0 picks a free one). */
export async function startAdminServer(sources: AdminSources, host: string, port: number): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (sources.ui?.handle(req, res, path)) return;
    const known = ['/metrics', '/healthz', '/ready', '/config_dump'];
    if (!known.includes(path)) {
      send(404, 'text/plain; charset=utf-8', `not found: ${path}\nendpoints: ${known.join(' ')}\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(405, 'text/plain; charset=utf-8', `method ${req.method} not allowed\n`);
      return;
    }
    switch (path) {
      case '/healthz':
        send(200, 'text/plain; charset=utf-8', 'ok\n');
        return;
      case '/ready': {
        const r = sources.ready();
        send(r.ready ? 200 : 503, 'text/plain; charset=utf-8', `${r.why}\n`);
        return;
      }
      case '/config_dump':
        sources.configDump().then(
          (dump) =>
            dump === null
              ? send(503, 'text/plain; charset=utf-8', 'no configuration loaded yet\n')
              : send(200, 'application/json', `${JSON.stringify(dump, null, 2)}\n`),
          (err: unknown) => send(500, 'text/plain; charset=utf-8', `config dump failed: ${messageOf(err)}\n`),
        );
        return;
      case '/metrics':
        sources.metrics().then(
          (m) => send(200, m.contentType, m.text),
          (err: unknown) => send(500, 'text/plain; charset=utf-8', `metrics failed: ${messageOf(err)}\n`),
        );
        return;
    }
  });
  // Keep-alive clients (Prometheus) must not hold shutdown up.
  server.keepAliveTimeout = 5000;
  return listenHttp(server, host, port);
}

/** Listen on `host:port` (0 = any free port); `close` also ends idle keep-alive connections. */
export async function listenHttp(server: Server, host: string, port: number): Promise<AdminServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    address: server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
