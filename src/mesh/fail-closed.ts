/**
 * The fail-closed stage of the compile: what an invalid resource with no last good version does. A folder has no
 * admission webhook in front of it, so a refused document must never widen what gets out:
 * - AuthorizationPolicy: a DENY-everything stand-in on every layer it could attach to (its namespace's layers, or
 *   every layer for the root namespace, when its targets cannot be read);
 * - ServiceEntry: its hosts and addresses stay unknown and are denied (never left to egressPolicies);
 * - DestinationRule with TLS settings: requests to its host answer 503 (never plain text, never another identity);
 * - HTTPRoute: its parents answer 503 naming the route;
 * - Secret: missing (a DestinationRule naming it fails as for a missing credential);
 * - Gateway: not served, and the ServiceEntries whose use-waypoint label names it are denied like invalid ones (left
 *   unbound they would be unknown destinations, for egressPolicies to decide).
 */
import type { InvalidResource, LoadResult } from '../config/load.ts';
import type { Settings } from '../config/settings-types.ts';
import type { Diagnostic } from '../config/types.ts';
import { resourceKey } from '../config/types.ts';
import { cidrContains, parseCidr, parseIp } from '../net/ip.ts';
import { failPolicy, type CompiledPolicy } from '../policy/compile.ts';
import { hostMatches } from './host-match.ts';
import { pushTo } from './multimap.ts';
import type { InvalidResourceModel } from './snapshot.ts';
import { labelsOf, type Topology } from './topology.ts';
import { USE_WAYPOINT, USE_WAYPOINT_NAMESPACE } from './waypoint-binding.ts';

/** What the compile and the snapshot need from the invalid resources. */
export interface FailClosedStage {
  readonly invalid: readonly InvalidResourceModel[];
  /** Stand-in DENY policies per Gateway key and per ServiceEntry key. */
  readonly gatewayStandIns: ReadonlyMap<string, CompiledPolicy[]>;
  readonly seStandIns: ReadonlyMap<string, CompiledPolicy[]>;
  /** Warnings: an invalid policy whose targets do not exist denies nothing (TargetNotFound). */
  readonly diagnostics: readonly Diagnostic[];
  /** Why a destination declared only by an invalid ServiceEntry (or one bound to an invalid Gateway) is denied. */
  invalidServiceEntryFor(host: string | null, ip: string | null): string | null;
  /** Why requests to `host` answer 503 because of an invalid DestinationRule with TLS settings, or null. */
  invalidDestinationRuleFor(host: string): string | null;
  /** Why a route parent (ServiceEntry or Gateway key) answers 503 because of an invalid HTTPRoute. */
  invalidRoutesFor(parentKey: string): readonly string[];
}

const NONE: readonly string[] = Object.freeze([]);
const AP_SPEC_FIELDS = new Set(['selector', 'targetRef', 'targetRefs', 'action', 'rules', 'provider']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function refOf(r: InvalidResource): string {
  const name = r.name === '' ? '(unnamed)' : r.name;
  return r.namespace === '' ? name : `${r.namespace}/${name}`;
}

/** `Kind ns/name (file:line): [CODE] path: message` — the reason every fail-closed decision carries. */
function describe(r: InvalidResource): string {
  const e = r.error;
  return `${r.kind} ${refOf(r)} is invalid (${e.file}:${e.line}: [${e.code}] ${e.path ? `${e.path}: ` : ''}${e.message})`;
}

/** A list of `{kind, name, group?, namespace?}` references, or null when it cannot be read. */
function readRefs(value: unknown): { kind: string; name: string; group: string; namespace: string | null }[] | null {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return null;
  const out: { kind: string; name: string; group: string; namespace: string | null }[] = [];
  for (const item of value) {
    if (!isRecord(item) || typeof item.name !== 'string' || item.name === '') return null;
    const kind = item.kind === undefined ? '' : item.kind;
    if (typeof kind !== 'string') return null;
    const group = item.group === undefined ? '' : item.group;
    if (typeof group !== 'string') return null;
    const namespace = typeof item.namespace === 'string' ? item.namespace : null;
    out.push({ kind, name: item.name, group, namespace });
  }
  return out;
}

/** Is `ip` the address, or inside the CIDR, `written` in a ServiceEntry's spec.addresses? */
function addressCovers(written: string, ip: string): boolean {
  const block = parseCidr(written);
  const addr = parseIp(ip);
  return block !== null && addr !== null && cidrContains(block, addr);
}

function stringList(value: unknown): string[] | null {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) return null;
  return value as string[];
}

/** Does a DestinationRule document carry TLS settings anywhere (trafficPolicy or a port-level setting)? */
function hasTls(spec: Record<string, unknown>): boolean {
  const tp = spec.trafficPolicy;
  if (!isRecord(tp)) return tp !== undefined;
  if (tp.tls !== undefined) return true;
  const ports = tp.portLevelSettings;
  if (ports === undefined) return false;
  if (!Array.isArray(ports)) return true;
  return ports.some((p) => !isRecord(p) || p.tls !== undefined);
}

