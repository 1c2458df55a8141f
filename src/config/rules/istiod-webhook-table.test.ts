/**
 * Cases from istiod's own webhook tests (istio/istio pkg/config/validation/validation_test.go), each through the
 * whole loader (schema, CEL rules, webhook rules), asserting what the upstream table asserts (valid, warning) and
 * istiod's exact message. Names are the upstream case names.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfigTexts } from '../load.ts';
import type { Diagnostic } from '../types.ts';

interface Case {
  /** `<upstream test function> / <case name>`. */
  readonly name: string;
  readonly kind: 'ServiceEntry' | 'AuthorizationPolicy' | 'DestinationRule';
  readonly spec: unknown;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
  readonly valid: boolean;
  readonly warning: boolean;
  /** istiod's message for the error (or, for a valid case, the warning), verbatim. */
  readonly message?: string;
}

const API: Record<Case['kind'], string> = {
  ServiceEntry: 'networking.istio.io/v1',
  DestinationRule: 'networking.istio.io/v1',
  AuthorizationPolicy: 'security.istio.io/v1',
};

function load(c: Case): Diagnostic[] {
  const doc = {
    apiVersion: API[c.kind],
    kind: c.kind,
    metadata: { name: 'some-name', namespace: 'some-namespace', labels: c.labels, annotations: c.annotations },
    spec: c.spec,
  };
  return loadConfigTexts([{ path: 'case.yaml', text: JSON.stringify(doc) }], { env: {} }).diagnostics;
}

const http1 = { number: 80, protocol: 'http', name: 'http-valid1' };
const http2 = { number: 8080, protocol: 'http', name: 'http-valid2' };

