/**
 * Starts the bare Node HBONE relay pair (bench/bare-relay.ts) as two child processes, the L4 floor of Node's stack.
 * `PORTCULLIS_BENCH_PROF=bare-serve,bare-agent` profiles them beside `serve,agent` (bench/profiles).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueWorkloadCert } from '../src/identity/ca.ts';
import { GATEWAY_SAN, NODE, nodeFlags, REPO, startChild, waitForOutput, type BenchPki } from './env.ts';

export interface BareL4Relay {
  readonly gateway: { host: string; port: number };
  readonly gatewayPid: number;
  readonly agentPid: number;
  /** target `host:port` → the bare agent's local entry port */
  readonly entries: ReadonlyMap<string, number>;
  stop(): Promise<void>;
}

/** The bare relay's gateway alone (no agent), for measurements that open tunnels with their own client. */
export async function startBareGateway(
  pki: BenchPki,
): Promise<{ readonly hbone: { host: string; port: number }; readonly pid: number; stop(): Promise<void> }> {
  const gw = await issueWorkloadCert(pki.ca, { spiffe: GATEWAY_SAN, ttl: 3_600_000 });
  const f = (n: string): string => join(pki.dir, `bare-${n}`);
  writeFileSync(f('gw.crt'), gw.certChainPem);
  writeFileSync(f('gw.key'), gw.keyPem);
  writeFileSync(f('root.pem'), pki.ca.rootCertPem);
  const gateway = startChild(NODE, [
    ...nodeFlags('bare-serve'),
    join(REPO, 'bench', 'bare-relay.ts'),
    'l4-gateway',
    f('gw.crt'),
    f('gw.key'),
    f('root.pem'),
  ]);
  const port = Number((await waitForOutput(gateway, /bare gateway listening on (\d+)/, 'bare relay gateway'))[1]);
  return { hbone: { host: '127.0.0.1', port }, pid: gateway.pid, stop: () => gateway.stop() };
}

export async function startBareL4Relay(pki: BenchPki, targets: readonly string[]): Promise<BareL4Relay> {
  const gateway = await startBareGateway(pki);
  const port = gateway.hbone.port;
  const f = (n: string): string => join(pki.dir, `bare-${n}`);
  writeFileSync(f('client.crt'), pki.client.certChainPem);
  writeFileSync(f('client.key'), pki.client.keyPem);
  const relay = join(REPO, 'bench', 'bare-relay.ts');
  const agent = startChild(NODE, [
    ...nodeFlags('bare-agent'),
    relay,
    'l4-agent',
    f('client.crt'),
    f('client.key'),
    f('root.pem'),
    String(port),
    ...targets,
  ]);
  const entries = new Map<string, number>();
  for (const t of targets) {
    const m = await waitForOutput(
      agent,
      new RegExp(`bare agent (\\d+) -> ${t.replace(/\./g, '\\.')}\\n`),
      'bare relay agent',
    );
    entries.set(t, Number(m[1]));
  }
  return {
    gateway: { host: '127.0.0.1', port },
    gatewayPid: gateway.pid,
    agentPid: agent.pid,
    entries,
    stop: async () => void (await Promise.all([agent.stop(), gateway.stop()])),
  };
}
