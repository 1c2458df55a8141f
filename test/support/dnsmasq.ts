/** A real DNS server on loopback: dnsmasq answering fixed names, for `serve --dns-server`. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { setTimeout as sleep } from 'node:timers/promises';

const SETPRIV = '/usr/bin/setpriv';

export interface Dnsmasq {
  /** `127.0.0.1:<port>`, for `--dns-server`. */
  readonly server: string;
  stop(): Promise<void>;
}

/** Whether dnsmasq is installed; tests skip with `dnsmasq not installed: apt-get install dnsmasq` otherwise. */
export function hasDnsmasq(): boolean {
  return spawnSync('sh', ['-c', 'command -v dnsmasq || test -x /usr/sbin/dnsmasq'], { stdio: 'ignore' }).status === 0;
}

function dnsmasqPath(): string {
  const r = spawnSync('sh', ['-c', 'command -v dnsmasq'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '/usr/sbin/dnsmasq';
}

async function freeUdpPort(): Promise<number> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const { port } = sock.address();
  await new Promise<void>((resolve) => sock.close(() => resolve()));
  return port;
}

/** Start dnsmasq answering each name (and its subdomains) with the given IPv4 address. */
export async function startDnsmasq(addresses: Readonly<Record<string, string>>): Promise<Dnsmasq> {
  for (let attempt = 0; ; attempt++) {
    const port = await freeUdpPort();
    const args = [
      '--no-daemon',
      `--port=${port}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--no-resolv',
      '--no-hosts',
      '--conf-file=/dev/null',
      '--user=root',
      ...Object.entries(addresses).map(([name, ip]) => `--address=/${name}/${ip}`),
    ];
    // Through util-linux's setpriv with a parent-death signal: a test process that is killed (a timeout, a hand)
    // takes its dnsmasq with it instead of leaving it holding the port.
    const child: ChildProcess = existsSync(SETPRIV)
      ? spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', dnsmasqPath(), ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn(dnsmasqPath(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d) => (stderr += d));
    let exited = false;
    child.once('exit', () => (exited = true));
    const resolver = new Resolver({ timeout: 200, tries: 1 });
    resolver.setServers([`127.0.0.1:${port}`]);
    const probe = Object.keys(addresses)[0] ?? 'probe.invalid';
    for (let i = 0; i < 100 && !exited; i++) {
      try {
        await resolver.resolve4(probe);
        return {
          server: `127.0.0.1:${port}`,
          stop: async () => {
            if (child.exitCode !== null || child.signalCode !== null) return;
            const gone = new Promise((resolve) => child.once('exit', resolve));
            child.kill('SIGTERM');
            await gone;
          },
        };
      } catch {
        await sleep(50);
      }
    }
    child.kill('SIGKILL');
    if (attempt >= 2) throw new Error(`dnsmasq did not start: ${stderr}`);
  }
}
