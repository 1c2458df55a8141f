/**
 * Seed 000's surroundings for end-to-end tests: a mesh CA, a local TLS stand-in for httpbin.org (on 443 of its own
 * loopback address when allowed, so the ServiceEntry is used verbatim), and dnsmasq resolving names to it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXAMPLES } from './cli.ts';
import { startDnsmasq, type Dnsmasq } from './dnsmasq.ts';
import { makeTestPki, type TestPki } from './pki.ts';
import { startTlsUpstream, type TlsUpstream } from './tls-upstream.ts';

export const GATEWAY_ID = 'spiffe://cluster.local/ns/istio-system/sa/ztunnel-egress';

/** The seed's settings plus the exception the tests need: the stand-in for httpbin.org lives on loopback. */
export const SEED_SETTINGS = `${readFileSync(join(EXAMPLES, 'seed-000', 'portcullis.yaml'), 'utf8')}\nallowedPrivateCidrs: [127.0.0.0/8]\n`;

export interface SeedEnv {
  readonly pki: TestPki;
  readonly upstream: TlsUpstream;
  readonly upstreamIp: string;
  readonly dns: Dnsmasq;
  /** The seed's ServiceEntry (verbatim when the stand-in is on 443), with `extraPorts` appended to its ports. */
  serviceEntry(extraPorts?: string): string;
  close(): Promise<void>;
}

/** `names` maps extra DNS names to addresses (httpbin.org always maps to the stand-in). */
export async function startSeedEnv(names: Readonly<Record<string, string>> = {}): Promise<SeedEnv> {
  const pki = await makeTestPki();
  const cert = await pki.server('httpbin.org');
  let upstreamIp = `127.0.${2 + Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;
  let upstream: TlsUpstream;
  try {
    upstream = await startTlsUpstream(cert, upstreamIp, 443);
  } catch {
    upstreamIp = '127.0.0.1';
    upstream = await startTlsUpstream(cert, upstreamIp, 0);
  }
  const dns = await startDnsmasq({ 'httpbin.org': upstreamIp, ...names });
  return {
    pki,
    upstream,
    upstreamIp,
    dns,
    serviceEntry(extraPorts = '') {
      const se = readFileSync(join(EXAMPLES, 'seed-000', 'serviceentry.yaml'), 'utf8');
      const target = upstream.port === 443 ? '' : `      targetPort: ${upstream.port}\n`;
      return se.replace('      protocol: TLS\n', `      protocol: TLS\n${target}${extraPorts}`);
    },
    async close() {
      await dns.stop();
      await upstream.close();
      pki.cleanup();
    },
  };
}
