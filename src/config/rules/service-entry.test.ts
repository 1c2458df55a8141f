/** ServiceEntry rules: cases in the spirit of Istio's TestValidateServiceEntries table. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serviceEntryRule } from './service-entry.ts';
import { runRules } from '../../../test/support/fake-rule-context.ts';

function run(spec: unknown, labels: Record<string, string> = {}) {
  const doc = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: { name: 'se', namespace: 'ns', labels },
    spec,
  };
  return runRules([serviceEntryRule], doc);
}

const http = { number: 80, name: 'http', protocol: 'HTTP' };
const tcp = { number: 9000, name: 'tcp', protocol: 'TCP' };

const rejecting: ReadonlyArray<{
  name: string;
  spec: unknown;
  labels?: Record<string, string>;
  code: string;
  path: string;
  message: string;
}> = [
  {
    name: 'host *',
    spec: { hosts: ['*'] },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_HOST',
    path: 'spec.hosts[0]',
    message: 'Invalid value: "string": hostname cannot be wildcard',
  },
  {
    name: 'bad host label',
    spec: { hosts: ['foo_bar.com'] },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_HOST',
    path: 'spec.hosts[0]',
    message: 'domain name "foo_bar.com" invalid (label "foo_bar" invalid)',
  },
  {
    name: 'wildcard not in first label',
    spec: { hosts: ['foo.*.com'] },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_HOST',
    path: 'spec.hosts[0]',
    message: 'invalid (label "*" invalid)',
  },
  {
    name: 'all-numeric top-level domain',
    spec: { hosts: ['foo.123'] },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_HOST',
    path: 'spec.hosts[0]',
    message: 'cannot be all-numeric',
  },
  {
    name: 'selector and endpoints',
    spec: {
      hosts: ['a.com'],
      resolution: 'STATIC',
      workloadSelector: { labels: { a: 'b' } },
      endpoints: [{ address: '1.1.1.1' }],
    },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_ENDPOINT',
    path: 'spec',
    message: 'Invalid value: "object": only one of WorkloadSelector or Endpoints can be set',
  },
  {
    name: 'wildcard selector value',
    spec: { hosts: ['a.com'], workloadSelector: { labels: { app: '*' } } },
    code: 'PCL_VALIDATION_SELECTOR',
    path: 'spec.workloadSelector.labels.app',
    message: 'wildcard is not supported in selector',
  },
  {
    name: 'bad address',
    spec: { hosts: ['a.com'], addresses: ['1.2.3.4.5'] },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_ADDRESS',
    path: 'spec.addresses[0]',
    message: '1.2.3.4.5 is not a valid IP',
  },
  {
    name: 'bad CIDR',
    spec: { hosts: ['a.com'], addresses: ['1.2.3.4/99'] },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_ADDRESS',
    path: 'spec.addresses[0]',
    message: '1.2.3.4/99 is not a valid CIDR block',
  },
  {
    name: 'CIDR with DNS',
    spec: { hosts: ['a.com'], addresses: ['10.0.0.0/8'], resolution: 'DNS' },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_ADDRESS',
    path: 'spec',
    message: 'CIDR addresses are allowed only for NONE/STATIC resolution types',
  },
  {
    name: 'duplicate port number',
    spec: { hosts: ['a.com'], ports: [http, { ...tcp, number: 80 }] },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_PORT',
    path: 'spec.ports',
    message: 'Invalid value: "array": port number cannot be duplicated',
  },
  {
    name: 'port 0',
    spec: { hosts: ['a.com'], ports: [{ ...http, number: 0 }] },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_PORT',
    path: 'spec.ports[0].number',
    message: 'Invalid value: "integer": port must be between 1-65535',
  },
  {
    name: 'targetPort too large',
    spec: { hosts: ['a.com'], ports: [{ ...http, targetPort: 70000 }] },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_PORT',
    path: 'spec.ports[0].targetPort',
    message: 'port must be between 1-65535',
  },
  {
    name: 'bad port name',
    spec: { hosts: ['a.com'], ports: [{ ...http, name: 'Http_1' }] },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_PORT',
    path: 'spec.ports[0].name',
    message: 'invalid port name: Http_1',
  },
  {
    name: 'unknown protocol',
    spec: { hosts: ['a.com'], ports: [{ ...http, protocol: 'SMTP' }] },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_PORT',
    path: 'spec.ports[0].protocol',
    message: 'unsupported protocol: SMTP',
  },
  {
    name: 'NONE with endpoints',
    spec: { hosts: ['a.com'], resolution: 'NONE', endpoints: [{ address: '1.1.1.1' }] },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_RESOLUTION',
    path: 'spec',
    message: 'NONE mode cannot set endpoints',
  },
  {
    name: 'default resolution (NONE) with endpoints',
    spec: { hosts: ['a.com'], endpoints: [{ address: '1.1.1.1' }] },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_RESOLUTION',
    path: 'spec',
    message: 'NONE mode cannot set endpoints',
  },
  {
    name: 'DNS_ROUND_ROBIN with two endpoints',
    spec: {
      hosts: ['a.com'],
      resolution: 'DNS_ROUND_ROBIN',
      endpoints: [{ address: 'a.b.com' }, { address: 'c.d.com' }],
    },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_RESOLUTION',
    path: 'spec',
    message: 'DNS_ROUND_ROBIN mode cannot have multiple endpoints',
  },
  {
    name: 'DNS wildcard host without endpoints',
    spec: { hosts: ['*.a.com'], resolution: 'DNS', ports: [http] },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_RESOLUTION',
    path: 'spec.hosts[0]',
    message: 'if no endpoints are provided for resolution mode DNS',
  },
  {
    name: 'DNS endpoint neither IP nor FQDN',
    spec: { hosts: ['a.com'], resolution: 'DNS', endpoints: [{ address: 'bad_host' }] },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_ENDPOINT',
    path: 'spec.endpoints[0].address',
    message: 'endpoint address "bad_host" is not a valid FQDN or an IP address',
  },
  {
    name: 'DNS endpoint port not in ports',
    spec: {
      hosts: ['a.com'],
      resolution: 'DNS',
      ports: [http],
      endpoints: [{ address: 'b.com', ports: { grpc: 9090 } }],
    },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_ENDPOINT',
    path: 'spec.endpoints[0].ports.grpc',
    message: 'endpoint port 9090 is not defined by the service entry',
  },
  {
    name: 'STATIC endpoint that is a name',
    spec: { hosts: ['a.com'], resolution: 'STATIC', endpoints: [{ address: 'b.com' }] },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_ENDPOINT',
    path: 'spec.endpoints[0].address',
    message: 'b.com is not a valid IP',
  },
  {
    name: 'endpoint without address or network',
    spec: { hosts: ['a.com'], resolution: 'STATIC', endpoints: [{ labels: { a: 'b' } }] },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_ENDPOINT',
    path: 'spec.endpoints[0]',
    message: 'Address is required',
  },
  {
    name: 'unix endpoint with ports',
    spec: {
      hosts: ['a.com'],
      resolution: 'STATIC',
      ports: [http],
      endpoints: [{ address: 'unix:///sock', ports: { http: 80 } }],
    },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_ENDPOINT',
    path: 'spec.endpoints[0]',
    message: 'UDS may not include ports',
  },
  {
    name: 'relative unix endpoint',
    spec: { hosts: ['a.com'], resolution: 'STATIC', ports: [http], endpoints: [{ address: 'unix://sock' }] },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_ENDPOINT',
    path: 'spec.endpoints[0].address',
    message: 'UDS must be an absolute path or abstract socket',
  },
  {
    name: 'endpoint port out of range',
    spec: {
      hosts: ['a.com'],
      resolution: 'STATIC',
      ports: [http],
      endpoints: [{ address: '1.1.1.1', ports: { http: 0 } }],
    },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_ENDPOINT',
    path: 'spec.endpoints[0].ports.http',
    message: 'port must be between 1-65535',
  },
  {
    name: 'multiple hosts with a TCP port',
    spec: { hosts: ['a.com', 'b.com'], resolution: 'DNS', ports: [tcp] },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_RESOLUTION',
    path: 'spec.ports',
    message: 'multiple hosts provided with non-HTTP, non-TLS ports',
  },
  {
    name: 'multiple hosts with an unset protocol',
    spec: {
      hosts: ['a.com', 'b.com'],
      resolution: 'STATIC',
      ports: [{ number: 9, name: 'x' }],
      endpoints: [{ address: '1.1.1.1' }],
    },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_RESOLUTION',
    path: 'spec.ports',
    message: 'multiple hosts provided with non-HTTP, non-TLS ports',
  },
  {
    name: 'DYNAMIC_DNS with a non-wildcard host',
    spec: { hosts: ['a.com'], resolution: 'DYNAMIC_DNS', ports: [http] },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_RESOLUTION',
    path: 'spec.hosts[0]',
    message: 'host must be wildcarded for resolution mode DYNAMIC_DNS',
  },
  {
    name: 'DYNAMIC_DNS with addresses',
    spec: { hosts: ['*.a.com'], resolution: 'DYNAMIC_DNS', addresses: ['1.1.1.1'], ports: [http] },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_RESOLUTION',
    path: 'spec.addresses',
    message: 'addresses cannot be set for resolution type DYNAMIC_DNS',
  },
  {
    name: 'DYNAMIC_DNS with endpoints',
    spec: { hosts: ['*.a.com'], resolution: 'DYNAMIC_DNS', endpoints: [{ address: 'a.b.com' }], ports: [http] },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_RESOLUTION',
    path: 'spec.endpoints',
    message: 'endpoints cannot be set for resolution type DYNAMIC_DNS',
  },
  {
    name: 'DYNAMIC_DNS with a TCP port',
    spec: { hosts: ['*.a.com'], resolution: 'DYNAMIC_DNS', ports: [tcp] },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_RESOLUTION',
    path: 'spec.ports[0].protocol',
    message: 'only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type DYNAMIC_DNS',
  },
  {
    name: 'DYNAMIC_DNS MESH_INTERNAL bound to a waypoint',
    spec: { hosts: ['*.a.com'], resolution: 'DYNAMIC_DNS', location: 'MESH_INTERNAL', ports: [http] },
    labels: { 'istio.io/use-waypoint': 'wp' },
    code: 'PCL_VALIDATION_SERVICE_ENTRY_RESOLUTION',
    path: 'spec.location',
    message: 'location MESH_INTERNAL with resolution type DYNAMIC_DNS is not supported when using waypoints',
  },
  {
    name: 'bad exportTo entry',
    spec: { hosts: ['a.com'], exportTo: ['Bad_NS'] },
    code: 'PCL_VALIDATION_EXPORT_TO',
    path: 'spec.exportTo[0]',
    message: 'only .,~,* or valid namespace names are allowed in exportTo',
  },
  {
    name: 'exportTo with . and the own namespace',
    spec: { hosts: ['a.com'], exportTo: ['.', 'ns'] },
    code: 'PCL_VALIDATION_EXPORT_TO',
    path: 'spec.exportTo[1]',
    message: 'duplicate entry in exportTo: ns',
  },
  {
    name: 'exportTo * with others',
    spec: { hosts: ['a.com'], exportTo: ['*', 'other'] },
    code: 'PCL_VALIDATION_EXPORT_TO',
    path: 'spec.exportTo[0]',
    message: 'cannot have both * and other entries in exportTo',
  },
];

describe('serviceEntryRule rejects', () => {
  for (const c of rejecting) {
    it(c.name, () => {
      const ctx = run(c.spec, c.labels);
      const match = ctx.errors.find((e) => e.code === c.code && e.path === c.path && e.message.includes(c.message));
      assert.ok(
        match,
        `expected ${c.code} at ${c.path} containing ${JSON.stringify(c.message)}; got ${JSON.stringify(ctx.errors, null, 1)}`,
      );
    });
  }
});

describe('serviceEntryRule accepts', () => {
  const accepting: ReadonlyArray<readonly [string, unknown]> = [
    [
      'a DNS entry with an FQDN host',
      {
        hosts: ['httpbin.org'],
        ports: [{ number: 443, name: 'https', protocol: 'TLS' }],
        resolution: 'DNS',
        location: 'MESH_EXTERNAL',
      },
    ],
    [
      'a DNS entry with an FQDN endpoint',
      {
        hosts: ['app.invalid'],
        ports: [{ number: 443, name: 'https', protocol: 'HTTPS' }],
        resolution: 'DNS',
        endpoints: [{ address: 'my-nginx.foo.bar' }],
      },
    ],
    [
      'DNS wildcard host with endpoints',
      { hosts: ['*.a.com'], resolution: 'DNS', ports: [http], endpoints: [{ address: 'lb.a.com' }] },
    ],
    ['NONE with a wildcard host and a CIDR', { hosts: ['*.a.com'], addresses: ['10.0.0.0/8'], ports: [tcp] }],
    [
      'STATIC with IP endpoints and a CIDR',
      {
        hosts: ['a.com'],
        addresses: ['10.0.0.0/24'],
        resolution: 'STATIC',
        ports: [http],
        endpoints: [{ address: '10.0.0.1', ports: { http: 8080 } }, { address: '2001:db8::1' }],
      },
    ],
    [
      'STATIC with a unix endpoint and one port',
      { hosts: ['a.com'], resolution: 'STATIC', ports: [http], endpoints: [{ address: 'unix:///var/run/x.sock' }] },
    ],
    [
      'DNS_ROUND_ROBIN with one endpoint',
      { hosts: ['a.com'], resolution: 'DNS_ROUND_ROBIN', endpoints: [{ address: 'b.com' }] },
    ],
    [
      'multiple hosts with HTTP and TLS ports',
      { hosts: ['a.com', 'b.com'], resolution: 'DNS', ports: [http, { number: 443, name: 'tls', protocol: 'TLS' }] },
    ],
    ['multiple hosts with a TCP port and NONE resolution', { hosts: ['a.com', 'b.com'], ports: [tcp] }],
    ['lower-case protocol', { hosts: ['a.com'], ports: [{ number: 80, name: 'http', protocol: 'http' }] }],
    [
      'DYNAMIC_DNS with wildcard hosts and HTTP ports',
      {
        hosts: ['*.a.com', '*.b.com'],
        resolution: 'DYNAMIC_DNS',
        ports: [http, { number: 443, name: 'tls', protocol: 'TLS' }],
      },
    ],
    ['exportTo . and *-free names', { hosts: ['a.com'], exportTo: ['.', 'other'] }],
    ['a trailing dot host', { hosts: ['a.com.'] }],
  ];
  for (const [name, spec] of accepting) {
    it(name, () => assert.deepEqual(run(spec).errors, []));
  }

  it('warns about a partial wildcard host but accepts it', () => {
    const ctx = run({ hosts: ['*x'] });
    assert.deepEqual(ctx.errors, []);
    assert.equal(ctx.warnings[0]?.code, 'PCL_VALIDATION_SERVICE_ENTRY_HOST');
    assert.equal(ctx.warnings[0]?.message, 'partial wildcard "*x" not allowed');
  });

  it('does not emit the TCP auto-allocation warning (Portcullis always auto-allocates)', () => {
    assert.deepEqual(run({ hosts: ['a.com'], resolution: 'DNS', ports: [tcp] }).findings, []);
  });
});
