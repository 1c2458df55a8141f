/**
 * Test support for the waypoint (not a test itself): a loopback listener that hands each accepted TCP connection
 * to `handleHttpTunnel` as a stand-in for an HBONE stream after its 200, a test resolver and guard, and small
 * HTTP clients (keep-alive and raw bytes).
 */
import http from 'node:http';
import net from 'node:net';
import type { ConfigFile } from '../../src/config/load.ts';
import { loadConfigTexts } from '../../src/config/load.ts';
import { parseSpiffeId } from '../../src/identity/spiffe-id.ts';
import { compileSnapshot } from '../../src/mesh/compile.ts';
import { resolveAuthority } from '../../src/mesh/destination.ts';
import { parseAuthority } from '../../src/net/authority.ts';
import type { Snapshot } from '../../src/mesh/snapshot.ts';
import type { CredentialStore } from '../../src/waypoint/credentials.ts';
import {
  handleHttpTunnel,
  type HttpTunnelContext,
  type ServiceEntryDestination,
} from '../../src/waypoint/http-tunnel.ts';
import type { RequestEvent } from '../../src/events/request-event.ts';
import {
  compileAddressGuard,
  type AddressGuard,
  type ListenerAddress,
} from '../../src/upstream/private-address-guard.ts';

/**
 * The tests' guard: the real private-address guard with 127.0.0.0/8 allowed (and `listeners` refused), which also
 * refuses every address outside 127.0.0.0/8, so a test can never send a packet off the machine.
 */
export function loopbackGuard(listeners: readonly ListenerAddress[] = []): AddressGuard {
  const real = compileAddressGuard({ allowedPrivateCidrs: ['127.0.0.0/8'], listeners });
  return {
    check(ip, port) {
      const v = real.check(ip, port);
      if (!v.ok) return v;
      return /^127\./.test(ip)
        ? v
        : { ok: false, range: 'test', reason: `${ip} is not loopback (test guard allows 127.0.0.0/8 only)` };
    },
  };
}

/**
 * The waypoint tests' mesh: Gateway `egress/waypoint` (class istio-waypoint) and ServiceEntry `egress/api`
 * (api.example.com, HTTP port 80, resolution DNS) bound to it.
 */
export const WAYPOINT_API = `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: egress}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: egress, labels: {istio.io/use-waypoint: waypoint}}
spec:
  hosts: [api.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
`;

/**
 * An AuthorizationPolicy in namespace `egress` on the waypoint tests' ServiceEntry `api` or Gateway `waypoint`, with
 * one rule whose operation is given as YAML flow text, e.g. `{paths: ["/admin*"]}`.
 */
export function l7Policy(name: string, on: 'api' | 'waypoint', action: 'ALLOW' | 'DENY', operation: string): string {
  const target =
    on === 'api'
      ? '{kind: ServiceEntry, group: networking.istio.io, name: api}'
      : '{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}';
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: egress}
spec:
  targetRefs: [${target}]
  action: ${action}
  rules: [{to: [{operation: ${operation}}]}]
---
`;
}

/** A resolver answering from a table (the tests' stand-in for DNS). */
export function mapResolver(table: Record<string, string[]>): (host: string) => Promise<string[]> {
  return async (host) => {
    const hit = table[host.toLowerCase()];
    if (!hit) throw Object.assign(new Error(`queryA ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return hit;
  };
}

/** Compile a snapshot from manifest texts (and optional portcullis.yaml text). */
export function snapshotFrom(files: readonly ConfigFile[], settings: string | null = null, generation = 1): Snapshot {
  const load = loadConfigTexts(files, {
    settings: settings === null ? null : { path: 'portcullis.yaml', text: settings },
    env: {},
  });
  const errors = load.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0)
    throw new Error(
      `test config invalid: ${errors.map((d) => `${d.file}:${d.line} ${d.code} ${d.message}`).join('; ')}`,
    );
  return compileSnapshot(load, { generation });
}

