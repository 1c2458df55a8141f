/**
 * The agent's value formats, parsed strictly: listen addresses (`127.0.0.1:15001`, `[::1]:15001`), forwards
 * (`LOCAL=HOST:PORT`) and the `--workloads` file (a YAML list of `{namespace, serviceAccount, listen, forward?}`).
 * Pure: text in, values or a reason out.
 */
import { ipFamily } from '../net/ip-syntax.ts';
import { parse as parseYaml } from 'yaml';
import { formatAuthority, parseAuthority } from '../net/authority.ts';
import { formatSpiffeId, parseSpiffeId } from '../identity/spiffe-id.ts';
import type { ForwardSpec } from './agent.ts';
import type { ListenAddress } from './listeners.ts';
import { messageOf } from '../errors/message-of.ts';

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** `ip:port` or `[ipv6]:port` (or `localhost:port`); port 0 asks the system for a free one. */
export function parseListenAddress(text: string): Parsed<ListenAddress> {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (!m) return { ok: false, reason: `"${text}" is not a listen address (expected IP:PORT, e.g. 127.0.0.1:15001)` };
  const host = m[1] ?? m[2];
  const port = Number(m[3]);
  if (port > 65535) return { ok: false, reason: `"${text}": port ${port} is out of range 0-65535` };
  if (m[1] !== undefined && ipFamily(host) !== 6)
    return { ok: false, reason: `"${text}": "${host}" is not an IPv6 address` };
  if (m[1] === undefined && ipFamily(host) !== 4 && host !== 'localhost') {
    return { ok: false, reason: `"${text}": "${host}" is not an IP address (the agent listens on a local address)` };
  }
  return { ok: true, value: { host, port } };
}

/** `LOCAL_ADDR=HOST:PORT`: a local listen address and the destination every connection to it goes to. */
export function parseForward(text: string): Parsed<ForwardSpec> {
  const eq = text.indexOf('=');
  if (eq < 0)
    return {
      ok: false,
      reason: `"${text}" is not a forward (expected LOCAL_ADDR=HOST:PORT, e.g. 127.0.0.1:5432=db.partner.example:5432)`,
    };
  const listen = parseListenAddress(text.slice(0, eq));
  if (!listen.ok) return listen;
  const dest = parseAuthority(text.slice(eq + 1));
  if (!dest.ok)
    return { ok: false, reason: `"${text}": ${dest.reason.replace(/^malformed :authority/, 'bad destination')}` };
  const { host, port, isIp } = dest.authority;
  return { ok: true, value: { listen: listen.value, target: { host, port, isIp } } };
}

export interface WorkloadSpec {
  readonly identity: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly listen: ListenAddress;
  readonly forwards: readonly ForwardSpec[];
}

const WORKLOAD_KEYS = ['namespace', 'serviceAccount', 'listen', 'forward'];

/** Read a `--workloads` file. Every problem is reported with the entry it is in; identities and addresses must be unique. */
export function parseWorkloads(text: string, trustDomain: string): Parsed<WorkloadSpec[]> {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    return { ok: false, reason: `not YAML: ${messageOf(err).split('\n')[0]}` };
  }
  if (!Array.isArray(doc) || doc.length === 0) {
    return { ok: false, reason: 'expected a non-empty YAML list of {namespace, serviceAccount, listen, forward?}' };
  }
  const out: WorkloadSpec[] = [];
  const identities = new Set<string>();
  const addresses = new Set<string>();
  for (let i = 0; i < doc.length; i++) {
    const e = doc[i] as unknown;
    const at = `entry ${i + 1}`;
    if (typeof e !== 'object' || e === null || Array.isArray(e))
      return { ok: false, reason: `${at}: expected a mapping` };
    const entry = e as Record<string, unknown>;
    for (const k of Object.keys(entry)) {
      if (!WORKLOAD_KEYS.includes(k))
        return { ok: false, reason: `${at}: unknown field "${k}" (allowed: ${WORKLOAD_KEYS.join(', ')})` };
    }
    for (const k of ['namespace', 'serviceAccount', 'listen']) {
      if (typeof entry[k] !== 'string' || entry[k] === '')
        return { ok: false, reason: `${at}: "${k}" is required and must be a string` };
    }
    const namespace = entry.namespace as string;
    const serviceAccount = entry.serviceAccount as string;
    const uri = `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
    const id = parseSpiffeId(uri);
    if (!id.ok) return { ok: false, reason: `${at}: ${id.reason}` };
    const identity = formatSpiffeId(trustDomain, namespace, serviceAccount);
    if (identities.has(identity)) return { ok: false, reason: `${at}: ${namespace}/${serviceAccount} is listed twice` };
    identities.add(identity);
    const listen = parseListenAddress(entry.listen as string);
    if (!listen.ok) return { ok: false, reason: `${at}: listen ${listen.reason}` };
    const forwardsRaw = entry.forward ?? [];
    if (!Array.isArray(forwardsRaw) || forwardsRaw.some((f) => typeof f !== 'string')) {
      return { ok: false, reason: `${at}: "forward" must be a list of "LOCAL_ADDR=HOST:PORT" strings` };
    }
    const forwards: ForwardSpec[] = [];
    for (const f of forwardsRaw as string[]) {
      const p = parseForward(f);
      if (!p.ok) return { ok: false, reason: `${at}: forward ${p.reason}` };
      forwards.push(p.value);
    }
    for (const a of [listen.value, ...forwards.map((f) => f.listen)]) {
      const key = formatAuthority(a.host, a.port);
      if (a.port !== 0 && addresses.has(key)) return { ok: false, reason: `${at}: address ${key} is used twice` };
      addresses.add(key);
    }
    out.push({ identity, namespace, serviceAccount, listen: listen.value, forwards });
  }
  return { ok: true, value: out };
}
