/**
 * ServiceEntry semantics: the CRD's CEL rules and istiod's `ValidateServiceEntry` webhook
 * (istio/istio pkg/config/validation/validation.go), with the webhook's exact messages.
 */
import type { FieldPath } from '../types.ts';
import type { RuleContext, SemanticRule } from './rule-context.ts';
import { asList, asNumber, asObject, asString, has, stringList, type Data } from './data-access.ts';
import { checkFqdn, checkWildcardDomain, isDns1123Label, isPartialWildcard } from './dns-name.ts';
import { checkExportTo } from './export-to.ts';
import { checkIpSubnet, isIpAddress } from '../../net/ip-syntax.ts';
import { celInvalid } from './messages.ts';
import { checkLabelsSelector } from './workload-selector.ts';
import { autoAllocates } from './auto-allocate.ts';

const UNIX_PREFIX = 'unix://';
/** Protocol names Istio's `protocol.Parse` knows (case-insensitive); anything else is `Unsupported`. */
const KNOWN_PROTOCOLS = new Set([
  'HTTP',
  'HTTPS',
  'GRPC',
  'GRPC-WEB',
  'HTTP2',
  'HTTP_PROXY',
  'MONGO',
  'MYSQL',
  'REDIS',
  'TCP',
  'TLS',
  'UDP',
]);
const HTTP_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB', 'HTTP_PROXY']);
const TLS_PROTOCOLS = new Set(['HTTPS', 'TLS']);
/** DYNAMIC_DNS serves only what Envoy's dynamic forward proxy reads a host from: HTTPS is not among them. */
const DYNAMIC_DNS_PROTOCOLS = new Set(['HTTP', 'TLS', 'GRPC', 'HTTP2']);
/** Istio `protocol.Instance.IsTCP`. */
const TCP_PROTOCOLS = new Set(['TCP', 'HTTPS', 'TLS', 'MONGO', 'REDIS', 'MYSQL']);

interface PortInfo {
  readonly names: ReadonlySet<string>;
  readonly protocols: readonly string[];
}

export const serviceEntryRule: SemanticRule = (doc, ctx) => {
  const spec = asObject(doc.spec);
  if (spec === undefined) return;
  const resolution = asString(spec.resolution) ?? 'NONE';
  const hosts = stringList(spec.hosts);

  // istiod's webhook stops at a refused workload selector (ValidateAlphaWorkloadSelector's error returns at once).
  if (checkCelRules(spec, resolution, ctx)) return;
  checkHosts(hosts, resolution, ctx);
  const addresses = stringList(spec.addresses);
  addresses.forEach((address, i) => {
    const problem = checkIpSubnet(address);
    if (problem !== undefined) ctx.error(['spec', 'addresses', i], 'PCL_VALIDATION_SERVICE_ENTRY_ADDRESS', problem);
  });
  const ports = checkPorts(spec, ctx);
  // Without an address of its own (given or auto-allocated), a TCP port cannot be told apart by destination IP.
  const labels = asObject(asObject(doc.metadata)?.labels);
  if (addresses.length === 0 && !autoAllocates(resolution, labels, addresses)) {
    (asList(spec.ports) ?? []).forEach((value, i) => {
      const protocol = asString(asObject(value)?.protocol) ?? '';
      if (protocol === '' || protocol === 'TCP') {
        ctx.warn(
          ['spec', 'ports', i],
          'PCL_VALIDATION_SERVICE_ENTRY_ADDRESS',
          'addresses are required for ports serving TCP (or unset) protocol when IP Autoallocation is not enabled',
        );
      }
    });
  }
  checkResolution(spec, doc, resolution, hosts, ports, ctx);

  // Hosts of a non-NONE entry are told apart by Host header (HTTP) or SNI (TLS); plain TCP cannot be.
  if (resolution !== 'NONE' && hosts.length > 1) {
    if (ports.protocols.some((p) => !HTTP_PROTOCOLS.has(p) && !TLS_PROTOCOLS.has(p))) {
      ctx.error(
        ['spec', 'ports'],
        'PCL_VALIDATION_SERVICE_ENTRY_RESOLUTION',
        'multiple hosts provided with non-HTTP, non-TLS ports',
      );
    }
  }
  checkExportTo(spec.exportTo, ['spec', 'exportTo'], ctx);
};

/**
 * The CRD's `x-kubernetes-validations`, in the order the CRD lists them, and the webhook's selector check that
 * runs first in ValidateServiceEntry; returns true when that check refused the selector.
 */
