/** The renewing source: half-life renewal, the old certificate kept through failures, backoff, expiry and recovery. */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { makeTestPki, type TestPki } from '../../test/support/pki.ts';
import { issueWorkloadCert } from './ca.ts';
import { backoffDelay, RenewingCertificateSource, renewalTime, type IssuedMaterial } from './renewing-source.ts';

const ID = 'spiffe://cluster.local/ns/a/sa/b';
let pki: TestPki;
before(async () => {
  pki = await makeTestPki();
});
after(() => pki.cleanup());

async function issue(ttl: number): Promise<IssuedMaterial> {
  return issueWorkloadCert(pki.ca, { spiffe: ID, ttl, notBefore: new Date() });
}

test('renewal time is half the lifetime; backoff doubles up to its cap', () => {
  assert.equal(renewalTime(new Date(1000), new Date(5000)), 3000);
  assert.equal(renewalTime(new Date(0), new Date(900), 2 / 3), 600);
  assert.deepEqual(
    [1, 2, 3, 4, 10].map((n) => backoffDelay(n, 100, 1000)),
    [100, 200, 400, 800, 1000],
  );
});

test('renews at half the lifetime with a new certificate each time', async () => {
  let calls = 0;
  const source = await RenewingCertificateSource.start({ issue: () => (calls++, issue(4000)) });
  try {
    const first = source.current().certChainPem;
    const [next] = (await once(source, 'update')) as [IssuedMaterial];
    assert.notEqual(next.certChainPem, first);
    assert.equal(source.current().certChainPem, next.certChainPem);
    assert.equal(calls, 2);
    assert.ok(source.health().ok);
  } finally {
    source.close();
  }
});

test('a failing issuer keeps the old certificate, retries with backoff, then expires and recovers', async () => {
  let failing = false;
  let attempts = 0;
  const source = await RenewingCertificateSource.start({
    issue: async () => {
      attempts++;
      if (failing) throw new Error('CA down');
      return issue(3000);
    },
    minBackoffMs: 100,
    maxBackoffMs: 400,
  });
  try {
    failing = true;
    const first = source.current().certChainPem;
    const errors: string[] = [];
    source.on('error', (err: Error) => errors.push(err.message));
    // events.once would reject on the 'error' events each failed attempt emits.
    const expired = await new Promise<Error & { code?: string }>((resolve) => source.once('expired', resolve));
    assert.equal(expired.code, 'PCL_IDENTITY_CERT_EXPIRED');
    assert.match(expired.message, /expired at .* without renewal \(last attempt: CA down\)/);
    assert.equal(source.current().certChainPem, first, 'the old certificate was served until it expired');
    assert.ok(errors.length >= 2, `retried (${errors.length} failures seen)`);
    assert.equal(source.health().ok, false);
    failing = false;
    await new Promise<void>((resolve) => source.once('recovered', resolve));
    assert.ok(source.health().ok);
    assert.notEqual(source.current().certChainPem, first);
    assert.ok(attempts >= 4);
  } finally {
    source.close();
  }
});

test('the first certificate must come: start throws the issuer error', async () => {
  await assert.rejects(
    RenewingCertificateSource.start({ issue: async () => Promise.reject(new Error('no CA')) }),
    /no CA/,
  );
});
