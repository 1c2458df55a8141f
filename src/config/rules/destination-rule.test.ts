/** DestinationRule rules: ValidateTLS cases in the spirit of Istio's TestValidateTLS, warmup and duration rules. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { destinationRuleRule } from './destination-rule.ts';
import { runRules } from '../../../test/support/fake-rule-context.ts';

function run(spec: unknown, namespace = 'team') {
  const doc = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'dr', namespace },
    spec,
  };
  return runRules([destinationRuleRule], doc);
}
const withTls = (tls: unknown) => ({ host: 'a.com', trafficPolicy: { tls } });

describe('destinationRuleRule TLS (ValidateTLS)', () => {
  const rejecting: ReadonlyArray<{ name: string; tls: unknown; path: string; message: string }> = [
    {
      name: 'MUTUAL without client certificate and key',
      tls: { mode: 'MUTUAL' },
      path: 'spec.trafficPolicy.tls.clientCertificate',
      message: 'client certificate required for mutual tls',
    },
    {
      name: 'MUTUAL without private key',
      tls: { mode: 'MUTUAL', clientCertificate: '/c.pem' },
      path: 'spec.trafficPolicy.tls.privateKey',
      message: 'private key required for mutual tls',
    },
    {
      name: 'credentialName with caCertificates',
      tls: { mode: 'SIMPLE', credentialName: 's', caCertificates: '/ca.pem' },
      path: 'spec.trafficPolicy.tls',
      message: 'cannot specify client certificates or CA certificate or CA CRL If credentialName is set',
    },
    {
      name: 'credentialName with caCrl',
      tls: { mode: 'MUTUAL', credentialName: 's', caCrl: '/crl.pem' },
      path: 'spec.trafficPolicy.tls',
      message: 'cannot specify client certificates or CA certificate or CA CRL If credentialName is set',
    },
    {
      name: 'SIMPLE insecureSkipVerify with SANs',
      tls: { mode: 'SIMPLE', insecureSkipVerify: true, subjectAltNames: ['a'] },
      path: 'spec.trafficPolicy.tls',
      message: 'cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true',
    },
    {
      name: 'SIMPLE insecureSkipVerify with credentialName',
      tls: { mode: 'SIMPLE', insecureSkipVerify: true, credentialName: 's' },
      path: 'spec.trafficPolicy.tls',
      message: 'cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true',
    },
    {
      name: 'MUTUAL insecureSkipVerify with caCertificates',
      tls: { mode: 'MUTUAL', insecureSkipVerify: true, credentialName: 's', caCertificates: '/ca.pem' },
      path: 'spec.trafficPolicy.tls',
      message: 'cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true',
    },
    {
      name: 'configmap:// credential in another namespace',
      tls: { mode: 'SIMPLE', credentialName: 'configmap://other/ca' },
      path: 'spec.trafficPolicy.tls.credentialName',
      message: 'invalid configmap:// credentialName: namespace must match the configuration namespace "team"',
    },
  ];
  for (const c of rejecting) {
    it(`rejects ${c.name}`, () => {
      const ctx = run(withTls(c.tls));
      const match = ctx.errors.find(
        (e) => e.code === 'PCL_VALIDATION_DESTINATION_RULE_TLS' && e.path === c.path && e.message === c.message,
      );
      assert.ok(match, JSON.stringify(ctx.errors, null, 1));
    });
  }

  it('checks port-level and subset TLS too', () => {
    const ctx = run({
      host: 'a.com',
      trafficPolicy: {
        portLevelSettings: [{ port: { number: 443 }, tls: { mode: 'MUTUAL', credentialName: 's', privateKey: '/k' } }],
      },
      subsets: [{ name: 'v1', trafficPolicy: { tls: { mode: 'MUTUAL' } } }],
    });
    assert.deepEqual(
      ctx.errors.map((e) => e.path),
      [
        'spec.trafficPolicy.portLevelSettings[0].tls',
        'spec.subsets[0].trafficPolicy.tls.clientCertificate',
        'spec.subsets[0].trafficPolicy.tls.privateKey',
      ],
    );
  });

  const accepting: ReadonlyArray<readonly [string, unknown]> = [
    [
      'seed 002 MUTUAL with a namespace/name credentialName and SANs',
      { mode: 'MUTUAL', credentialName: 'team-namespace/app1-client-mtls-secret', subjectAltNames: ['a', 'b'] },
    ],
    ['MUTUAL with files', { mode: 'MUTUAL', clientCertificate: '/c', privateKey: '/k', caCertificates: '/ca' }],
    ['SIMPLE with only a CA', { mode: 'SIMPLE', caCertificates: '/ca' }],
    ['SIMPLE insecureSkipVerify alone', { mode: 'SIMPLE', insecureSkipVerify: true }],
    [
      'MUTUAL insecureSkipVerify with credentialName',
      { mode: 'MUTUAL', insecureSkipVerify: true, credentialName: 's' },
    ],
    ['ISTIO_MUTUAL', { mode: 'ISTIO_MUTUAL' }],
    ['DISABLE', { mode: 'DISABLE' }],
    ['configmap:// credential in the same namespace', { mode: 'SIMPLE', credentialName: 'configmap://team/ca' }],
  ];
  for (const [name, tls] of accepting) {
    it(`accepts ${name}`, () => assert.deepEqual(run(withTls(tls)).errors, []));
  }
});

describe('destinationRuleRule traffic policy values', () => {
  it('rejects warmup.minimumPercent above 100 with a field-style message', () => {
    const ctx = run({
      host: 'a',
      trafficPolicy: { loadBalancer: { warmup: { duration: '300s', minimumPercent: 150 } } },
    });
    assert.deepEqual(
      ctx.errors.map((e) => [e.code, e.text]),
      [
        [
          'PCL_VALIDATION_DESTINATION_RULE_TRAFFIC_POLICY',
          'spec.trafficPolicy.loadBalancer.warmup.minimumPercent: Invalid value: 150: minimumPercent must be between 0 and 100',
        ],
      ],
    );
  });

  it('rejects warmup.aggression below 1', () => {
    const ctx = run({ host: 'a', trafficPolicy: { loadBalancer: { warmup: { duration: '1s', aggression: 0.5 } } } });
    assert.equal(
      ctx.errors[0]?.text,
      'spec.trafficPolicy.loadBalancer.warmup.aggression: Invalid value: 0.5: aggression should be greater than or equal to 1',
    );
  });

  it('rejects durations under 1ms and unparsable ones, as the CRD CEL rule does', () => {
    const ctx = run({
      host: 'a',
      trafficPolicy: { connectionPool: { tcp: { connectTimeout: '500us' }, http: { idleTimeout: 'soon' } } },
      subsets: [{ name: 'v1', trafficPolicy: { outlierDetection: { interval: '0s' } } }],
    });
    assert.deepEqual(
      ctx.errors.map((e) => e.path),
      [
        'spec.trafficPolicy.connectionPool.http.idleTimeout',
        'spec.trafficPolicy.connectionPool.tcp.connectTimeout',
        'spec.subsets[0].trafficPolicy.outlierDetection.interval',
      ],
    );
    assert.ok(
      ctx.errors.every((e) => e.message === 'Invalid value: "string": must be a valid duration greater than 1ms'),
    );
  });

  it('accepts valid durations and warmup values', () => {
    const ctx = run({
      host: 'a',
      trafficPolicy: {
        connectionPool: {
          tcp: { connectTimeout: '1ms', tcpKeepalive: { time: '1h30m' } },
          http: { http2KeepAlive: { interval: '15s', timeout: '5s' } },
        },
        loadBalancer: { warmup: { duration: '300s', minimumPercent: 0, aggression: 1 } },
      },
    });
    assert.deepEqual(ctx.errors, []);
  });

  it('rejects a wildcard in workloadSelector labels', () => {
    const ctx = run({ host: 'a', workloadSelector: { matchLabels: { app: '*' } } });
    assert.equal(ctx.errors[0]?.code, 'PCL_VALIDATION_SELECTOR');
    assert.equal(ctx.errors[0]?.path, 'spec.workloadSelector.matchLabels.app');
  });
});