function checkCelRules(spec: Data, resolution: string, ctx: RuleContext): boolean {
  const spath = ['spec'];
  if (has(spec, 'workloadSelector') && has(spec, 'endpoints')) {
    ctx.error(
      spath,
      'PCL_VALIDATION_SERVICE_ENTRY_ENDPOINT',
      celInvalid('object', 'only one of WorkloadSelector or Endpoints can be set'),
    );
  }
  if (stringList(spec.addresses).some((a) => a.includes('/')) && resolution !== 'NONE' && resolution !== 'STATIC') {
    ctx.error(
      spath,
      'PCL_VALIDATION_SERVICE_ENTRY_ADDRESS',
      celInvalid('object', 'CIDR addresses are allowed only for NONE/STATIC resolution types'),
    );
  }
  if (resolution === 'NONE' && has(spec, 'endpoints')) {
    ctx.error(spath, 'PCL_VALIDATION_SERVICE_ENTRY_RESOLUTION', celInvalid('object', 'NONE mode cannot set endpoints'));
  }
  if (resolution === 'DNS_ROUND_ROBIN' && (asList(spec.endpoints)?.length ?? 0) > 1) {
    ctx.error(
      spath,
      'PCL_VALIDATION_SERVICE_ENTRY_RESOLUTION',
      celInvalid('object', 'DNS_ROUND_ROBIN mode cannot have multiple endpoints'),
    );
  }
  stringList(spec.hosts).forEach((host, i) => {
    if (host === '*')
      ctx.error(
        ['spec', 'hosts', i],
        'PCL_VALIDATION_SERVICE_ENTRY_HOST',
        celInvalid('string', 'hostname cannot be wildcard'),
      );
  });
  const selector = checkLabelsSelector(spec.workloadSelector, ['spec', 'workloadSelector'], ctx);
  asList(spec.endpoints)?.forEach((value, i) => checkEndpointCel(value, ['spec', 'endpoints', i], ctx));
  if (selector.empty && !selector.refused) {
    ctx.warn(
      ['spec', 'workloadSelector'],
      'PCL_VALIDATION_EMPTY_SELECTOR',
      'service entry: workload selector specified without labels, will be applied to all services in namespace',
    );
  }
  return selector.refused;
}

function checkEndpointCel(value: unknown, path: FieldPath, ctx: RuleContext): void {
  const endpoint = asObject(value);
  if (endpoint === undefined) return;
  if (!has(endpoint, 'address') && !has(endpoint, 'network')) {
    ctx.error(path, 'PCL_VALIDATION_SERVICE_ENTRY_ENDPOINT', celInvalid('object', 'Address is required'));
  }
  const address = asString(endpoint.address) ?? '';
  if (address.startsWith(UNIX_PREFIX)) {
    if (has(endpoint, 'ports'))
      ctx.error(path, 'PCL_VALIDATION_SERVICE_ENTRY_ENDPOINT', celInvalid('object', 'UDS may not include ports'));
    const first = address.slice(UNIX_PREFIX.length, UNIX_PREFIX.length + 1);
    if (first !== '/' && first !== '@') {
      ctx.error(
        [...path, 'address'],
        'PCL_VALIDATION_SERVICE_ENTRY_ENDPOINT',
        celInvalid('string', 'UDS must be an absolute path or abstract socket'),
      );
    }
    if (address.endsWith('/')) {
      ctx.error(
        [...path, 'address'],
        'PCL_VALIDATION_SERVICE_ENTRY_ENDPOINT',
        celInvalid('string', 'UDS may not be a dir'),
      );
    }
  }
  const ports = asObject(endpoint.ports);
  if (ports === undefined) return;
  const validName = (key: string) => key.length < 63 && /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/.test(key);
  if (!Object.keys(ports).every(validName)) {
    ctx.error(
      [...path, 'ports'],
      'PCL_VALIDATION_SERVICE_ENTRY_ENDPOINT',
      celInvalid('object', 'port name must be valid'),
    );
  }
  for (const [name, port] of Object.entries(ports)) {
    const n = asNumber(port);
    if (n !== undefined && !(n > 0 && n <= 65535)) {
      ctx.error(
        [...path, 'ports', name],
        'PCL_VALIDATION_SERVICE_ENTRY_ENDPOINT',
        celInvalid('integer', 'port must be between 1-65535'),
      );
    }
  }
}

