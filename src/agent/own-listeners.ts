/**
 * The agent's own listening sockets, matched by address rather than by text, so no spelling of one of them
 * (`[::ffff:127.0.0.1]`, `0.0.0.0`, `[::]`, `0:0::1`) makes a tunnel loop back into the agent (ztunnel refuses
 * connections to its own ports the same way: src/proxy.rs `illegal_ports`).
 */
import { networkInterfaces } from 'node:os';
import { parseIp, type IpAddress } from '../net/ip.ts';

function sameIp(a: IpAddress, b: IpAddress): boolean {
  return a.v6 === b.v6 && a.w0 === b.w0 && a.w1 === b.w1 && a.w2 === b.w2 && a.w3 === b.w3;
}

function isUnspecified(ip: IpAddress): boolean {
  return ip.w0 === 0 && ip.w1 === 0 && ip.w2 === 0 && ip.w3 === 0;
}

function isLoopback(ip: IpAddress): boolean {
  return ip.v6 ? ip.w0 === 0 && ip.w1 === 0 && ip.w2 === 0 && ip.w3 === 1 : ip.w0 >>> 24 === 127;
}

function interfaceAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) out.push(i.address);
  return out;
}

export class OwnListeners {
  /** Port → the addresses bound on it. */
  readonly #bound = new Map<number, IpAddress[]>();
  readonly #localAddresses: () => readonly string[];

  /** `localAddresses` lists this host's addresses (default: every interface's, read at each check). */
  constructor(localAddresses: () => readonly string[] = interfaceAddresses) {
    this.#localAddresses = localAddresses;
  }

  /** Record a bound listener (the address the socket reports, e.g. `0.0.0.0`, `::`, `127.0.0.1`). */
  add(host: string, port: number): void {
    const ip = parseIp(host === 'localhost' ? '127.0.0.1' : host);
    if (ip === null) return;
    const list = this.#bound.get(port) ?? [];
    list.push(ip);
    this.#bound.set(port, list);
  }

  /**
   * Whether a connection to `ip:port` would reach one of the listeners. A listener on an unspecified address
   * answers on every local address; a connection to an unspecified address reaches this host (Linux treats it as
   * loopback), so it is the agent's whatever address the listener is on.
   */
  has(ip: string, port: number): boolean {
    const bound = this.#bound.get(port);
    if (bound === undefined) return false;
    const target = parseIp(ip);
    if (target === null) return false;
    if (isUnspecified(target)) return true;
    let local: boolean | null = null;
    const isLocal = (): boolean =>
      (local ??=
        isLoopback(target) ||
        this.#localAddresses().some((a) => {
          const parsed = parseIp(a.split('%')[0]);
          return parsed !== null && sameIp(parsed, target);
        }));
    return bound.some((b) => (isUnspecified(b) ? isLocal() : sameIp(b, target)));
  }
}
