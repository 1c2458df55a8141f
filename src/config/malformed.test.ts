/**
 * The malformed-input suite: each case is a broken manifest and the exact error it must produce
 * (code, file, line, column where meaningful), and the broken resource must be left out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ErrorCode } from '../errors/catalogue.ts';
import { loadConfigTexts } from './load.ts';

interface Case {
  readonly name: string;
  readonly text: string;
  readonly code: ErrorCode;
  readonly line: number;
  readonly column?: number;
  readonly path?: string;
  /** A fragment the message must contain. */
  readonly message?: string | RegExp;
  /** Resources that must still load from the same text (default 0). */
  readonly loaded?: number;
}

const AP = 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: p\n  namespace: ns1\n'; // 5 lines
const SE = 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: se\n  namespace: ns1\n'; // 5 lines
const DR = 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: dr\n  namespace: ns1\n'; // 5 lines
const GW = 'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: gw\n  namespace: ns1\n'; // 5 lines
const HR = 'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: r\n  namespace: ns1\n'; // 5 lines
const NP = 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: np\n  namespace: ns1\n'; // 5 lines
const NS_OK = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: fine\n'; // 4 lines

const CASES: Case[] = [
  // ---------- unknown and misspelt fields ----------
  {
    name: 'misspelt principals suggests principals',
    text: `${AP}spec:\n  rules:\n    - from:\n        - source:\n            princpals: ["cluster.local/ns/a/sa/b"]\n`,
    code: 'PCL_CONFIG_UNKNOWN_FIELD',
    line: 10,
    column: 13,
    path: 'spec.rules[0].from[0].source.princpals',
    message: 'did you mean "principals"?',
  },
  {
    name: 'misspelt top-level spec',
    text: `${SE}sepc:\n  hosts: [a.example.com]\n`,
    code: 'PCL_CONFIG_UNKNOWN_FIELD',
    line: 6,
    column: 1,
    path: 'sepc',
    message: 'did you mean "spec"?',
  },
  {
    name: 'unknown field with no close match',
    text: `${SE}spec:\n  hosts: [a.example.com]\n  bogusSetting: true\n`,
    code: 'PCL_CONFIG_UNKNOWN_FIELD',
    line: 8,
    column: 3,
    path: 'spec.bogusSetting',
    message: /^Unknown field$/,
  },
  {
    name: 'case-only typo in a DestinationRule field',
    text: `${DR}spec:\n  host: a.example.com\n  trafficPolicy:\n    TLS:\n      mode: SIMPLE\n`,
    code: 'PCL_CONFIG_UNKNOWN_FIELD',
    line: 9,
    column: 5,
    message: 'did you mean "tls"?',
  },
  {
    name: 'unknown metadata field',
    text: `${AP}  lables:\n    a: b\nspec: {}\n`,
    code: 'PCL_CONFIG_UNKNOWN_FIELD',
    line: 6,
    column: 3,
    path: 'metadata.lables',
    message: 'did you mean "labels"?',
  },
  // ---------- wrong types ----------
  {
    name: 'unquoted port number in AuthorizationPolicy ports',
    text: `${AP}spec:\n  rules:\n    - to:\n        - operation:\n            ports: [443]\n`,
    code: 'PCL_CONFIG_TYPE',
    line: 10,
    column: 21,
    path: 'spec.rules[0].to[0].operation.ports[0]',
    message: 'quote it: "443"',
  },
  {
    name: 'hosts written as a string instead of a list',
    text: `${SE}spec:\n  hosts: a.example.com\n`,
    code: 'PCL_CONFIG_TYPE',
    line: 7,
    column: 3,
    path: 'spec.hosts',
    message: 'must be of type array',
  },
  {
    name: 'port number written as a string',
    text: `${SE}spec:\n  hosts: [a.example.com]\n  ports:\n    - name: https\n      number: "443"\n`,
    code: 'PCL_CONFIG_TYPE',
    line: 10,
    column: 7,
    path: 'spec.ports[0].number',
    message: 'must be of type integer',
  },
  {
    name: 'fractional port number',
    text: `${SE}spec:\n  hosts: [a.example.com]\n  ports:\n    - name: https\n      number: 1.5\n`,
    code: 'PCL_CONFIG_TYPE',
    line: 10,
    column: 7,
  },
  {
    name: 'rules: with no value is null, not a list',
    text: `${AP}spec:\n  rules:\n`,
    code: 'PCL_CONFIG_TYPE',
    line: 7,
    column: 3,
    message: 'Invalid value: "null"',
  },
  {
    name: 'hostNetwork as a string',
    text: 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  hostNetwork: "true"\n  containers: [{name: c, image: x, resources: {limits: {cpu: 1}}}]\n',
    code: 'PCL_CONFIG_TYPE',
    line: 6,
    column: 3,
    path: 'spec.hostNetwork',
  },
  {
    name: 'NetworkPolicy endPort as a string',
    text: `${NP}spec:\n  podSelector: {}\n  egress:\n    - ports:\n        - port: 8000\n          endPort: "9000"\n`,
    code: 'PCL_CONFIG_TYPE',
    line: 11,
    column: 11,
  },
  // ---------- labels and annotations ----------
  {
    name: 'label value is a number',
    text: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  labels:\n    version: 1\n',
    code: 'PCL_CONFIG_TYPE',
    line: 6,
    column: 5,
    path: 'metadata.labels.version',
    message: 'quote it: "1"',
  },
  {
    name: 'label value is a boolean',
    text: `${SE}  labels:\n    enabled: true\nspec:\n  hosts: [a.example.com]\n`,
    code: 'PCL_CONFIG_TYPE',
    line: 7,
    column: 5,
    message: 'quote it: "true"',
  },
  {
    name: 'annotation value is a number',
    text: `${SE}  annotations:\n    solo.io/sidecar-skip-waypoint: 1\nspec:\n  hosts: [a.example.com]\n`,
    code: 'PCL_CONFIG_TYPE',
    line: 7,
    column: 5,
  },
  {
    name: 'label key with a space',
    text: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  labels:\n    "bad key": x\n',
    code: 'PCL_CONFIG_PATTERN',
    line: 6,
    column: 5,
  },
  {
    name: 'label value too long',
    text: `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  labels:\n    a: ${'x'.repeat(64)}\n`,
    code: 'PCL_CONFIG_PATTERN',
    line: 6,
    column: 5,
    message: 'no more than 63 characters',
  },
  {
    name: 'pod template label is a number (other pod spec fields are free)',
    text: 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  replicas: 2\n  template:\n    metadata:\n      labels:\n        tier: 3\n    spec:\n      containers:\n        - name: c\n          env: [{name: A, value: b}]\n',
    code: 'PCL_CONFIG_TYPE',
    line: 10,
    column: 9,
    path: 'spec.template.metadata.labels.tier',
  },
  {
    name: 'labels written as a list',
    text: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  labels:\n    - a\n',
    code: 'PCL_CONFIG_TYPE',
    line: 5,
    column: 3,
    message: 'must be of type object',
  },
  // ---------- required ----------
  {
    name: 'ServiceEntry without spec',
    text: SE,
    code: 'PCL_CONFIG_REQUIRED',
    line: 1,
    column: 1,
    path: 'spec',
    message: 'Required value',
  },
  {
    name: 'ServiceEntry without hosts',
    text: `${SE}spec:\n  resolution: DNS\n`,
    code: 'PCL_CONFIG_REQUIRED',
    line: 6,
    column: 1,
    path: 'spec.hosts',
  },
  {
    name: 'warmup without duration',
    text: `${DR}spec:\n  host: a.example.com\n  trafficPolicy:\n    loadBalancer:\n      warmup:\n        minimumPercent: 5\n`,
    code: 'PCL_CONFIG_REQUIRED',
    line: 10,
    column: 7,
    path: 'spec.trafficPolicy.loadBalancer.warmup.duration',
  },
  {
    name: 'metadata without name',
    text: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  labels: {a: b}\n',
    code: 'PCL_CONFIG_REQUIRED',
    line: 3,
    column: 1,
    path: 'metadata.name',
  },
  {
    name: 'no apiVersion',
    text: 'kind: Namespace\nmetadata:\n  name: n\n',
    code: 'PCL_CONFIG_REQUIRED',
    line: 1,
    column: 1,
    path: 'apiVersion',
  },
  {
    name: 'no kind',
    text: 'apiVersion: v1\nmetadata:\n  name: n\n',
    code: 'PCL_CONFIG_REQUIRED',
    line: 1,
    column: 1,
    path: 'kind',
  },
  {
    name: 'targetRefs entry without kind',
    text: `${AP}spec:\n  targetRefs:\n    - name: gw\n`,
    code: 'PCL_CONFIG_REQUIRED',
    line: 8,
    column: 7,
    path: 'spec.targetRefs[0].kind',
  },
  // ---------- enums ----------
  {
    name: 'action misspelt',
    text: `${AP}spec:\n  action: ALOW\n`,
    code: 'PCL_CONFIG_ENUM',
    line: 7,
    column: 3,
    message: 'Unsupported value: "ALOW": supported values: "ALLOW", "DENY", "AUDIT", "CUSTOM"',
  },
  {
    name: 'resolution lower case',
    text: `${SE}spec:\n  hosts: [a.example.com]\n  resolution: dns\n`,
    code: 'PCL_CONFIG_ENUM',
    line: 8,
    column: 3,
  },
  {
    name: 'tls mode unknown',
    text: `${DR}spec:\n  host: a.example.com\n  trafficPolicy:\n    tls:\n      mode: MTLS\n`,
    code: 'PCL_CONFIG_ENUM',
    line: 10,
    column: 7,
    path: 'spec.trafficPolicy.tls.mode',
  },
  {
    name: 'NetworkPolicy selector operator misspelt',
    text: `${NP}spec:\n  podSelector:\n    matchExpressions:\n      - key: a\n        operator: Exist\n`,
    code: 'PCL_CONFIG_ENUM',
    line: 10,
    column: 9,
  },
  {
    name: 'HTTPRoute header match type misspelt',
    text: `${HR}spec:\n  rules:\n    - matches:\n        - headers:\n            - name: x-a\n              value: b\n              type: exact\n`,
    code: 'PCL_CONFIG_ENUM',
    line: 12,
    column: 15,
  },
  // ---------- ranges and sizes ----------
  {
    name: 'warmup minimumPercent above 100',
    text: `${DR}spec:\n  host: a.example.com\n  trafficPolicy:\n    loadBalancer:\n      warmup:\n        duration: 10s\n        minimumPercent: 150\n`,
    code: 'PCL_CONFIG_RANGE',
    line: 12,
    column: 9,
    message: 'should be less than or equal to 100',
  },
  {
    name: 'listener port 0',
    text: `${GW}spec:\n  gatewayClassName: istio-waypoint\n  listeners:\n    - name: mesh\n      port: 0\n      protocol: HBONE\n`,
    code: 'PCL_CONFIG_RANGE',
    line: 10,
    column: 7,
  },
  {
    name: 'empty hosts list',
    text: `${SE}spec:\n  hosts: []\n`,
    code: 'PCL_CONFIG_SIZE',
    line: 7,
    column: 3,
    message: 'should have at least 1 items',
  },
  {
    name: 'GatewayClass description too long',
    text: `apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata:\n  name: c\nspec:\n  controllerName: istio.io/mesh-controller\n  description: ${'d'.repeat(65)}\n`,
    code: 'PCL_CONFIG_SIZE',
    line: 7,
    column: 3,
    message: 'Too long',
  },
  {
    name: 'more than 16 targetRefs',
    text: `${AP}spec:\n  targetRefs:\n${'    - {kind: Gateway, name: gw}\n'.repeat(17)}`,
    code: 'PCL_CONFIG_SIZE',
    line: 7,
    column: 3,
    message: 'Too many: 17',
  },
  // ---------- patterns ----------
  {
    name: 'upper-case object name',
    text: `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: Team-A\n`,
    code: 'PCL_CONFIG_PATTERN',
    line: 4,
    column: 3,
    path: 'metadata.name',
  },
  {
    name: 'HTTPRoute header name with a space',
    text: `${HR}spec:\n  rules:\n    - matches:\n        - headers:\n            - name: "x a"\n              value: b\n`,
    code: 'PCL_CONFIG_PATTERN',
    line: 10,
    column: 15,
  },
  {
    name: 'Gateway IPAddress that is not an IP',
    text: `${GW}spec:\n  gatewayClassName: istio-waypoint\n  addresses:\n    - value: not-an-ip\n  listeners:\n    - {name: mesh, port: 15008, protocol: HBONE}\n`,
    code: 'PCL_CONFIG_PATTERN',
    line: 9,
    column: 7,
    message: 'must be an IPv4 or IPv6 address',
  },
  {
    name: 'HTTPRoute timeout not a Gateway API duration',
    text: `${HR}spec:\n  rules:\n    - timeouts:\n        request: 1.5s\n`,
    code: 'PCL_CONFIG_PATTERN',
    line: 9,
    column: 9,
  },
  // ---------- list types and exclusive fields ----------
  {
    name: 'two ServiceEntry ports with one name',
    text: `${SE}spec:\n  hosts: [a.example.com]\n  ports:\n    - {name: a, number: 80}\n    - {name: a, number: 81}\n`,
    code: 'PCL_CONFIG_DUPLICATE_VALUE',
    line: 10,
    column: 7,
    path: 'spec.ports[1]',
    message: 'Duplicate value: {"name":"a"}',
  },
  {
    name: 'two listeners with one name',
    text: `${GW}spec:\n  gatewayClassName: istio-waypoint\n  listeners:\n    - {name: mesh, port: 15008, protocol: HBONE}\n    - {name: mesh, port: 15009, protocol: HBONE}\n`,
    code: 'PCL_CONFIG_DUPLICATE_VALUE',
    line: 10,
    column: 7,
  },
  {
    name: 'loadBalancer simple and consistentHash together',
    text: `${DR}spec:\n  host: a.example.com\n  trafficPolicy:\n    loadBalancer:\n      simple: RANDOM\n      consistentHash: {useSourceIp: true}\n`,
    code: 'PCL_CONFIG_EXCLUSIVE_FIELDS',
    line: 9,
    column: 5,
    message: 'only one of "simple", "consistentHash"',
  },
  // ---------- identity, apiVersion, duplicates ----------
  {
    name: 'unknown Istio apiVersion',
    text: `apiVersion: networking.istio.io/v2\nkind: ServiceEntry\nmetadata:\n  name: se\nspec:\n  hosts: [a.example.com]\n`,
    code: 'PCL_CONFIG_API_VERSION',
    line: 1,
    column: 1,
    message: '"networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"',
  },
  {
    name: 'EnvoyFilter is v1alpha3 only',
    text: `apiVersion: networking.istio.io/v1\nkind: EnvoyFilter\nmetadata:\n  name: ef\nspec: {}\n`,
    code: 'PCL_CONFIG_API_VERSION',
    line: 1,
    column: 1,
  },
  {
    name: 'duplicate resource is an error on the later one',
    text: `${NS_OK}---\n${NS_OK}`,
    code: 'PCL_CONFIG_DUPLICATE_RESOURCE',
    line: 6,
    column: 1,
    loaded: 1,
  },
  // ---------- documents and lists ----------
  {
    name: "List with a bad item reports the item's real line",
    text: `apiVersion: v1\nkind: List\nitems:\n  - ${NS_OK.replaceAll('\n', '\n    ').trimEnd()}\n  - apiVersion: v1\n    kind: Namespace\n    metadata:\n      name: bad\n      namspace: x\n`,
    code: 'PCL_CONFIG_UNKNOWN_FIELD',
    line: 12,
    column: 7,
    message: 'did you mean "namespace"?',
    loaded: 1,
  },
  {
    name: 'List with a scalar item',
    text: `apiVersion: v1\nkind: List\nitems:\n  - just a string\n`,
    code: 'PCL_CONFIG_NOT_AN_OBJECT',
    line: 4,
    column: 5,
  },
  {
    name: 'List whose items is not a list',
    text: `apiVersion: v1\nkind: List\nitems: {}\n`,
    code: 'PCL_CONFIG_TYPE',
    line: 3,
    column: 1,
  },
  {
    name: 'a document that is a list',
    text: `${NS_OK}---\n- a\n- b\n`,
    code: 'PCL_CONFIG_NOT_AN_OBJECT',
    line: 6,
    column: 1,
    loaded: 1,
  },
  // ---------- YAML syntax ----------
  {
    name: 'unclosed flow sequence',
    text: `${NS_OK}---\n${SE}spec:\n  hosts: [a.example.com\n`,
    code: 'PCL_CONFIG_YAML_SYNTAX',
    line: 13, // the parser notices at the end of the document
    loaded: 1,
  },
  {
    name: 'duplicate key in a mapping',
    text: `${SE}spec:\n  hosts: [a.example.com]\n  hosts: [b.example.com]\n`,
    code: 'PCL_CONFIG_YAML_SYNTAX',
    line: 8,
    column: 3,
  },
  {
    name: 'tab indentation',
    text: `${SE}spec:\n\thosts: [a.example.com]\n`,
    code: 'PCL_CONFIG_YAML_SYNTAX',
    line: 7,
  },

  // ---------- semantic: the CRDs' CEL rules and istiod's webhook, through the loader with file and line ----------
  {
    name: 'CEL: selector and targetRefs together',
    text: `${AP}spec:\n  selector:\n    matchLabels: {app: a}\n  targetRefs:\n    - {kind: Gateway, group: gateway.networking.k8s.io, name: g}\n`,
    code: 'PCL_VALIDATION_SELECTOR',
    line: 6,
    message: 'only one of targetRefs or selector can be set',
  },
  {
    name: 'CEL: serviceAccounts with namespaces',
    text: `${AP}spec:\n  rules:\n    - from:\n        - source:\n            serviceAccounts: ["bar/sa"]\n            namespaces: ["bar"]\n`,
    code: 'PCL_VALIDATION_AUTHZ_RULE',
    line: 9,
    message: 'Cannot set serviceAccounts with namespaces or principals',
  },
  {
    name: 'webhook: DENY without rules',
    text: `${AP}spec:\n  action: DENY\n`,
    code: 'PCL_VALIDATION_AUTHZ_ACTION',
    line: 6,
    message: 'DENY action without `rules` is meaningless',
  },
  {
    name: 'webhook: empty from.source',
    text: `${AP}spec:\n  rules:\n    - from:\n        - source: {}\n`,
    code: 'PCL_VALIDATION_AUTHZ_RULE',
    line: 9,
    message: '`from.source` must not be empty',
  },
  {
    name: 'webhook: a port that is not a number',
    text: `${AP}spec:\n  rules:\n    - to:\n        - operation:\n            ports: ["https"]\n`,
    code: 'PCL_VALIDATION_AUTHZ_VALUE',
    line: 10,
  },
  {
    name: 'webhook: a malformed ipBlock',
    text: `${AP}spec:\n  rules:\n    - from:\n        - source:\n            ipBlocks: ["10.0.0.0/33"]\n`,
    code: 'PCL_VALIDATION_AUTHZ_VALUE',
    line: 10,
  },
  {
    name: 'webhook: unknown when key',
    text: `${AP}spec:\n  rules:\n    - when:\n        - key: destination.namespace\n          values: ["a"]\n`,
    code: 'PCL_VALIDATION_AUTHZ_CONDITION',
    line: 9,
  },
  {
    name: 'webhook: targetRef with a namespace',
    text: `${AP}spec:\n  targetRefs:\n    - {kind: Gateway, group: gateway.networking.k8s.io, name: g, namespace: other}\n`,
    code: 'PCL_VALIDATION_TARGET_REF',
    line: 8,
    message: 'cross namespace referencing is not supported',
  },
  {
    name: 'CEL: ServiceEntry host "*"',
    text: `${SE}spec:\n  hosts: ["*"]\n`,
    code: 'PCL_VALIDATION_SERVICE_ENTRY_HOST',
    line: 7,
    message: 'hostname cannot be wildcard',
  },
  {
    name: 'CEL: CIDR address with DNS resolution',
    text: `${SE}spec:\n  hosts: [a.example.com]\n  addresses: [10.0.0.0/16]\n  resolution: DNS\n`,
    code: 'PCL_VALIDATION_SERVICE_ENTRY_ADDRESS',
    line: 6,
    message: 'CIDR addresses are allowed only for NONE/STATIC resolution types',
  },
  {
    name: 'CEL: NONE resolution with endpoints',
    text: `${SE}spec:\n  hosts: [a.example.com]\n  resolution: NONE\n  endpoints:\n    - address: 1.2.3.4\n`,
    code: 'PCL_VALIDATION_SERVICE_ENTRY_RESOLUTION',
    line: 6,
    message: 'NONE mode cannot set endpoints',
  },
  {
    name: 'CEL: duplicate port number',
    text: `${SE}spec:\n  hosts: [a.example.com]\n  ports:\n    - {name: a, number: 443}\n    - {name: b, number: 443}\n`,
    code: 'PCL_VALIDATION_SERVICE_ENTRY_PORT',
    line: 8,
    message: 'port number cannot be duplicated',
  },
  {
    name: 'CEL: port out of range',
    text: `${SE}spec:\n  hosts: [a.example.com]\n  ports:\n    - {name: a, number: 70000}\n`,
    code: 'PCL_VALIDATION_SERVICE_ENTRY_PORT',
    line: 9,
    message: 'port must be between 1-65535',
  },
  {
    name: 'webhook: DNS resolution, wildcard host, no endpoints',
    text: `${SE}spec:\n  hosts: ["*.example.com"]\n  resolution: DNS\n`,
    code: 'PCL_VALIDATION_SERVICE_ENTRY_RESOLUTION',
    message: 'hosts must be FQDN or contain only prefix wildcards',
    line: 7,
  },
  {
    name: 'webhook: MUTUAL TLS without a credential',
    text: `${DR}spec:\n  host: a.example.com\n  trafficPolicy:\n    tls:\n      mode: MUTUAL\n`,
    code: 'PCL_VALIDATION_DESTINATION_RULE_TLS',
    line: 9,
  },
  {
    name: 'CEL: HTTPRoute path that does not start with /',
    text: `${HR}spec:\n  rules:\n    - matches:\n        - path: {type: PathPrefix, value: api}\n`,
    code: 'PCL_VALIDATION_HTTP_ROUTE_MATCH',
    line: 9,
  },
  {
    name: 'Istio: Hostname backendRef with a namespace',
    text: `${HR}spec:\n  rules:\n    - backendRefs:\n        - {group: networking.istio.io, kind: Hostname, name: a.example.com, namespace: x, port: 443}\n`,
    code: 'PCL_VALIDATION_HTTP_ROUTE_BACKEND_REF',
    line: 9,
    message: 'namespace may not be set with Hostname type',
  },
  {
    name: 'Istio: Hostname backendRef without a port',
    text: `${HR}spec:\n  rules:\n    - backendRefs:\n        - {group: networking.istio.io, kind: Hostname, name: a.example.com}\n`,
    code: 'PCL_VALIDATION_HTTP_ROUTE_BACKEND_REF',
    line: 9,
    message: 'port is required in backendRef',
  },
];

test('the malformed-input suite has at least 40 cases', () => {
  assert.ok(CASES.length >= 40, `${CASES.length} cases`);
});

for (const c of CASES) {
  test(`malformed: ${c.name}`, () => {
    const file = 'm.yaml';
    const result = loadConfigTexts([{ path: file, text: c.text }]);
    const errors = result.diagnostics.filter((d) => d.severity === 'error');
    assert.ok(errors.length > 0, 'expected an error');
    const first = errors[0];
    const where = `${first.code} at ${first.file}:${first.line}:${first.column} ${first.path ?? ''}: ${first.message}`;
    assert.equal(first.code, c.code, where);
    assert.equal(first.file, file, where);
    assert.equal(first.line, c.line, where);
    if (c.column !== undefined) assert.equal(first.column, c.column, where);
    if (c.path !== undefined) assert.equal(first.path, c.path, where);
    if (typeof c.message === 'string') assert.ok(first.message.includes(c.message), where);
    else if (c.message) assert.match(first.message, c.message, where);
    assert.equal(result.resources.length, c.loaded ?? 0, 'the broken resource is left out, the others load');
  });
}
