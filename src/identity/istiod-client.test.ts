/** The istiod client against the fake certificate service: identity, token, hostile answers, and the shipped proto. */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeIstiod, type FakeIstiod } from '../../test/support/fake-istiod.ts';
import { makeTestPki, type TestPki } from '../../test/support/pki.ts';
import { CA_PROTO_FILE, IstiodClient, materialFromResponse } from './istiod-client.ts';
import { startIstiodIdentity } from './istiod-identity.ts';
import { spiffeIdentities } from './peer-identity.ts';

const ID = 'spiffe://cluster.local/ns/egress/sa/portcullis';
let pki: TestPki;
let istiod: FakeIstiod;
let dir: string;
let rootFile: string;
let tokenFile: string;

before(async () => {
  pki = await makeTestPki();
  istiod = await startFakeIstiod(pki.ca);
  dir = mkdtempSync(join(tmpdir(), 'portcullis-istiod-'));
  rootFile = join(dir, 'root-cert.pem');
  tokenFile = join(dir, 'istio-token');
  writeFileSync(rootFile, pki.ca.rootCertPem);
  writeFileSync(tokenFile, `${istiod.token}\n`);
});
after(async () => {
  await istiod.stop();
  pki.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

test('the shipped proto is istio/api ca.proto, byte for byte', {
  skip:
    !existsSync(join(import.meta.dirname, '../../../shared/conformance/istio-api-proto/ca.proto')) &&
    'no ../shared here: cannot compare proto/ca.proto with istio/api',
}, () => {
  const upstream = readFileSync(
    join(import.meta.dirname, '../../../shared/conformance/istio-api-proto/ca.proto'),
    'utf8',
  );
  assert.equal(readFileSync(CA_PROTO_FILE, 'utf8'), upstream);
});

test('a certificate for the asked identity, the bearer token sent, istiod verified against the root', async () => {
  const client = new IstiodClient({ address: istiod.address, rootCertFile: rootFile, tokenFile });
  try {
    const m = await client.requestCertificate(ID, 3_600_000);
    const leaf = new X509Certificate(m.certChainPem);
    assert.deepEqual(
      spiffeIdentities(leaf.raw).map((i) => i.uri),
      [ID],
    );
    assert.ok(leaf.checkPrivateKey((await import('node:crypto')).createPrivateKey(m.keyPem)));
    assert.equal(m.rootCertPem.trim(), pki.ca.rootCertPem.trim());
    const last = istiod.requests.at(-1)!;
    assert.equal(last.authorization, `Bearer ${istiod.token}`);
    assert.deepEqual(last.uris, [ID]);
    assert.equal(last.validitySeconds, 3600);
  } finally {
    client.close();
  }
});

test('a wrong token is refused with a clear error naming istiod', async () => {
  const bad = join(dir, 'bad-token');
  writeFileSync(bad, 'not-the-token');
  const client = new IstiodClient({ address: istiod.address, rootCertFile: rootFile, tokenFile: bad });
  try {
    await assert.rejects(client.requestCertificate(ID, 3_600_000), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'PCL_IDENTITY_ISTIOD_FAILED');
      assert.match(err.message, new RegExp(`istiod at ${istiod.address}: UNAUTHENTICATED`));
      return true;
    });
  } finally {
    client.close();
  }
});

test('a missing token file is named', async () => {
  const client = new IstiodClient({ address: istiod.address, rootCertFile: rootFile, tokenFile: join(dir, 'nope') });
  await assert.rejects(
    client.requestCertificate(ID, 3_600_000),
    /PCL_IDENTITY_TOKEN_UNREADABLE|--ca-token-file .*nope/,
  );
  client.close();
});

test('an empty chain and a wrong SAN are refused', async () => {
  const client = new IstiodClient({ address: istiod.address, rootCertFile: rootFile, tokenFile });
  try {
    istiod.mode = 'empty-chain';
    await assert.rejects(client.requestCertificate(ID, 3_600_000), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'PCL_IDENTITY_ISTIOD_EMPTY_CHAIN');
      assert.match(err.message, /empty certificate chain/);
      return true;
    });
    istiod.mode = 'wrong-san';
    await assert.rejects(client.requestCertificate(ID, 3_600_000), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'PCL_IDENTITY_ISTIOD_WRONG_IDENTITY');
      assert.match(
        err.message,
        /signed a certificate for spiffe:\/\/cluster\.local\/ns\/other\/sa\/someone-else when spiffe:\/\/cluster\.local\/ns\/egress\/sa\/portcullis was asked for/,
      );
      return true;
    });
  } finally {
    istiod.mode = 'sign';
    client.close();
  }
});

test('istiod whose certificate the root does not vouch for is not trusted', async () => {
  const other = await makeTestPki();
  const otherRoot = join(dir, 'other-root.pem');
  writeFileSync(otherRoot, other.ca.rootCertPem);
  const client = new IstiodClient({ address: istiod.address, rootCertFile: otherRoot, tokenFile, timeoutMs: 5000 });
  try {
    const before = istiod.requests.length;
    await assert.rejects(
      client.requestCertificate(ID, 3_600_000),
      /PCL_IDENTITY_ISTIOD_FAILED|istiod at .*UNAVAILABLE/,
    );
    assert.equal(istiod.requests.length, before, 'no request reached the server');
  } finally {
    client.close();
    other.cleanup();
  }
});

test('materialFromResponse: a chain whose leaf names nothing, or garbage, is refused', () => {
  assert.throws(() => materialFromResponse({ certChain: ['', '  '] }, ID, 'k', 'r', 'x:1'), /empty certificate chain/);
  assert.throws(
    () =>
      materialFromResponse(
        { certChain: ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'] },
        ID,
        'k',
        'r',
        'x:1',
      ),
    /cannot be parsed/,
  );
  assert.throws(
    () => materialFromResponse({ certChain: [pki.ca.rootCertPem] }, ID, 'k', 'r', 'x:1'),
    /signed a certificate for no SPIFFE ID/,
  );
});

test('startIstiodIdentity: the identity from POD_NAMESPACE and SERVICE_ACCOUNT', async () => {
  const identity = await startIstiodIdentity(
    { address: istiod.address, rootCertFile: rootFile, tokenFile },
    'cluster.local',
    {
      POD_NAMESPACE: 'egress',
      SERVICE_ACCOUNT: 'portcullis',
    },
  );
  try {
    assert.equal(identity.id, ID);
    assert.deepEqual(
      spiffeIdentities(new X509Certificate(identity.source.current().certChainPem).raw).map((i) => i.uri),
      [ID],
    );
  } finally {
    identity.close();
  }
});
