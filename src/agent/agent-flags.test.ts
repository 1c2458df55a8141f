/** The agent's value formats: listen addresses, forwards and the --workloads file, each refused with a reason. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseForward, parseListenAddress, parseWorkloads } from './agent-flags.ts';

test('listen addresses', () => {
  assert.deepEqual(parseListenAddress('127.0.0.1:15001'), { ok: true, value: { host: '127.0.0.1', port: 15001 } });
  assert.deepEqual(parseListenAddress('[::1]:0'), { ok: true, value: { host: '::1', port: 0 } });
  for (const bad of ['15001', 'example.com:80', '127.0.0.1:65536', '[127.0.0.1]:80', '::1:80', '127.0.0.1:']) {
    assert.equal(parseListenAddress(bad).ok, false, bad);
  }
});

test('forwards', () => {
  assert.deepEqual(parseForward('127.0.0.1:5432=db.partner.example:5432'), {
    ok: true,
    value: {
      listen: { host: '127.0.0.1', port: 5432 },
      target: { host: 'db.partner.example', port: 5432, isIp: false },
    },
  });
  assert.deepEqual(parseForward('127.0.0.1:0=[2001:db8::1]:443').ok, true);
  for (const bad of ['127.0.0.1:5432', '=db:5432', '127.0.0.1:5432=db', '127.0.0.1:5432=db:0', 'x:1=db:5432']) {
    assert.equal(parseForward(bad).ok, false, bad);
  }
});

test('a workloads file: identities from namespace and service account, per-entry forwards', () => {
  const r = parseWorkloads(
    `
- namespace: team-namespace
  serviceAccount: app1
  listen: 127.0.0.1:15011
  forward: ["127.0.0.1:5432=db.partner.example:5432"]
- {namespace: team-namespace, serviceAccount: app2, listen: "127.0.0.1:15012"}
`,
    'cluster.local',
  );
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.deepEqual(
    r.value.map((w) => [w.identity, w.listen.port, w.forwards.length]),
    [
      ['spiffe://cluster.local/ns/team-namespace/sa/app1', 15011, 1],
      ['spiffe://cluster.local/ns/team-namespace/sa/app2', 15012, 0],
    ],
  );
});

test('a workloads file is refused with the entry and the problem', () => {
  const cases: [string, RegExp][] = [
    ['{}', /non-empty YAML list/],
    ['- 3', /entry 1: expected a mapping/],
    ['- {namespace: a, listen: "127.0.0.1:1"}', /entry 1: "serviceAccount" is required/],
    ['- {namespace: a, serviceAccount: b, listen: "127.0.0.1:1", lisen: x}', /unknown field "lisen"/],
    ['- {namespace: "a/b", serviceAccount: b, listen: "127.0.0.1:1"}', /entry 1: a SPIFFE ID must be/],
    [
      '- {namespace: a, serviceAccount: b, listen: "127.0.0.1:1"}\n- {namespace: a, serviceAccount: b, listen: "127.0.0.1:2"}',
      /entry 2: a\/b is listed twice/,
    ],
    [
      '- {namespace: a, serviceAccount: b, listen: "127.0.0.1:1"}\n- {namespace: a, serviceAccount: c, listen: "127.0.0.1:1"}',
      /entry 2: address 127\.0\.0\.1:1 is used twice/,
    ],
    ['- {namespace: a, serviceAccount: b, listen: "127.0.0.1:1", forward: "x"}', /"forward" must be a list/],
    ['- [unclosed', /not YAML/],
  ];
  for (const [text, reason] of cases) {
    const r = parseWorkloads(text, 'cluster.local');
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.match(r.reason, reason, text);
  }
});
