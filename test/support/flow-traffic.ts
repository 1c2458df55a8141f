/**
 * The quickstart's seed-000 traffic shapes against an in-process gateway, for the flow map, learn mode and
 * `suggest`: bookinfo-productpage to httpbin.org (allowed, real TLS), default/sleep to httpbin.org (denied by
 * deny-default-egress), productpage to a host no ServiceEntry declares, and to a bare IP. Every name resolves to
 * the loopback stand-in, so nothing leaves the machine.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type RunningGateway } from '../../src/gateway/gateway.ts';
import { configFrom, EXAMPLES } from './cli.ts';
import { caller, httpGet, tlsOver, type Caller } from './hbone-caller.ts';
import { makeTestPki, type TestPki } from './pki.ts';
import { startTlsUpstream, type TlsUpstream } from './tls-upstream.ts';

export const GATEWAY_ID = 'spiffe://cluster.local/ns/istio-system/sa/ztunnel-egress';
export const PRODUCTPAGE = 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage';
export const SLEEP = 'spiffe://cluster.local/ns/default/sa/sleep';
export const UNDECLARED = 'undeclared.example';

export interface FlowEnv {
  readonly pki: TestPki;
  readonly upstream: TlsUpstream;
  readonly gw: RunningGateway;
  readonly configDir: string;
  readonly logFile: string;
  readonly productpage: Caller;
  readonly sleep: Caller;
  close(): Promise<void>;
}

/** The seed's settings with the loopback stand-in allowed, and learn mode when asked. */
export function seedSettings(learn: boolean): string {
  return `${readFileSync(join(EXAMPLES, 'seed-000', 'portcullis.yaml'), 'utf8')}\nallowedPrivateCidrs: [127.0.0.0/8]\n${learn ? 'learn: true\n' : ''}`;
}

/** The seed's ServiceEntry with a targetPort to the stand-in's free port (the ServiceEntry keeps port 443). */
export function seedServiceEntry(upstreamPort: number): string {
  const se = readFileSync(join(EXAMPLES, 'seed-000', 'serviceentry.yaml'), 'utf8');
  return se.replace('      protocol: TLS\n', `      protocol: TLS\n      targetPort: ${upstreamPort}\n`);
}

export async function startFlowEnv(opts: { learn: boolean }): Promise<FlowEnv> {
  const pki = await makeTestPki();
  const upstream = await startTlsUpstream(await pki.server('httpbin.org', UNDECLARED), '127.0.0.1', 0);
  const cfg = configFrom('seed-000', {
    files: [
      'gateway.yaml',
      'namespace.yaml',
      'default-deny.yaml',
      'gateway-policies.yaml',
      'serviceentry-policies.yaml',
    ],
    extra: { 'portcullis.yaml': seedSettings(opts.learn), 'serviceentry.yaml': seedServiceEntry(upstream.port) },
  });
  const logDir = mkdtempSync(join(tmpdir(), 'portcullis-flowlog-'));
  const logFile = join(logDir, 'access.log');
  const gw = await startGateway({
    configDir: cfg.dir,
    caDir: pki.caDir,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    resolver: { resolve: async () => ['127.0.0.1'] },
    log: logFile,
    drainMs: 0,
  });
  const at = { host: '127.0.0.1', port: gw.hbonePort };
  const productpage = caller(await pki.workload('bookinfo', 'bookinfo-productpage'), at, GATEWAY_ID);
  const sleep = caller(await pki.workload('default', 'sleep'), at, GATEWAY_ID);
  return {
    pki,
    upstream,
    gw,
    configDir: cfg.dir,
    logFile,
    productpage,
    sleep,
    async close() {
      productpage.close();
      sleep.close();
      await gw.close();
      await upstream.close();
      cfg.cleanup();
      pki.cleanup();
      rmSync(logDir, { recursive: true, force: true });
    },
  };
}

/** One HTTPS GET through a tunnel; returns the HBONE refusal instead when the gateway refuses. */
export async function getThrough(
  env: FlowEnv,
  who: Caller,
  host: string,
  authority = `${host}:443`,
): Promise<{ ok: true; status: number } | { ok: false; status: number; reason: string }> {
  const t = await who.connect(authority);
  if (!t.ok) return t;
  const socket = await tlsOver(t.tunnel, host, env.pki.ca.rootCertPem);
  const res = await httpGet(socket, host, '/get');
  t.tunnel.stream.end();
  return { ok: true, status: res.status };
}

/** The quickstart's shapes: productpage twice to httpbin.org, sleep once, productpage to an undeclared host and to a bare IP. */
export async function driveQuickstartShapes(
  env: FlowEnv,
): Promise<Record<string, { ok: boolean; status: number; reason?: string }>> {
  return {
    productpage1: await getThrough(env, env.productpage, 'httpbin.org'),
    productpage2: await getThrough(env, env.productpage, 'httpbin.org'),
    sleep: await getThrough(env, env.sleep, 'httpbin.org'),
    undeclared: await getThrough(env, env.productpage, UNDECLARED),
    bareIp: await (async () => {
      const t = await env.productpage.connect(`127.0.0.1:${env.upstream.port}`);
      if (!t.ok) return t;
      t.tunnel.stream.destroy();
      return { ok: true, status: 200 };
    })(),
  };
}