/** Webhook host checks beyond the CEL `*` rule: DNS syntax, partial-wildcard warning, DYNAMIC_DNS wildcards. */
function checkHosts(hosts: readonly string[], resolution: string, ctx: RuleContext): void {
  hosts.forEach((host, i) => {
    if (host === '*') return;
    const path = ['spec', 'hosts', i];
    const problem = checkWildcardDomain(host);
    if (problem !== undefined) {
      ctx.error(path, 'PCL_VALIDATION_SERVICE_ENTRY_HOST', problem);
      return;
    }
    if (resolution === 'DYNAMIC_DNS') {
      if (!host.startsWith('*.')) {
        ctx.error(
          path,
          'PCL_VALIDATION_SERVICE_ENTRY_RESOLUTION',
          'host must be wildcarded for resolution mode DYNAMIC_DNS',
        );
      }
    } else if (isPartialWildcard(host)) {
      ctx.warn(path, 'PCL_VALIDATION_SERVICE_ENTRY_HOST', `partial wildcard ${JSON.stringify(host)} not allowed`);
    }
  });
}

/** CEL port rules (range, unique number) and webhook port rules (name, protocol). */
function checkPorts(spec: Data, ctx: RuleContext): PortInfo {
  const names = new Set<string>();
  const protocols: string[] = [];
  const ports = asList(spec.ports) ?? [];
  const numbers = ports.map((p) => asNumber(asObject(p)?.number));
  if (numbers.some((n, i) => n !== undefined && numbers.indexOf(n) !== i)) {
    ctx.error(
      ['spec', 'ports'],
      'PCL_VALIDATION_SERVICE_ENTRY_PORT',
      celInvalid('array', 'port number cannot be duplicated'),
    );
  }
  ports.forEach((value, i) => {
    const port = asObject(value);
    if (port === undefined) return;
    const path = ['spec', 'ports', i];
    for (const field of ['number', 'targetPort'] as const) {
      const n = asNumber(port[field]);
      if (n !== undefined && !(n > 0 && n <= 65535)) {
        ctx.error(
          [...path, field],
          'PCL_VALIDATION_SERVICE_ENTRY_PORT',
          celInvalid('integer', 'port must be between 1-65535'),
        );
      }
    }
    const name = asString(port.name);
    if (name !== undefined) {
      names.add(name);
      if (!isDns1123Label(name))
        ctx.error([...path, 'name'], 'PCL_VALIDATION_SERVICE_ENTRY_PORT', `invalid port name: ${name}`);
    }
    const protocol = (asString(port.protocol) ?? '').toUpperCase();
    protocols.push(protocol);
    if (protocol !== '' && !KNOWN_PROTOCOLS.has(protocol)) {
      ctx.error(
        [...path, 'protocol'],
        'PCL_VALIDATION_SERVICE_ENTRY_PORT',
        `unsupported protocol: ${asString(port.protocol)}`,
      );
    }
  });
  return { names, protocols };
}

