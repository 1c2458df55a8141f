/** The first verdict of a CONNECT, memoized per snapshot: the same inputs share one verdict, anything else decides anew. */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfigTexts, type ConfigFile } from '../config/load.ts';
import { compileSnapshot } from '../mesh/compile.ts';
import type { Authority } from '../mesh/destination.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import { decideFirst, firstVerdict, MEMO_SIZE } from './decision-memo.ts';

const examples = join(import.meta.dirname, '..', '..', 'examples', 'seed-000');
const PRODUCTPAGE = 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage';
const SLEEP_DEFAULT = 'spiffe://cluster.local/ns/default/sa/sleep';

/** Seed 000 with `replace` swapping file texts (by name) and `settingsExtra` appended to portcullis.yaml. */
function snapshot(replace: Record<string, (text: string) => string> = {}, settingsExtra = ''): Snapshot {
  const files: ConfigFile[] = [];
  let settings = '';
  for (const f of readdirSync(examples).sort()) {
    const text = readFileSync(join(examples, f), 'utf8');
    if (f === 'portcullis.yaml') settings = text;
    else files.push({ path: f, text: replace[f]?.(text) ?? text });
  }
  const snap = compileSnapshot(
    loadConfigTexts(files, { settings: { path: 'portcullis.yaml', text: `${settings}\n${settingsExtra}` }, env: {} }),
  );
  assert.deepEqual(
    snap.diagnostics.filter((d) => d.severity === 'error'),
    [],
    'test configuration is valid',
  );
  return snap;
}

const httpbin: Authority = { host: 'httpbin.org', port: 443, isIp: false };

test('the same identity, source and authority on one snapshot share one verdict; it equals deciding afresh', () => {
  const snap = snapshot();
  const a = decideFirst(snap, httpbin, 'httpbin.org:443', PRODUCTPAGE, '10.0.0.7');
  const b = decideFirst(snap, httpbin, 'httpbin.org:443', PRODUCTPAGE, '10.0.0.7');
  assert.equal(a, b, 'one verdict object');
  assert.equal(a.kind, 'forward');
  assert.deepEqual(a, firstVerdict(snap, httpbin, PRODUCTPAGE, '10.0.0.7'));
  if (a.kind !== 'forward') return;
  assert.equal(a.authz.principal, PRODUCTPAGE, 'decided on the verified identity it was asked for');
  assert.equal(a.authz.sourceIp, '10.0.0.7');
  assert.equal(a.prep.plan.ok, true);
});

test('another identity, another source address or another authority is decided on its own', () => {
  const snap = snapshot();
  const allowed = decideFirst(snap, httpbin, 'httpbin.org:443', PRODUCTPAGE, '10.0.0.7');
  const denied = decideFirst(snap, httpbin, 'httpbin.org:443', SLEEP_DEFAULT, '10.0.0.7');
  assert.equal(allowed.kind, 'forward');
  assert.equal(denied.kind, 'refuse', 'a denied identity never gets the allowed verdict');
  if (denied.kind === 'refuse') assert.equal(denied.answer.code, 'PCL_AUTHZ_DENIED_EXPLICIT');
  const otherSource = decideFirst(snap, httpbin, 'httpbin.org:443', PRODUCTPAGE, '10.0.0.8');
  assert.notEqual(otherSource, allowed);
  assert.equal(otherSource.kind === 'forward' && otherSource.authz.sourceIp, '10.0.0.8');
  const otherPort = decideFirst(snap, { ...httpbin, port: 8443 }, 'httpbin.org:8443', PRODUCTPAGE, '10.0.0.7');
  assert.notEqual(otherPort, allowed);
  assert.equal(otherPort.kind, 'refuse', 'the ServiceEntry declares no port 8443');
  if (otherPort.kind === 'refuse') assert.equal(otherPort.answer.code, 'PCL_MESH_NO_SUCH_PORT');
});

test('a new snapshot decides afresh: a policy that now denies is never answered from the old memo', () => {
  const before = snapshot();
  assert.equal(decideFirst(before, httpbin, 'httpbin.org:443', PRODUCTPAGE, '10.0.0.7').kind, 'forward');
  // The same configuration with the ServiceEntry layer's ALLOW policies naming someone else: that layer now denies.
  const after = snapshot({
    'serviceentry-policies.yaml': (text) =>
      text
        .replaceAll('bookinfo-productpage', 'nobody-at-all')
        .replaceAll('namespaces: ["bookinfo"]', 'namespaces: ["nobody"]'),
  });
  const verdict = decideFirst(after, httpbin, 'httpbin.org:443', PRODUCTPAGE, '10.0.0.7');
  assert.equal(verdict.kind, 'refuse');
  assert.deepEqual(verdict, firstVerdict(after, httpbin, PRODUCTPAGE, '10.0.0.7'));
});

test('the memo is bounded: past its size it starts again, and every verdict is still the one deciding gives', () => {
  const snap = snapshot();
  const first = decideFirst(snap, httpbin, 'httpbin.org:443', PRODUCTPAGE, '10.0.0.1');
  for (let i = 0; i < MEMO_SIZE + 10; i++) {
    const source = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const v = decideFirst(snap, httpbin, 'httpbin.org:443', PRODUCTPAGE, source);
    assert.equal(v.kind === 'forward' && v.authz.sourceIp, source);
  }
  const again = decideFirst(snap, httpbin, 'httpbin.org:443', PRODUCTPAGE, '10.0.0.1');
  assert.notEqual(again, first, 'the first entry was dropped when the memo filled');
  assert.deepEqual(again, first);
});