const CASES: readonly Case[] = [
  // ---- TestValidateAuthorizationPolicy: the istio.io/dry-run annotation ----
  {
    name: 'TestValidateAuthorizationPolicy / dry-run-valid-allow',
    kind: 'AuthorizationPolicy',
    annotations: { 'istio.io/dry-run': 'true' },
    spec: { action: 'ALLOW' },
    valid: true,
    warning: false,
  },
  {
    name: 'TestValidateAuthorizationPolicy / dry-run-valid-deny',
    kind: 'AuthorizationPolicy',
    annotations: { 'istio.io/dry-run': 'false' },
    spec: { action: 'DENY', rules: [{}] },
    valid: true,
    warning: false,
  },
  {
    name: 'TestValidateAuthorizationPolicy / dry-run-invalid-value',
    kind: 'AuthorizationPolicy',
    annotations: { 'istio.io/dry-run': 'foo' },
    spec: { action: 'ALLOW' },
    valid: false,
    warning: false,
    message:
      'some-namespace/some-name has annotation istio.io/dry-run with invalid value (foo): strconv.ParseBool: parsing "foo": invalid syntax',
  },
  {
    name: 'TestValidateAuthorizationPolicy / dry-run-invalid-action-custom',
    kind: 'AuthorizationPolicy',
    annotations: { 'istio.io/dry-run': 'true' },
    spec: { action: 'CUSTOM', provider: { name: 'ext-authz' }, rules: [{}] },
    valid: false,
    warning: false,
    message:
      'the annotation istio.io/dry-run currently only supports action ALLOW/DENY, found action CUSTOM in some-namespace/some-name',
  },
  {
    name: 'TestValidateAuthorizationPolicy / dry-run-invalid-action-audit',
    kind: 'AuthorizationPolicy',
    annotations: { 'istio.io/dry-run': 'true' },
    spec: { action: 'AUDIT' },
    valid: false,
    warning: false,
    message:
      'the annotation istio.io/dry-run currently only supports action ALLOW/DENY, found action AUDIT in some-namespace/some-name',
  },
  {
    // validation.go checkDryRunAnnotation: only AuthorizationPolicy supports the annotation (upstream tests it on
    // RequestAuthentication, "dry run annotation not supported"; Portcullis has no such kind, so on a ServiceEntry).
    name: 'TestValidateRequestAuthentication / dry run annotation not supported (on a ServiceEntry)',
    kind: 'ServiceEntry',
    annotations: { 'istio.io/dry-run': 'true' },
    spec: { hosts: ['google.com'], ports: [http1], resolution: 'DNS' },
    valid: false,
    warning: false,
    message: 'some-namespace/some-name has unsupported annotation istio.io/dry-run, please remove the annotation',
  },
  {
    name: 'TestValidateAuthorizationPolicy / selector-empty-key',
    kind: 'AuthorizationPolicy',
    spec: { selector: { matchLabels: { '': 'v1', version: 'v1' } } },
    valid: false,
    warning: false,
    message: 'Invalid value: "object": key must not be empty',
  },
  // ---- TestValidateServiceEntries ----
  {
    name: 'TestValidateServiceEntries / discovery type DNS, one host set with IP address and https port',
    kind: 'ServiceEntry',
    spec: {
      hosts: ['httpbin.org'],
      addresses: ['10.10.10.10'],
      ports: [http1, http2, { number: 443, protocol: 'https', name: 'https' }],
      resolution: 'DNS',
    },
    valid: true,
    warning: false,
  },
  {
    name: 'TestValidateServiceEntries / discovery type DNS, multi hosts set with IP address and https port',
    kind: 'ServiceEntry',
    spec: {
      hosts: ['httpbin.org', 'wikipedia.org'],
      addresses: ['10.10.10.10'],
      ports: [http1, http2, { number: 443, protocol: 'https', name: 'https' }],
      resolution: 'DNS',
    },
    valid: true,
    warning: true,
    message: 'service entry can not have more than one host specified simultaneously with address and tcp port',
  },
  {
    name: 'TestValidateServiceEntries / protocol unset for addresses empty',
    kind: 'ServiceEntry',
    spec: {
      hosts: ['google.com'],
      addresses: [],
      ports: [http1, { number: 8080, name: 'http-valid2' }],
      resolution: 'NONE',
    },
    valid: true,
    warning: true,
    message: 'addresses are required for ports serving TCP (or unset) protocol when IP Autoallocation is not enabled',
  },
  {
    name: 'TestValidateServiceEntries / protocol is TCP for addresses empty',
    kind: 'ServiceEntry',
    spec: {
      hosts: ['google.com'],
      addresses: [],
      ports: [http1, { number: 81, protocol: 'TCP', name: 'tcp-valid1' }],
      resolution: 'NONE',
    },
    valid: true,
    warning: true,
    message: 'addresses are required for ports serving TCP (or unset) protocol when IP Autoallocation is not enabled',
  },
  {
    // The same port with auto-allocation on (resolution DNS, no opt-out): no warning.
    name: 'TestValidateServiceEntries / discovery type DNS (TCP port, auto-allocated)',
    kind: 'ServiceEntry',
    spec: { hosts: ['google.com'], ports: [{ number: 81, protocol: 'TCP', name: 'tcp-valid1' }], resolution: 'DNS' },
    valid: true,
    warning: false,
  },
  {
    // ...and with the opt-out label, in any case, the warning is back (ShouldV2AutoAllocateIPFromConfig).
    name: 'TestValidateServiceEntries / TCP port, auto-allocation opted out with "FALSE"',
    kind: 'ServiceEntry',
    labels: { 'networking.istio.io/enable-autoallocate-ip': 'FALSE' },
    spec: { hosts: ['google.com'], ports: [{ number: 81, protocol: 'TCP', name: 'tcp-valid1' }], resolution: 'DNS' },
    valid: true,
    warning: true,
    message: 'addresses are required for ports serving TCP (or unset) protocol when IP Autoallocation is not enabled',
  },
  {
    name: 'TestValidateServiceEntries / network set with no address on endpoint',
    kind: 'ServiceEntry',
    spec: {
      hosts: ['www.example.com'],
      addresses: [],
      ports: [{ number: 443, protocol: 'HTTPS', name: 'https-example' }],
      endpoints: [{ network: 'cluster-1' }],
      resolution: 'STATIC',
    },
    valid: true,
    warning: true,
    message: 'address is unset with network "cluster-1"',
  },
  {
    name: 'TestValidateServiceEntries / bad selector key',
    kind: 'ServiceEntry',
    spec: { hosts: ['google.com'], workloadSelector: { labels: { '': 'bar' } }, ports: [http1] },
    valid: false,
    warning: false,
    message: 'empty key is not supported in selector: "=bar"',
  },
  {
    name: 'TestValidateServiceEntries / discovery type DYNAMIC_DNS, unsupported TCP protocol',
    kind: 'ServiceEntry',
    spec: {
      hosts: ['*.google.com'],
      addresses: [],
      ports: [http1, { number: 81, protocol: 'TCP', name: 'tcp-valid1' }],
      resolution: 'DYNAMIC_DNS',
    },
    valid: false,
    warning: false,
    message: 'only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type DYNAMIC_DNS',
  },
  {
    // validation.go ValidateServiceEntry, DYNAMIC_DNS: "DFP supports HTTP, TLS, GRPC, and HTTP2": HTTPS is refused.
    name: 'ValidateServiceEntry (validation.go) / DYNAMIC_DNS with an HTTPS port',
    kind: 'ServiceEntry',
    spec: {
      hosts: ['*.google.com'],
      ports: [{ number: 443, protocol: 'HTTPS', name: 'https' }],
      resolution: 'DYNAMIC_DNS',
    },
    valid: false,
    warning: false,
    message: 'only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type DYNAMIC_DNS',
  },
  {
    name: 'TestValidateServiceEntries / discovery type DYNAMIC_DNS, GRPC protocol',
    kind: 'ServiceEntry',
    spec: {
      hosts: ['*.svc.cluster.local'],
      addresses: [],
      ports: [{ number: 9090, protocol: 'GRPC', name: 'grpc' }],
      resolution: 'DYNAMIC_DNS',
    },
    valid: true,
    warning: false,
  },
  {
    name: 'TestValidateServiceEntries / discovery type DYNAMIC_DNS, FQDN host',
    kind: 'ServiceEntry',
    spec: {
      hosts: ['google.com'],
      addresses: [],
      ports: [{ number: 80, protocol: 'http', name: 'http-valid' }],
      resolution: 'DYNAMIC_DNS',
    },
    valid: false,
    warning: false,
    message: 'host must be wildcarded for resolution mode DYNAMIC_DNS',
  },
  {
    name: 'TestValidateServiceEntries / discovery type DYNAMIC_DNS, internal mesh location',
    kind: 'ServiceEntry',
    spec: {
      hosts: ['*.google.com'],
      addresses: [],
      ports: [http1],
      resolution: 'DYNAMIC_DNS',
      location: 'MESH_INTERNAL',
    },
    valid: true,
    warning: false,
  },
  {
    name: 'TestValidateServiceEntries / discovery type DYNAMIC_DNS, MESH_INTERNAL with waypoint (invalid)',
    kind: 'ServiceEntry',
    labels: { 'istio.io/use-waypoint': 'my-waypoint' },
    spec: {
      hosts: ['*.google.com'],
      addresses: [],
      ports: [http1],
      resolution: 'DYNAMIC_DNS',
      location: 'MESH_INTERNAL',
    },
    valid: false,
    warning: false,
    message: 'location MESH_INTERNAL with resolution type DYNAMIC_DNS is not supported when using waypoints',
  },
  // ---- TestValidateDestinationRule ----
  {
    name: 'TestValidateDestinationRule / missing destination name',
    kind: 'DestinationRule',
    spec: {
      host: '',
      subsets: [
        { name: 'v1', labels: { version: 'v1' } },
        { name: 'v2', labels: { version: 'v2' } },
      ],
    },
    valid: false,
    warning: false,
    message: 'empty domain name not allowed',
  },
  {
    name: 'TestValidateDestinationRule / simple destination rule',
    kind: 'DestinationRule',
    spec: {
      host: 'reviews',
      subsets: [
        { name: 'v1', labels: { version: 'v1' } },
        { name: 'v2', labels: { version: 'v2' } },
      ],
    },
    valid: true,
    warning: false,
  },
];

describe('istiod webhook tables (pkg/config/validation/validation_test.go)', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const diagnostics = load(c);
      const errors = diagnostics.filter((d) => d.severity === 'error');
      const warnings = diagnostics.filter((d) => d.severity === 'warning');
      const show = JSON.stringify(diagnostics.map((d) => `${d.severity} ${d.path}: ${d.message}`));
      assert.equal(errors.length === 0, c.valid, `valid=${c.valid}: ${show}`);
      assert.equal(warnings.length > 0, c.warning, `warning=${c.warning}: ${show}`);
      if (c.message !== undefined) {
        const pool = c.valid ? warnings : errors;
        assert.ok(
          pool.some((d) => d.message === c.message),
          `expected ${JSON.stringify(c.message)} among ${show}`,
        );
      }
    });
  }
});
