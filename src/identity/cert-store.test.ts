/** File certificate sources reload without a restart and keep the old identity when a rotation is broken. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCa, issueWorkloadCert, writeIssued } from './ca.ts';
import { FileCertificateSource, StaticCertificateSource, type TlsMaterial } from './cert-store.ts';
import { PortcullisError } from '../errors/portcullis-error.ts';

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'pcl-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ca = await initCa(join(dir, 'ca'), { trustDomain: 'cluster.local' });
  const issue = (sa: string) =>
    issueWorkloadCert(ca, { spiffe: `spiffe://cluster.local/ns/a/sa/${sa}`, ttl: 3_600_000 });
  return { dir, issue };
}

test('a file source picks up a rewritten certificate through the folder watch', async (t) => {
  const { dir, issue } = await setup(t);
  const out = join(dir, 'out');
  const first = await issue('one');
  await writeIssued(out, first);
  const source = await FileCertificateSource.fromDir(out, { debounceMs: 20 }).start();
  t.after(() => source.close());
  assert.equal(source.current().certChainPem, first.certChainPem);

  const second = await issue('two');
  const updated = once(source, 'update') as Promise<[TlsMaterial]>;
  await writeIssued(out, second);
  const [material] = await updated;
  assert.equal(material.certChainPem, second.certChainPem);
  assert.equal(source.current().keyPem, second.keyPem);
});

test('reload() reports changes and keeps the old material when the new files do not fit', async (t) => {
  const { dir, issue } = await setup(t);
  const out = join(dir, 'out');
  const first = await issue('one');
  await writeIssued(out, first);
  const source = await FileCertificateSource.fromDir(out, { watch: false }).start();
  assert.equal(await source.reload(), false, 'unchanged files are not an update');

  const errors: unknown[] = [];
  source.on('error', (e) => errors.push(e));
  const other = await issue('other');
  await writeFile(join(out, 'key.pem'), other.keyPem); // key of another certificate
  assert.equal(await source.reload(), false);
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof PortcullisError && errors[0].code === 'PCL_IDENTITY_CERT_LOAD_FAILED');
  assert.equal(source.current().keyPem, first.keyPem, 'old identity still served');

  await writeIssued(out, other);
  assert.equal(await source.reload(), true);
  assert.equal(source.current().certChainPem, other.certChainPem);
});

test('start() fails clearly when the files are missing', async (t) => {
  const { dir } = await setup(t);
  await assert.rejects(
    FileCertificateSource.fromDir(join(dir, 'missing'), { watch: false }).start(),
    (err: unknown) => {
      assert.ok(err instanceof PortcullisError);
      assert.equal(err.code, 'PCL_IDENTITY_CERT_LOAD_FAILED');
      return true;
    },
  );
});

test('a static source validates and announces updates', async (t) => {
  const { issue } = await setup(t);
  const a = await issue('a');
  const b = await issue('b');
  const source = new StaticCertificateSource(a);
  const seen: TlsMaterial[] = [];
  source.on('update', (m) => seen.push(m));
  source.update(b);
  assert.equal(seen.length, 1);
  assert.equal(source.current().certChainPem, b.certChainPem);
  assert.throws(() => source.update({ ...a, keyPem: b.keyPem }));
  assert.equal(source.current().certChainPem, b.certChainPem);
});