/** Webhook rules per resolution mode (the CEL ones are in `checkCelRules`). */
function checkResolution(
  spec: Data,
  doc: Data,
  resolution: string,
  hosts: readonly string[],
  ports: PortInfo,
  ctx: RuleContext,
): void {
  const endpoints = asList(spec.endpoints) ?? [];
  switch (resolution) {
    case 'NONE':
      if (has(spec, 'workloadSelector')) {
        ctx.warn(
          ['spec', 'workloadSelector'],
          'PCL_VALIDATION_SERVICE_ENTRY_RESOLUTION',
          'workloadSelector should not be set when resolution mode is NONE',
        );
      }
      break;
    case 'STATIC':
      endpoints.forEach((value, i) => {
        const endpoint = asObject(value);
        if (endpoint === undefined) return;
        const address = asString(endpoint.address) ?? '';
        const path = ['spec', 'endpoints', i];
        // istiod's validateWorkloadEntry: an endpoint may be only a network (reached through its gateway).
        if (address === '') {
          const network = asString(endpoint.network) ?? '';
          if (network === '') ctx.error(path, 'PCL_VALIDATION_SERVICE_ENTRY_ENDPOINT', 'address is required');
          else
            ctx.warn(
              path,
              'PCL_VALIDATION_SERVICE_ENTRY_ENDPOINT',
              `address is unset with network ${JSON.stringify(network)}`,
            );
          return;
        }
        if (address.startsWith(UNIX_PREFIX)) {
          if (ports.names.size !== 1) {
            ctx.error(
              ['spec', 'ports'],
              'PCL_VALIDATION_SERVICE_ENTRY_ENDPOINT',
              'exactly 1 service port required for unix endpoints',
            );
          }
          return;
        }
        if (!isIpAddress(address))
          ctx.error([...path, 'address'], 'PCL_VALIDATION_SERVICE_ENTRY_ENDPOINT', `${address} is not a valid IP`);
        checkEndpointPortNames(endpoint, path, ports, ctx);
      });
      break;
    case 'DNS':
    case 'DNS_ROUND_ROBIN':
      if (endpoints.length === 0) {
        hosts.forEach((host, i) => {
          if (host !== '*' && checkFqdn(host) !== undefined) {
            ctx.error(
              ['spec', 'hosts', i],
              'PCL_VALIDATION_SERVICE_ENTRY_RESOLUTION',
              `hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode ${resolution}`,
            );
          }
        });
      }
      endpoints.forEach((value, i) => {
        const endpoint = asObject(value);
        const address = asString(endpoint?.address);
        if (endpoint === undefined) return;
        const path = ['spec', 'endpoints', i];
        if (address !== undefined && !isIpAddress(address) && checkFqdn(address) !== undefined) {
          ctx.error(
            [...path, 'address'],
            'PCL_VALIDATION_SERVICE_ENTRY_ENDPOINT',
            `endpoint address ${JSON.stringify(address)} is not a valid FQDN or an IP address`,
          );
        }
        checkEndpointPortNames(endpoint, path, ports, ctx);
      });
      // One address shared by several hosts on a TCP port: the hosts cannot be told apart (a webhook warning).
      if (stringList(spec.addresses).length > 0 && hosts.length > 1) {
        if (ports.protocols.some((p) => TCP_PROTOCOLS.has(p))) {
          ctx.warn(
            ['spec', 'hosts'],
            'PCL_VALIDATION_SERVICE_ENTRY_ADDRESS',
            'service entry can not have more than one host specified simultaneously with address and tcp port',
          );
        }
      }
      break;
    case 'DYNAMIC_DNS':
      checkDynamicDns(spec, doc, ports, ctx);
      break;
    default:
      break;
  }
}

function checkEndpointPortNames(endpoint: Data, path: FieldPath, ports: PortInfo, ctx: RuleContext): void {
  const endpointPorts = asObject(endpoint.ports);
  if (endpointPorts === undefined) return;
  for (const [name, port] of Object.entries(endpointPorts)) {
    if (!ports.names.has(name)) {
      ctx.error(
        [...path, 'ports', name],
        'PCL_VALIDATION_SERVICE_ENTRY_ENDPOINT',
        `endpoint port ${String(port)} is not defined by the service entry`,
      );
    }
  }
}

/** DYNAMIC_DNS (Istio 1.28+): wildcard hosts resolved per request, so no addresses, endpoints or opaque TCP. */
function checkDynamicDns(spec: Data, doc: Data, ports: PortInfo, ctx: RuleContext): void {
  const code = 'PCL_VALIDATION_SERVICE_ENTRY_RESOLUTION';
  const mode = 'DYNAMIC_DNS';
  // istiod's messages verbatim, including the missing spaces where its Go strings are concatenated.
  if (stringList(spec.addresses).length > 0) {
    ctx.error(
      ['spec', 'addresses'],
      code,
      `addresses cannot be set for resolution type ${mode}. HTTP route domains will only be generatedfrom the hosts field values`,
    );
  }
  if (has(spec, 'endpoints')) {
    ctx.error(
      ['spec', 'endpoints'],
      code,
      `endpoints cannot be set for resolution type ${mode}. Destination IP address determined from hostsfield values`,
    );
  }
  ports.protocols.forEach((protocol, i) => {
    if (!DYNAMIC_DNS_PROTOCOLS.has(protocol)) {
      ctx.error(
        ['spec', 'ports', i, 'protocol'],
        code,
        `only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type ${mode}`,
      );
    }
  });
  const waypoint = asString(asObject(asObject(doc.metadata)?.labels)?.['istio.io/use-waypoint']) ?? '';
  if (asString(spec.location) === 'MESH_INTERNAL' && waypoint !== '' && waypoint.toLowerCase() !== 'none') {
    ctx.error(
      ['spec', 'location'],
      code,
      `location MESH_INTERNAL with resolution type ${mode} is not supported when using waypoints`,
    );
  }
}
