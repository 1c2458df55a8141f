/** Settings: defaults, strict fields with did-you-mean, per-field fallback to defaults, the environment variable. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSettings } from './settings.ts';
import {
  DEFAULT_GATEWAY_CLASSES,
  DEFAULT_GATEWAY_LIMITS,
  DEFAULT_SYSTEM_NAMESPACES,
  gatewayLimits,
} from './settings-types.ts';

const file = (text: string) => ({ path: 'portcullis.yaml', text });

test('no settings file gives the documented defaults', () => {
  const { settings, diagnostics } = parseSettings(null);
  assert.deepEqual(diagnostics, []);
  assert.deepEqual(settings, {
    source: null,
    trustDomain: 'cluster.local',
    rootNamespace: 'istio-system',
    gatewayClasses: DEFAULT_GATEWAY_CLASSES,
    egressPolicies: [],
    egressGateway: { defaultDeny: false },
    permitCrossNamespaceResourceAccess: [],
    allowedPrivateCidrs: [],
    systemNamespaces: DEFAULT_SYSTEM_NAMESPACES,
    configLimits: {
      maxFileBytes: 4 * 1024 * 1024,
      maxDocumentsPerFile: 5000,
      maxKeysPerMapping: 10000,
      parseTimeoutSeconds: 60,
    },
    controllerName: 'portcullis.dev/gateway-controller',
  });
  assert.ok(Object.isFrozen(settings));
});

test('configLimits and controllerName: read, partly set, and refused with the default kept when invalid', () => {
  const { settings, diagnostics } = parseSettings(
    file('configLimits: {maxKeysPerMapping: 50}\ncontrollerName: example.com/egress-controller\n'),
  );
  assert.deepEqual(diagnostics, []);
  assert.deepEqual(settings.configLimits, {
    maxFileBytes: 4 * 1024 * 1024,
    maxDocumentsPerFile: 5000,
    maxKeysPerMapping: 50,
    parseTimeoutSeconds: 60,
  });
  assert.equal(settings.controllerName, 'example.com/egress-controller');
  const bad = parseSettings(file('configLimits: {maxFileBytes: 0}\ncontrollerName: no-slash\n'));
  assert.deepEqual(
    bad.diagnostics.map((d) => `${d.code} ${d.path}`),
    ['PCL_SETTINGS_INVALID configLimits.maxFileBytes', 'PCL_SETTINGS_INVALID controllerName'],
  );
  assert.equal(bad.settings.configLimits.maxFileBytes, 4 * 1024 * 1024);
  assert.equal(bad.settings.controllerName, 'portcullis.dev/gateway-controller');
});

test('every field is read in the seed shapes', () => {
  const { settings, diagnostics } = parseSettings(
    file(`trustDomain: example.org
rootNamespace: mesh-root
gatewayClasses:
  my-egress: egress
egressPolicies:
- matchCidrs:
  - 0.0.0.0/0
  - ::/0
  policy: Deny
egressGateway:
  defaultDeny: true
permitCrossNamespaceResourceAccess: [istio-egress/egress-waypoint]
allowedPrivateCidrs: [10.1.0.0/16]
systemNamespaces: [kube-system]
perimeter:
  podCidrs: [10.244.0.0/16]
  podEgressDropped: true
  snatAddresses: [203.0.113.7]
`),
  );
  assert.deepEqual(diagnostics, []);
  assert.equal(settings.source, 'portcullis.yaml');
  assert.equal(settings.trustDomain, 'example.org');
  assert.equal(settings.rootNamespace, 'mesh-root');
  assert.deepEqual(settings.gatewayClasses, { 'my-egress': 'egress' });
  assert.deepEqual(settings.egressPolicies, [{ matchCidrs: ['0.0.0.0/0', '::/0'], policy: 'Deny' }]);
  assert.deepEqual(settings.egressGateway, { defaultDeny: true });
  assert.deepEqual(settings.permitCrossNamespaceResourceAccess, ['istio-egress/egress-waypoint']);
  assert.deepEqual(settings.allowedPrivateCidrs, ['10.1.0.0/16']);
  assert.deepEqual(settings.systemNamespaces, ['kube-system']);
  assert.deepEqual(settings.perimeter, {
    podCidrs: ['10.244.0.0/16'],
    podEgressDropped: true,
    snatAddresses: ['203.0.113.7'],
  });
});

test('a misspelt setting is reported with did-you-mean and ignored', () => {
  const { settings, diagnostics } = parseSettings(file('trustDomain: a.org\negressGatway:\n  defaultDeny: true\n'));
  assert.equal(settings.trustDomain, 'a.org');
  assert.deepEqual(settings.egressGateway, { defaultDeny: false });
  assert.equal(diagnostics.length, 1);
  assert.deepEqual(
    [diagnostics[0].code, diagnostics[0].line, diagnostics[0].column],
    ['PCL_SETTINGS_UNKNOWN_FIELD', 2, 1],
  );
  assert.match(diagnostics[0].message, /did you mean "egressGateway"/);
});

test('a broken field falls back to its default, with file:line, and the others still apply', () => {
  const { settings, diagnostics } = parseSettings(
    file(`rootNamespace: mesh-root
egressPolicies:
- matchCidrs: [0.0.0.0/99]
  policy: Deny
gatewayClasses:
  foo: gateway
egressGateway:
  defaultDeny: "yes"
`),
  );
  assert.equal(settings.rootNamespace, 'mesh-root');
  assert.deepEqual(settings.egressPolicies, []);
  assert.deepEqual(settings.gatewayClasses, DEFAULT_GATEWAY_CLASSES);
  assert.deepEqual(settings.egressGateway, { defaultDeny: false });
  assert.deepEqual(
    diagnostics.map((d) => [d.code, d.line, d.path]),
    [
      ['PCL_SETTINGS_INVALID', 3, 'egressPolicies[0].matchCidrs[0]'],
      ['PCL_SETTINGS_INVALID', 6, 'gatewayClasses.foo'],
      ['PCL_SETTINGS_INVALID', 8, 'egressGateway.defaultDeny'],
    ],
  );
  assert.match(diagnostics[0].message, /CIDR.*using the default for egressPolicies: \[\]/);
  assert.match(diagnostics[1].message, /Unsupported value: "gateway": supported values: "egress", "waypoint"/);
});

test('policy must be exactly Deny or Allow, as in the ztunnel chart', () => {
  const { diagnostics } = parseSettings(file('egressPolicies:\n- matchCidrs: [0.0.0.0/0]\n  policy: deny\n'));
  assert.equal(diagnostics[0].code, 'PCL_SETTINGS_INVALID');
  assert.equal(diagnostics[0].line, 3);
});

test('a settings YAML syntax error keeps every default', () => {
  const { settings, diagnostics } = parseSettings(file('trustDomain: [oops\n'));
  assert.equal(settings.trustDomain, 'cluster.local');
  assert.equal(diagnostics[0].code, 'PCL_SETTINGS_YAML_SYNTAX');
  assert.equal(diagnostics[0].file, 'portcullis.yaml');
});

test('PERMIT_CROSS_NAMESPACE_RESOURCE_ACCESS is merged into the file list, bad entries reported', () => {
  const { settings, diagnostics } = parseSettings(
    file('permitCrossNamespaceResourceAccess: [istio-egress/egress-waypoint]\n'),
    {
      PERMIT_CROSS_NAMESPACE_RESOURCE_ACCESS: ' istio-egress/egress-waypoint, other/gw ,,not-a-pair',
    },
  );
  assert.deepEqual(settings.permitCrossNamespaceResourceAccess, ['istio-egress/egress-waypoint', 'other/gw']);
  assert.equal(diagnostics.length, 1);
  assert.equal(diagnostics[0].code, 'PCL_SETTINGS_ENV_INVALID');
  assert.match(diagnostics[0].message, /"not-a-pair"/);
});

test('the environment variable works without a settings file', () => {
  const { settings } = parseSettings(null, { PERMIT_CROSS_NAMESPACE_RESOURCE_ACCESS: 'a/b' });
  assert.deepEqual(settings.permitCrossNamespaceResourceAccess, ['a/b']);
});

// ---- limits ----

test('limits: counts and durations are read; the rest keep their defaults', () => {
  const { settings, diagnostics } = parseSettings(
    file('limits:\n  maxTunnelsPerIdentity: 50\n  handshakeTimeout: 2.5s\n  tcpIdleTimeout: 1h30m\n'),
  );
  assert.deepEqual(diagnostics, []);
  assert.deepEqual(settings.limits, {
    maxTunnelsPerIdentity: 50,
    handshakeTimeoutMs: 2500,
    tcpIdleTimeoutMs: 5_400_000,
  });
  const limits = gatewayLimits(settings);
  assert.equal(limits.maxTunnelsPerIdentity, 50);
  assert.equal(limits.maxTunnelsPerSession, DEFAULT_GATEWAY_LIMITS.maxTunnelsPerSession);
  assert.equal(limits.httpIdleTimeoutMs, 5 * 60_000);
  assert.equal(
    gatewayLimits(parseSettings(null).settings).tcpIdleTimeoutMs,
    10 * 60_000,
    'far shorter than an hour by default',
  );
});

test('limits: zero, negative, fractional counts, bad durations and unknown names are refused with their line; defaults stay', () => {
  for (const [text, line, path] of [
    ['limits:\n  maxTunnels: 0\n', 2, 'limits.maxTunnels'],
    ['limits:\n  maxConnections: -5\n', 2, 'limits.maxConnections'],
    ['limits:\n  maxTunnelsPerSession: 1.5\n', 2, 'limits.maxTunnelsPerSession'],
    ['limits:\n  maxTunnels: 5\n  handshakeTimeout: 10\n', 3, 'limits.handshakeTimeout'],
    ['limits:\n  httpIdleTimeout: 0s\n', 2, 'limits.httpIdleTimeout'],
    ['limits:\n  tcpIdleTimeout: forever\n', 2, 'limits.tcpIdleTimeout'],
  ] as const) {
    const { settings, diagnostics } = parseSettings(file(text));
    assert.equal(diagnostics.length, 1, text);
    assert.equal(diagnostics[0].code, 'PCL_SETTINGS_INVALID', text);
    assert.equal(diagnostics[0].line, line, text);
    assert.equal(diagnostics[0].path, path, text);
    assert.equal(settings.limits, undefined, `${text}: the whole block keeps its defaults`);
    assert.deepEqual(gatewayLimits(settings), DEFAULT_GATEWAY_LIMITS);
  }
  const unknown = parseSettings(file('limits:\n  maxTunelsPerIdentity: 5\n')).diagnostics;
  assert.equal(unknown[0].code, 'PCL_SETTINGS_UNKNOWN_FIELD');
  assert.match(unknown[0].message, /maxTunnelsPerIdentity/);
});
