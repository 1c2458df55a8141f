/**
 * The kubelet's health port (Istio's 15021): the kubelet probes the pod's IP, so readiness cannot live on the admin
 * port, which stays on loopback. Answers only `/healthz/ready` (readiness) and `/healthz/live` (liveness); nothing
 * else about the gateway is visible here.
 */
import { createServer } from 'node:http';
import { listenHttp, type AdminServer } from '../admin/admin-server.ts';

/** Istio's health port and path (`pilot/pkg/model` StatusPort 15021, `/healthz/ready`). */
export const HEALTH_PORT = 15021;
const READY_PATH = '/healthz/ready';
const LIVE_PATH = '/healthz/live';

export type HealthServer = AdminServer;

export async function startHealthServer(
  ready: () => { readonly ready: boolean; readonly why: string },
  host: string,
  port: number,
): Promise<HealthServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: string): void => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'GET or HEAD only\n');
    if (path === LIVE_PATH) return send(200, 'ok\n');
    if (path !== READY_PATH) return send(404, `not found: ${path}\n`);
    const r = ready();
    send(r.ready ? 200 : 503, `${r.why}\n`);
  });
  // Probes are tiny; a slow or idle client must not hold a socket.
  server.headersTimeout = 5000;
  server.requestTimeout = 5000;
  server.keepAliveTimeout = 1000;
  return listenHttp(server, host, port);
}
