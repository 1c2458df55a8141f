/** Gateway (Gateway API) CEL rules. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gatewayRule } from './gateway.ts';
import { runRules } from '../../../test/support/fake-rule-context.ts';

function run(spec: unknown, status?: unknown) {
  const doc = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'g', namespace: 'ns' },
    spec,
    status,
  };
  return runRules([gatewayRule], doc);
}
const gw = (listeners: unknown[], extra: Record<string, unknown> = {}) => ({
  gatewayClassName: 'istio-waypoint',
  listeners,
  ...extra,
});
const hbone = { name: 'mesh', port: 15008, protocol: 'HBONE' };
const cert = { certificateRefs: [{ name: 'c' }] };

describe('gatewayRule rejects', () => {
  const cases: ReadonlyArray<{ name: string; spec: unknown; path: string; message: string; code?: string }> = [
    {
      name: 'duplicate listener names',
      spec: gw([hbone, { ...hbone, port: 15009 }]),
      path: 'spec.listeners',
      message: 'Listener name must be unique within the Gateway',
    },
    {
      name: 'duplicate port/protocol/hostname',
      spec: gw([hbone, { ...hbone, name: 'other' }]),
      path: 'spec.listeners',
      message: 'Combination of port, protocol and hostname must be unique for each listener',
    },
    {
      name: 'tls on an HTTP listener',
      spec: gw([{ name: 'h', port: 80, protocol: 'HTTP', tls: cert }]),
      path: 'spec.listeners',
      message: "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']",
    },
    {
      name: 'HTTPS with Passthrough',
      spec: gw([{ name: 'h', port: 443, protocol: 'HTTPS', tls: { mode: 'Passthrough' } }]),
      path: 'spec.listeners',
      message: 'tls mode must be Terminate for protocol HTTPS',
    },
    {
      name: 'TLS without tls',
      spec: gw([{ name: 't', port: 443, protocol: 'TLS' }]),
      path: 'spec.listeners',
      message: 'tls mode must be set for protocol TLS',
    },
    {
      name: 'hostname on TCP',
      spec: gw([{ name: 't', port: 9, protocol: 'TCP', hostname: 'a.com' }]),
      path: 'spec.listeners',
      message: "hostname must not be specified for protocols ['TCP', 'UDP']",
    },
    {
      name: 'Terminate without certificates',
      spec: gw([{ name: 'h', port: 443, protocol: 'HTTPS', tls: { mode: 'Terminate' } }]),
      path: 'spec.listeners[0].tls',
      message: 'certificateRefs or options must be specified when mode is Terminate',
    },
    {
      name: 'duplicate IP addresses',
      spec: gw([hbone], { addresses: [{ value: '10.0.0.1' }, { type: 'IPAddress', value: '10.0.0.1' }] }),
      path: 'spec.addresses',
      message: 'IPAddress values must be unique',
      code: 'PCL_VALIDATION_GATEWAY_ADDRESS',
    },
    {
      name: 'upper-case hostname address',
      spec: gw([hbone], { addresses: [{ type: 'Hostname', value: 'Egress.example.com' }] }),
      path: 'spec.addresses[0]',
      message: 'Hostname value must be empty or contain only valid characters',
      code: 'PCL_VALIDATION_GATEWAY_ADDRESS',
    },
    {
      name: 'bad infrastructure label key',
      spec: gw([hbone], { infrastructure: { labels: { 'bad key': 'v' } } }),
      path: 'spec.infrastructure.labels',
      message: 'Label keys must be in the form',
      code: 'PCL_VALIDATION_GATEWAY_ADDRESS',
    },
    {
      name: 'duplicate frontend TLS port',
      spec: gw([hbone], { tls: { frontend: { perPort: [{ port: 443 }, { port: 443 }] } } }),
      path: 'spec.tls.frontend.perPort',
      message: 'Port for TLS configuration must be unique within the Gateway',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const ctx = run(c.spec);
      const code = c.code ?? 'PCL_VALIDATION_GATEWAY_LISTENER';
      assert.ok(
        ctx.errors.some((e) => e.code === code && e.path === c.path && e.message.includes(c.message)),
        JSON.stringify(ctx.errors, null, 1),
      );
    });
  }

  it('checks status.addresses hostnames', () => {
    const ctx = run(gw([hbone]), { addresses: [{ type: 'Hostname', value: 'Bad_Host' }] });
    assert.equal(ctx.errors[0]?.path, 'status.addresses[0]');
    assert.match(ctx.errors[0]?.message ?? '', /Hostname value must only contain valid characters/);
  });
});

describe('gatewayRule accepts', () => {
  const cases: ReadonlyArray<readonly [string, unknown]> = [
    ['the seed waypoint', gw([{ ...hbone, allowedRoutes: { namespaces: { from: 'All' } } }])],
    [
      'same port with different hostnames',
      gw([
        { name: 'a', port: 443, protocol: 'HTTPS', hostname: 'a.com', tls: cert },
        { name: 'b', port: 443, protocol: 'HTTPS', hostname: 'b.com', tls: cert },
      ]),
    ],
    ['TLS passthrough', gw([{ name: 't', port: 443, protocol: 'TLS', tls: { mode: 'Passthrough' } }])],
    [
      'distinct addresses and a hostname address',
      gw([hbone], {
        addresses: [{ value: '10.0.0.1' }, { value: '10.0.0.2' }, { type: 'Hostname', value: 'egress.example.com' }],
      }),
    ],
  ];
  for (const [name, spec] of cases) it(name, () => assert.deepEqual(run(spec).errors, []));
});
