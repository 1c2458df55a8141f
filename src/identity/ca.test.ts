/** The development CA writes Istio's cacerts layout, loads any cacerts folder, and issues certificates that verify. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { once } from 'node:events';
import * as tls from 'node:tls';
import { PortcullisError } from '../errors/portcullis-error.ts';
import { splitCertificates } from './pem.ts';
import {
  initCa,
  issueClientCert,
  issueIntermediateCa,
  issueServerCert,
  issueWorkloadCert,
  loadCa,
  writeCacerts,
  writeIssued,
} from './ca.ts';

const HOUR = 3_600_000;
const EKU_SERVER = '1.3.6.1.5.5.7.3.1';
const EKU_CLIENT = '1.3.6.1.5.5.7.3.2';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pcl-ca-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function assertCode(code: string) {
  return (err: unknown) => {
    assert.ok(err instanceof PortcullisError, String(err));
    assert.equal(err.code, code, err.message);
    return true;
  };
}

test('initCa writes the cacerts layout with a P-256 root and private key files 0600', async (t) => {
  const dir = await tempDir(t);
  const ca = await initCa(join(dir, 'ca'), { trustDomain: 'cluster.local' });
  const files = ['root-cert.pem', 'ca-cert.pem', 'ca-key.pem', 'cert-chain.pem'];
  for (const f of files) assert.ok((await stat(join(dir, 'ca', f))).isFile(), f);
  assert.equal((await stat(join(dir, 'ca', 'ca-key.pem'))).mode & 0o777, 0o600);
  const root = new X509Certificate(await readFile(join(dir, 'ca', 'root-cert.pem')));
  assert.equal(root.ca, true);
  assert.ok(root.checkIssued(root) && root.verify(root.publicKey), 'self-signed root');
  assert.match(root.subject, /O=cluster\.local/);
  assert.equal(root.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const key = createPrivateKey(await readFile(join(dir, 'ca', 'ca-key.pem')));
  assert.ok(
    createPublicKey(key)
      .export({ type: 'spki', format: 'der' })
      .equals(root.publicKey.export({ type: 'spki', format: 'der' })),
  );
  assert.equal(ca.chainPems.length, 1);
});

test('initCa refuses to overwrite an existing CA unless force', async (t) => {
  const dir = await tempDir(t);
  const first = await initCa(dir, { trustDomain: 'cluster.local' });
  await assert.rejects(initCa(dir, { trustDomain: 'cluster.local' }), assertCode('PCL_IDENTITY_CA_EXISTS'));
  const second = await initCa(dir, { trustDomain: 'cluster.local', force: true });
  assert.notEqual(first.signingCertPem, second.signingCertPem);
  assert.equal((await stat(join(dir, 'ca-key.pem'))).mode & 0o777, 0o600);
});

test('issued workload certificates carry the SPIFFE SAN and Istio key usages, and verify to the root', async (t) => {
  const dir = await tempDir(t);
  const ca = await initCa(dir, { trustDomain: 'cluster.local' });
  const spiffe = 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage';
  const issued = await issueWorkloadCert(ca, { spiffe, ttl: 24 * HOUR });
  const chain = splitCertificates(issued.certChainPem).map((p) => new X509Certificate(p));
  assert.equal(chain.length, 2, 'leaf + CA');
  const [leaf] = chain;
  const root = new X509Certificate(issued.rootCertPem);
  assert.ok(leaf.checkIssued(root), 'issuer name matches the root subject');
  assert.ok(leaf.verify(root.publicKey), 'signature verifies with the root key');
  assert.equal(leaf.subjectAltName, `URI:${spiffe}`);
  assert.equal(leaf.ca, false);
  assert.deepEqual([...(leaf.keyUsage ?? [])].sort(), [EKU_SERVER, EKU_CLIENT]);
  const lifetime = Date.parse(leaf.validTo) - Date.parse(leaf.validFrom);
  assert.ok(Math.abs(lifetime - 24 * HOUR) <= 1000, `lifetime ${lifetime}`);
  assert.ok(leaf.checkPrivateKey(createPrivateKey(issued.keyPem)));
  await assert.rejects(
    issueWorkloadCert(ca, { spiffe: 'spiffe://cluster.local/ns/a', ttl: HOUR }),
    assertCode('PCL_IDENTITY_SPIFFE_INVALID'),
  );
});

test('client certificates have the given subject, no SPIFFE SAN and EKU clientAuth only', async (t) => {
  const dir = await tempDir(t);
  const ca = await initCa(dir, { trustDomain: 'cluster.local' });
  const issued = await issueClientCert(ca, { subject: 'CN=team-namespace.app1', ttl: HOUR });
  const leaf = new X509Certificate(issued.certPem);
  assert.equal(leaf.subject, 'CN=team-namespace.app1');
  assert.equal(leaf.subjectAltName, undefined);
  assert.deepEqual(leaf.keyUsage, [EKU_CLIENT]);
  assert.ok(leaf.verify(new X509Certificate(issued.rootCertPem).publicKey));
  await assert.rejects(issueClientCert(ca, { subject: '', ttl: HOUR }), assertCode('PCL_IDENTITY_CA_USAGE'));
});

test('server certificates carry DNS and IP SANs and work in a real TLS handshake', async (t) => {
  const dir = await tempDir(t);
  const ca = await initCa(dir, { trustDomain: 'cluster.local' });
  const server = await issueServerCert(ca, { dnsNames: ['httpbin.org'], ipAddresses: ['127.0.0.1'], ttl: HOUR });
  const leaf = new X509Certificate(server.certPem);
  assert.equal(leaf.subjectAltName, 'DNS:httpbin.org, IP Address:127.0.0.1');
  assert.equal(leaf.checkHost('httpbin.org'), 'httpbin.org');
  const srv = tls.createServer({ cert: server.certChainPem, key: server.keyPem }, (s) => s.end('hello'));
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(() => srv.close());
  const { port } = srv.address() as { port: number };
  const sock = tls.connect({ host: '127.0.0.1', port, servername: 'httpbin.org', ca: server.rootCertPem });
  await once(sock, 'secureConnect');
  assert.equal(sock.authorized, true);
  sock.destroy();
});

test('an intermediate under an external root loads as a cacerts folder and issues certificates that verify to the external root', async (t) => {
  const dir = await tempDir(t);
  const external = await initCa(join(dir, 'root'), { trustDomain: 'cluster.local' });
  const intermediate = await issueIntermediateCa(external, {
    commonName: 'cluster1 intermediate',
    organization: 'cluster.local',
    ttl: 48 * HOUR,
  });
  await writeCacerts(join(dir, 'cacerts'), intermediate);
  const ca = await loadCa(join(dir, 'cacerts'));
  assert.equal(ca.chainPems.length, 2, 'cert-chain.pem = intermediate + root');
  const issued = await issueWorkloadCert(ca, { spiffe: 'spiffe://cluster.local/ns/a/sa/b', ttl: HOUR });
  const chain = splitCertificates(issued.certChainPem).map((p) => new X509Certificate(p));
  assert.equal(chain.length, 3);
  const externalRoot = new X509Certificate(external.rootCertPem);
  assert.ok(chain[0].checkIssued(chain[1]) && chain[0].verify(chain[1].publicKey), 'leaf signed by the intermediate');
  assert.ok(
    chain[1].checkIssued(externalRoot) && chain[1].verify(externalRoot.publicKey),
    'intermediate signed by the root',
  );
  assert.equal(issued.rootCertPem, external.rootCertPem);

  // The decisive check: OpenSSL builds the path leaf → intermediate → external root during a handshake.
  const srv = tls.createServer({ cert: issued.certChainPem, key: issued.keyPem }, (s) => s.end());
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(() => srv.close());
  const { port } = srv.address() as { port: number };
  const sock = tls.connect({ host: '127.0.0.1', port, ca: external.rootCertPem, checkServerIdentity: () => undefined });
  await once(sock, 'secureConnect');
  assert.equal(sock.authorized, true, String(sock.authorizationError));
  sock.destroy();
});

test('loadCa explains what is missing or wrong', async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(loadCa(join(dir, 'nope')), (err: unknown) => {
    assertCode('PCL_IDENTITY_CA_NOT_FOUND')(err);
    assert.match((err as Error).message, /portcullis ca init --dir/);
    return true;
  });
  await initCa(join(dir, 'a'), { trustDomain: 'cluster.local' });
  await initCa(join(dir, 'b'), { trustDomain: 'cluster.local' });
  // Key of another CA: rejected up front, not at the first signature.
  await writeFile(join(dir, 'a', 'ca-key.pem'), await readFile(join(dir, 'b', 'ca-key.pem')));
  await assert.rejects(loadCa(join(dir, 'a')), (err: unknown) => {
    assertCode('PCL_IDENTITY_CA_INVALID')(err);
    assert.match((err as Error).message, /does not match/);
    return true;
  });
  // A root-cert.pem that does not anchor the chain.
  await initCa(join(dir, 'c'), { trustDomain: 'cluster.local' });
  await writeFile(join(dir, 'c', 'root-cert.pem'), await readFile(join(dir, 'b', 'root-cert.pem')));
  await assert.rejects(loadCa(join(dir, 'c')), assertCode('PCL_IDENTITY_CA_INVALID'));
});

test('writeIssued uses Istio names and keeps the key private', async (t) => {
  const dir = await tempDir(t);
  const ca = await initCa(join(dir, 'ca'), { trustDomain: 'cluster.local' });
  const issued = await issueWorkloadCert(ca, { spiffe: 'spiffe://cluster.local/ns/a/sa/b', ttl: HOUR });
  await writeIssued(join(dir, 'out'), issued);
  assert.equal(await readFile(join(dir, 'out', 'cert-chain.pem'), 'utf8'), issued.certChainPem);
  assert.equal(await readFile(join(dir, 'out', 'key.pem'), 'utf8'), issued.keyPem);
  assert.equal(await readFile(join(dir, 'out', 'root-cert.pem'), 'utf8'), issued.rootCertPem);
  assert.equal((await stat(join(dir, 'out', 'key.pem'))).mode & 0o777, 0o600);
});
