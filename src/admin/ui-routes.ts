/**
 * The flow map's routes on the admin port: `/` (the page), `/ui/*` (its script and style, shipped in the
 * repository, no CDN), `/flows` (the current view as JSON), `/flows/events` (server-sent events) and `/flows/edges`
 * (every edge, for `portcullis suggest --admin`). Strict Content-Security-Policy: only this origin's script and
 * style, no inline code, no framing. Requests naming another host are refused, so a web page that rebinds its DNS
 * name to loopback cannot read the map.
 */
import { readFileSync } from 'node:fs';
import { ipFamily } from '../net/ip-syntax.ts';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FlowFilter } from '../learn/flow-map.ts';
import type { FlowHub } from './flow-hub.ts';

/** The policy every UI answer carries. */
export const UI_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/ui/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/ui/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
  '/favicon.ico': { file: 'favicon.svg', type: 'image/svg+xml' },
};

const UI_PATHS: readonly string[] = [...Object.keys(ASSETS), '/flows', '/flows/events', '/flows/edges'];

const MAX_FILTER = 200;

function hostAllowed(req: IncomingMessage): boolean {
  const host = req.headers.host ?? '';
  const name = /^\[([^\]]+)\](?::\d+)?$/.exec(host)?.[1] ?? host.replace(/:\d+$/, '');
  return name === 'localhost' || ipFamily(name) !== 0;
}

function filterOf(url: URL): FlowFilter {
  const get = (k: string): string | undefined => url.searchParams.get(k)?.slice(0, MAX_FILTER) || undefined;
  return { identity: get('identity'), host: get('host'), decision: get('decision'), code: get('code') };
}

export interface UiRoutes {
  /** Answer a UI request; false when `path` is not one of them. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): boolean;
}

export function uiRoutes(hub: FlowHub, assetDir = join(import.meta.dirname, 'ui')): UiRoutes {
  const cache = new Map<string, Buffer>();
  const asset = (file: string): Buffer => {
    let b = cache.get(file);
    if (b === undefined) {
      b = readFileSync(join(assetDir, file));
      cache.set(file, b);
    }
    return b;
  };
  return {
    handle(req, res, path) {
      if (!UI_PATHS.includes(path)) return false;
      const headers = {
        'content-security-policy': UI_CSP,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'x-frame-options': 'DENY',
        'cache-control': 'no-store',
      };
      const send = (status: number, type: string, body: string | Buffer): void => {
        res.writeHead(status, { ...headers, 'content-type': type });
        res.end(req.method === 'HEAD' ? undefined : body);
      };
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD');
        send(405, 'text/plain; charset=utf-8', `method ${req.method} not allowed\n`);
        return true;
      }
      if (!hostAllowed(req)) {
        send(
          403,
          'text/plain; charset=utf-8',
          'the flow map answers only requests addressed to an IP address or localhost\n',
        );
        return true;
      }
      const a = ASSETS[path];
      if (a !== undefined) {
        send(200, a.type, asset(a.file));
        return true;
      }
      const url = new URL(req.url ?? '/', 'http://admin');
      if (path === '/flows') {
        send(200, 'application/json', JSON.stringify(hub.snapshot(filterOf(url))));
      } else if (path === '/flows/edges') {
        send(200, 'application/json', JSON.stringify({ edges: hub.map.edges(), droppedEdges: hub.map.droppedEdges }));
      } else if (!hub.hasRoom()) {
        send(
          503,
          'text/plain; charset=utf-8',
          `${hub.watchers()} browsers are watching already: close one and reload\n`,
        );
      } else {
        res.writeHead(200, { ...headers, 'content-type': 'text/event-stream', connection: 'keep-alive' });
        if (req.method === 'HEAD') res.end();
        else hub.watch(res, filterOf(url));
      }
      return true;
    },
  };
}
