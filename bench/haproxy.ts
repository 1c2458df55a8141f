/**
 * The reference chain for the L4 rows, the same shape as Portcullis's two hops: haproxy #1 takes plain TCP and
 * originates TLS 1.3 with a client certificate; haproxy #2 terminates mTLS (client certificate required, verified
 * against the dev CA) and forwards plain TCP to the sink. One thread each, as one Portcullis process each.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueWorkloadCert } from '../src/identity/ca.ts';
import { freePort, GATEWAY_SAN, hasCommand, startChild, type BenchPki, type Child } from './env.ts';
import { sleep } from './stats.ts';

export interface HaproxyChain {
  /** sink port → the chain's entry port on 127.0.0.1 */
  readonly entries: ReadonlyMap<number, number>;
  readonly children: readonly Child[];
  stop(): Promise<void>;
}

export const HAPROXY_SKIP = 'skipped: haproxy not installed (apt-get install haproxy)';

export function haproxyInstalled(): boolean {
  return hasCommand('haproxy');
}

const DEFAULTS = `defaults
  mode tcp
  timeout connect 5s
  timeout client 120s
  timeout server 120s
`;

function global(): string {
  return `global
  nbthread 1
  maxconn 8000
  ssl-default-server-ciphersuites TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256
  ssl-default-bind-ciphersuites TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256
`;
}

async function waitListening(port: number, child: Child): Promise<void> {
  const { connect } = await import('node:net');
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (child.proc.exitCode !== null) throw new Error(`haproxy exited: ${child.output()}`);
    await sleep(50);
  }
  throw new Error(`haproxy not listening on ${port}: ${child.output()}`);
}

export async function startHaproxyChain(pki: BenchPki, sinkPorts: readonly number[]): Promise<HaproxyChain> {
  const dir = pki.dir;
  const server = await issueWorkloadCert(pki.ca, { spiffe: GATEWAY_SAN, ttl: 3_600_000 });
  writeFileSync(join(dir, 'hap-client.pem'), pki.client.certChainPem + pki.client.keyPem);
  writeFileSync(join(dir, 'hap-server.pem'), server.certChainPem + server.keyPem);
  writeFileSync(join(dir, 'hap-root.pem'), pki.client.rootCertPem);
  const entries = new Map<number, number>();
  let first = global() + DEFAULTS;
  let second = global() + DEFAULTS;
  const checks: number[][] = [];
  for (const sink of sinkPorts) {
    const entry = await freePort();
    const middle = await freePort();
    entries.set(sink, entry);
    checks.push([entry, middle]);
    first += `frontend in-${sink}
  bind 127.0.0.1:${entry}
  default_backend tls-${sink}
backend tls-${sink}
  server gw 127.0.0.1:${middle} ssl crt ${join(dir, 'hap-client.pem')} ca-file ${join(dir, 'hap-root.pem')} verify required ssl-min-ver TLSv1.3
`;
    second += `frontend mtls-${sink}
  bind 127.0.0.1:${middle} ssl crt ${join(dir, 'hap-server.pem')} ca-file ${join(dir, 'hap-root.pem')} verify required ssl-min-ver TLSv1.3
  default_backend sink-${sink}
backend sink-${sink}
  server sink 127.0.0.1:${sink}
`;
  }
  writeFileSync(join(dir, 'haproxy-1.cfg'), first);
  writeFileSync(join(dir, 'haproxy-2.cfg'), second);
  const h2 = startChild('haproxy', ['-db', '-f', join(dir, 'haproxy-2.cfg')]);
  const h1 = startChild('haproxy', ['-db', '-f', join(dir, 'haproxy-1.cfg')]);
  for (const [entry, middle] of checks) {
    await waitListening(middle, h2);
    await waitListening(entry, h1);
  }
  return { entries, children: [h1, h2], stop: async () => void (await Promise.all([h1.stop(), h2.stop()])) };
}