/** The serviceEntry destination a CONNECT to `authority` names (the lead's dataplane does this per tunnel). */
export function destinationFor(snap: Snapshot, authority: string): ServiceEntryDestination {
  const parsed = parseAuthority(authority);
  if (!parsed.ok) throw new Error(parsed.reason);
  const a = parsed.authority;
  const se = snap.findByHost(null, a.host);
  if (!se) throw new Error(`no bound ServiceEntry declares ${a.host}`);
  const d = resolveAuthority(snap, se.waypoint, a);
  if (d.kind !== 'serviceEntry') throw new Error(`authority ${authority} resolved to ${d.kind}`);
  return d;
}

export interface TunnelListener {
  readonly port: number;
  readonly events: RequestEvent[];
  readonly warnings: string[];
  close(): Promise<void>;
}

export interface TunnelListenerOptions {
  readonly peer: string;
  readonly snapshot: () => Snapshot;
  /** The CONNECT authority every tunnel of this listener carries, e.g. `my-nginx.foo.bar:80`. */
  readonly authority: string;
  readonly credentials: CredentialStore;
  readonly hosts: Record<string, string[]>;
  /** Upstream port rewrites (`443 → the test server's port`). */
  readonly ports?: Record<number, number>;
  readonly random?: () => number;
  /** The guard each request reads (default: `loopbackGuard()`). */
  readonly guard?: () => AddressGuard;
  /** Budget for connecting to the upstream (TCP and TLS), ms. */
  readonly connectTimeoutMs?: number;
  /** The resolver (default: answers from `hosts`). */
  readonly resolver?: (host: string) => Promise<string[]>;
}

/** Listen on 127.0.0.1; every connection is one tunnel from `peer` to `authority`. */
export async function startTunnelListener(o: TunnelListenerOptions): Promise<TunnelListener> {
  const parsed = parseSpiffeId(o.peer);
  if (!parsed.ok) throw new Error(parsed.reason);
  const events: RequestEvent[] = [];
  const warnings: string[] = [];
  const sockets = new Set<net.Socket>();
  const testGuard = loopbackGuard();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const ctx: HttpTunnelContext = {
      stream: socket,
      peer: parsed.id,
      peerAddress: socket.remoteAddress ?? '127.0.0.1',
      destination: destinationFor(o.snapshot(), o.authority),
      snapshot: o.snapshot,
      resolver: o.resolver ?? mapResolver(o.hosts),
      guard: o.guard ?? (() => testGuard),
      credentials: o.credentials,
      emit: (e) => events.push(e),
      warn: (m) => warnings.push(m),
      upstreamPort: (_h, p) => o.ports?.[p] ?? p,
      ...(o.random ? { random: o.random } : {}),
      ...(o.connectTimeoutMs !== undefined ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
    };
    void handleHttpTunnel(ctx);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    events,
    warnings,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** Local port of the client connection (same port = same tunnel reused). */
  readonly localPort: number;
}

/** One request through a (keep-alive) agent; `body` chunks are written one by one (chunked when no length). */
export function send(
  port: number,
  agent: http.Agent,
  opts: {
    method?: string;
    path?: string;
    headers?: http.OutgoingHttpHeaders | string[];
    body?: (string | Buffer)[];
    expectContinue?: boolean;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      agent,
      method: opts.method ?? 'GET',
      path: opts.path ?? '/',
      headers: opts.headers ?? { host: 'my-nginx.foo.bar' },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          localPort: req.socket?.localPort ?? 0,
        }),
      );
      res.on('error', reject);
    });
    const write = () => {
      for (const c of opts.body ?? []) req.write(c);
      req.end();
    };
    if (opts.expectContinue) req.once('continue', write);
    else write();
  });
}

/** Write raw bytes on a new connection and collect everything until the server closes it. */
export function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = net.connect(port, '127.0.0.1', () => sock.write(bytes));
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', (err: Error & { code?: string }) =>
      err.code === 'ECONNRESET' ? resolve(Buffer.concat(chunks).toString('latin1')) : reject(err),
    );
    sock.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