export function failClosed(load: LoadResult, topology: Topology, settings: Settings): FailClosedStage {
  const invalid: InvalidResourceModel[] = [];
  const gatewayStandIns = new Map<string, CompiledPolicy[]>();
  const seStandIns = new Map<string, CompiledPolicy[]>();
  const diagnostics: Diagnostic[] = [];
  const seDenied: { hosts: string[]; addresses: string[]; reason: string }[] = [];
  const drDenied: { host: string; reason: string }[] = [];
  const routeDenied = new Map<string, string[]>();

  const gatewaysIn = (ns: string | null) =>
    [...topology.gateways.values()].filter((g) => g.mode !== null && (ns === null || g.namespace === ns));
  const serviceEntriesIn = (ns: string | null) =>
    [...topology.serviceEntries.values()].filter((s) => ns === null || s.namespace === ns);

  for (const r of load.invalid) {
    const reason = describe(r);
    const spec = isRecord(r.raw) && isRecord(r.raw.spec) ? r.raw.spec : null;
    let effect: string;
    let active = false;
    switch (r.kind) {
      case 'AuthorizationPolicy': {
        const layers = policyLayers(r, spec);
        const policy = (mode: 'l4' | 'l7') =>
          failPolicy(
            { namespace: r.namespace, name: r.name === '' ? '(unnamed)' : r.name },
            mode,
            `${reason}: failing closed`,
          );
        for (const gw of layers.gateways) pushTo(gatewayStandIns, gw.key, policy(gw.mode === 'egress' ? 'l4' : 'l7'));
        for (const se of layers.serviceEntries) {
          const gw = se.waypoint === null ? null : topology.gateways.get(se.waypoint);
          pushTo(seStandIns, se.key, policy(gw?.mode === 'egress' ? 'l4' : 'l7'));
        }
        const names = [
          ...layers.gateways.map((g) => `Gateway ${g.ref}`),
          ...layers.serviceEntries.map((s) => `ServiceEntry ${s.ref}`),
        ];
        active = names.length > 0;
        effect =
          names.length > 0
            ? `${layers.scope}: every connection and request through ${names.join(', ')} is denied (PCL_AUTHZ_INVALID_POLICY)`
            : `${layers.scope}, none of which exists: nothing is denied because of it`;
        if (names.length === 0 && !layers.scope.startsWith('it has no targetRefs')) {
          diagnostics.push({
            code: 'PCL_MESH_INVALID_TARGET_NOT_FOUND',
            severity: 'warning',
            file: r.source.file,
            line: r.source.line,
            column: r.source.column,
            kind: r.kind,
            namespace: r.namespace,
            name: r.name,
            message: `invalid AuthorizationPolicy ${refOf(r)} targets nothing that exists (TargetNotFound); it denies nothing until a target appears`,
          });
        }
        break;
      }
      case 'ServiceEntry': {
        const hosts = stringList(spec?.hosts) ?? [];
        const addresses = stringList(spec?.addresses) ?? [];
        seDenied.push({ hosts, addresses, reason });
        active = hosts.length + addresses.length > 0;
        effect =
          hosts.length + addresses.length > 0
            ? `its hosts stay unknown and are denied: ${[...hosts, ...addresses].join(', ')} (PCL_MESH_INVALID_SERVICE_ENTRY)`
            : 'its hosts cannot be read: they stay unknown, decided by egressPolicies';
        break;
      }
      case 'DestinationRule': {
        const host = typeof spec?.host === 'string' ? spec.host.toLowerCase() : null;
        if (spec !== null && host !== null && host !== '' && hasTls(spec)) {
          drDenied.push({ host, reason });
          active = true;
          effect = `requests to ${host} answer 503: its TLS settings cannot be applied (PCL_WAYPOINT_INVALID_DESTINATION_RULE)`;
        } else effect = 'no TLS settings read from it: nothing else changes';
        break;
      }
      case 'HTTPRoute': {
        const refs = readRefs(spec?.parentRefs);
        const parents: string[] = [];
        if (refs === null) {
          for (const se of serviceEntriesIn(r.namespace)) parents.push(se.key);
          for (const gw of gatewaysIn(r.namespace)) parents.push(gw.key);
        } else {
          for (const p of refs) {
            const kind = p.kind === '' ? 'Gateway' : p.kind;
            if (kind === 'ServiceEntry' || kind === 'Gateway')
              parents.push(resourceKey(kind, p.namespace ?? r.namespace, p.name));
          }
        }
        for (const key of parents) pushTo(routeDenied, key, `HTTPRoute ${refOf(r)}: ${reason}`);
        active = parents.length > 0;
        const shown = parents.map((k) => k.replace(/^(\w+)\/([^/]*)\/(.*)$/, '$1 $2/$3'));
        effect =
          shown.length > 0
            ? `requests through its parents answer 503: ${shown.join(', ')} (PCL_WAYPOINT_INVALID_ROUTE)`
            : 'its parents cannot be read and none exists in its namespace';
        break;
      }
      case 'Secret':
        effect = 'treated as missing: a DestinationRule naming it answers 503 as for a missing credential';
        break;
      case 'Gateway': {
        const bound = boundTo(r.namespace, r.name);
        for (const se of bound) {
          seDenied.push({
            hosts: [...se.hosts],
            addresses: [...se.specAddresses],
            reason: `ServiceEntry ${se.ref} is bound to ${reason}`,
          });
        }
        active = bound.length > 0;
        effect =
          bound.length > 0
            ? `not served; the ServiceEntries bound to it are denied: ${bound.map((se) => se.ref).join(', ')} (PCL_MESH_INVALID_SERVICE_ENTRY)`
            : 'not served: nothing binds to it, policies targeting it find no target';
        break;
      }
      default:
        effect = 'left out';
    }
    invalid.push({
      kind: r.kind,
      ref: refOf(r),
      file: r.error.file,
      line: r.error.line,
      code: r.error.code,
      message: r.error.message,
      effect,
      active,
    });
  }

  /** Unbound ServiceEntries whose use-waypoint label (their own, else their namespace's) names Gateway ns/name. */
  function boundTo(ns: string, name: string) {
    return serviceEntriesIn(null).filter((se) => {
      if (se.waypoint !== null) return false;
      const own = se.resource.metadata.labels;
      const labels = own[USE_WAYPOINT] !== undefined ? own : labelsOf(topology, se.namespace);
      return labels[USE_WAYPOINT] === name && (labels[USE_WAYPOINT_NAMESPACE] || se.namespace) === ns;
    });
  }

  function policyLayers(r: InvalidResource, spec: Record<string, unknown> | null) {
    const root = r.namespace === settings.rootNamespace;
    const wide = (why: string) => ({
      scope: root
        ? `${why}: every layer denies (root namespace)`
        : `${why}: every layer in namespace ${r.namespace} denies`,
      gateways: gatewaysIn(root ? null : r.namespace),
      serviceEntries: serviceEntriesIn(root ? null : r.namespace),
    });
    if (spec === null) return wide('its spec cannot be read');
    const refs = readRefs(spec.targetRefs ?? (spec.targetRef === undefined ? undefined : [spec.targetRef]));
    if (refs === null) return wide('its targetRefs cannot be read');
    if (refs.length === 0) {
      // No targetRefs read: misspelt (then the namespace fails closed) or truly absent (then it attaches nowhere).
      if (Object.keys(spec).some((k) => !AP_SPEC_FIELDS.has(k))) return wide('its targetRefs cannot be read');
      return {
        scope: 'it has no targetRefs (Portcullis attaches only targeted policies)',
        gateways: [],
        serviceEntries: [],
      };
    }
    const gateways = new Set<ReturnType<typeof gatewaysIn>[number]>();
    const serviceEntries = new Set<ReturnType<typeof serviceEntriesIn>[number]>();
    for (const t of refs) {
      if (t.kind === 'Gateway') {
        const gw = topology.gateways.get(resourceKey('Gateway', r.namespace, t.name));
        if (gw?.mode) gateways.add(gw);
      } else if (t.kind === 'ServiceEntry') {
        const se = topology.serviceEntries.get(resourceKey('ServiceEntry', r.namespace, t.name));
        if (se) serviceEntries.add(se);
      } else if (t.kind === 'GatewayClass') {
        for (const gw of gatewaysIn(null)) if (gw.className === t.name) gateways.add(gw);
      } else if (t.kind === 'Service') {
        // A Service is never one of Portcullis's layers (ztunnel enforces it at the workload): nothing to take down.
      } else {
        // A kind Portcullis cannot attach to could still be meant for one of its layers: deny the namespace.
        return wide(`its target kind "${t.kind}" is not one Portcullis attaches to`);
      }
    }
    return {
      scope: 'it targets ' + refs.map((t) => `${t.kind} ${t.name}`).join(', '),
      gateways: [...gateways],
      serviceEntries: [...serviceEntries],
    };
  }

  return {
    invalid,
    gatewayStandIns,
    seStandIns,
    diagnostics,
    invalidServiceEntryFor(host, ip) {
      for (const d of seDenied) {
        if (host !== null && d.hosts.some((h) => hostMatches(h, host))) return d.reason;
        if (ip !== null && d.addresses.some((a) => addressCovers(a, ip))) return d.reason;
      }
      return null;
    },
    invalidDestinationRuleFor(host) {
      const h = host.toLowerCase();
      for (const d of drDenied) if (hostMatches(d.host, h)) return d.reason;
      return null;
    },
    invalidRoutesFor: (parentKey) => routeDenied.get(parentKey) ?? NONE,
  };
}
