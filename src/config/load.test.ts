/** Loading: documents, lists, JSON, directories, ConfigMap mounts, duplicates, syntax errors, positions, reloads. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfigDir, loadConfigTexts } from './load.ts';
import type { LoadResult } from './load.ts';

const EXAMPLES = path.resolve(import.meta.dirname, '../../examples');

const SE = (name: string, host = 'example.com') => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${name}
  namespace: ns1
spec:
  hosts: [${host}]
  resolution: DNS
`;

function errors(r: LoadResult) {
  return r.diagnostics.filter((d) => d.severity === 'error');
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pcl-load-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('a multi-document file loads every document, each with its own start line', () => {
  const r = loadConfigTexts([{ path: 'a.yaml', text: `${SE('one')}---\n${SE('two', 'two.example.com')}` }]);
  assert.deepEqual(errors(r), []);
  assert.deepEqual(
    r.resources.map((x) => x.key),
    ['ServiceEntry/ns1/one', 'ServiceEntry/ns1/two'],
  );
  assert.deepEqual(
    r.resources.map((x) => x.source),
    [
      { file: 'a.yaml', line: 1, column: 1 },
      { file: 'a.yaml', line: 10, column: 1 },
    ],
  );
});

test('kind: List expands its items and keeps their real positions', () => {
  const text = `apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Namespace
    metadata:
      name: team-a
  - apiVersion: security.istio.io/v1
    kind: AuthorizationPolicy
    metadata:
      name: p
      namespace: team-a
    spec:
      action: ALOW
`;
  const r = loadConfigTexts([{ path: 'list.yaml', text }]);
  assert.deepEqual(
    r.resources.map((x) => x.key),
    ['Namespace//team-a'],
  );
  assert.deepEqual(r.resources[0].source, { file: 'list.yaml', line: 4, column: 5 });
  const [err] = errors(r);
  assert.equal(err.code, 'PCL_CONFIG_ENUM');
  assert.equal(err.path, 'spec.action');
  assert.equal(err.line, 14);
  assert.equal(err.column, 7);
  assert.equal(err.name, 'p');
});

test('JSON files are YAML too', () => {
  const json = JSON.stringify(
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'from-json', labels: { a: 'b' } } },
    null,
    2,
  );
  const r = loadConfigTexts([{ path: 'ns.json', text: json }]);
  assert.deepEqual(errors(r), []);
  assert.equal(r.resources[0].key, 'Namespace//from-json');
  assert.deepEqual(r.resources[0].metadata.labels, { a: 'b' });
  assert.deepEqual(r.resources[0].posOf(['metadata', 'labels', 'a']), { file: 'ns.json', line: 7, column: 7 });
});

test('namespaced kinds default to "default"; cluster-scoped kinds have no namespace', () => {
  const r = loadConfigTexts([
    {
      path: 'a.yaml',
      text: 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: p\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  namespace: ignored\n',
    },
  ]);
  assert.deepEqual(
    r.resources.map((x) => [x.key, x.metadata.namespace]),
    [
      ['AuthorizationPolicy/default/p', 'default'],
      ['Namespace//n', ''],
    ],
  );
  assert.deepEqual(r.resources[0].spec, {}, 'an AuthorizationPolicy without spec is spec: {}');
});

test('a directory is read recursively and in sorted order; dot-entries and other extensions are skipped', async (t) => {
  const dir = await tempDir(t);
  await mkdir(path.join(dir, 'b', 'deeper'), { recursive: true });
  await mkdir(path.join(dir, '.git'));
  await writeFile(path.join(dir, 'b', 'deeper', 'z.yml'), SE('z', 'z.example.com'));
  await writeFile(path.join(dir, 'a.yaml'), SE('a', 'a.example.com'));
  await writeFile(
    path.join(dir, 'c.json'),
    JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'c' } }),
  );
  await writeFile(path.join(dir, '.git', 'x.yaml'), SE('hidden'));
  await writeFile(path.join(dir, 'notes.txt'), 'not: yaml: at: all: [');
  await writeFile(path.join(dir, 'portcullis.yaml'), 'trustDomain: example.org\n');
  const r = await loadConfigDir(dir, { env: {} });
  assert.deepEqual(r.files, ['a.yaml', 'b/deeper/z.yml', 'c.json']);
  assert.deepEqual(
    r.resources.map((x) => x.key),
    ['ServiceEntry/ns1/a', 'ServiceEntry/ns1/z', 'Namespace//c'],
  );
  assert.equal(r.settings.trustDomain, 'example.org');
  assert.equal(r.settings.source, 'portcullis.yaml');
  assert.deepEqual(r.diagnostics, []);
});

test('--settings FILE wins over portcullis.yaml in the directory', async (t) => {
  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'portcullis.yaml'), 'trustDomain: from-dir\n');
  const other = path.join(dir, 'elsewhere.settings');
  await writeFile(other, 'trustDomain: from-flag\n');
  const r = await loadConfigDir(dir, { settingsFile: other, env: {} });
  assert.equal(r.settings.trustDomain, 'from-flag');
  assert.deepEqual(r.files, []);
});

test('a Kubernetes ConfigMap mount (..data symlink layout) loads each file exactly once', async (t) => {
  const dir = await tempDir(t);
  const stamp = '..2024_05_01_10_00_00.123456789';
  await mkdir(path.join(dir, stamp));
  await writeFile(path.join(dir, stamp, 'se.yaml'), SE('mounted'));
  await writeFile(path.join(dir, stamp, 'portcullis.yaml'), 'rootNamespace: mesh-root\n');
  await symlink(stamp, path.join(dir, '..data'));
  await symlink('..data/se.yaml', path.join(dir, 'se.yaml'));
  await symlink('..data/portcullis.yaml', path.join(dir, 'portcullis.yaml'));
  const r = await loadConfigDir(dir, { env: {} });
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(r.files, ['se.yaml']);
  assert.deepEqual(
    r.resources.map((x) => [x.key, x.source.file]),
    [['ServiceEntry/ns1/mounted', 'se.yaml']],
  );
  assert.equal(r.settings.rootNamespace, 'mesh-root');
});

test('a missing directory is a read failure, not a crash', async (t) => {
  const dir = await tempDir(t);
  const r = await loadConfigDir(path.join(dir, 'nope'), { env: {} });
  assert.equal(r.diagnostics[0].code, 'PCL_CONFIG_READ_FAILED');
  assert.deepEqual(r.resources, []);
});

test('other kinds are ignored with an info, never an error, and kept raw for the audit', () => {
  const text = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-ambient
spec:
  rules: [{name: x}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: vap
`;
  const r = loadConfigTexts([{ path: 'policies.yaml', text }]);
  assert.deepEqual(errors(r), []);
  assert.deepEqual(
    r.ignored.map((i) => [i.kind, i.name, i.source.line]),
    [
      ['ClusterPolicy', 'require-ambient', 1],
      ['ValidatingAdmissionPolicy', 'vap', 8],
    ],
  );
  assert.deepEqual((r.ignored[0].raw.spec as { rules: unknown[] }).rules, [{ name: 'x' }]);
  assert.deepEqual(
    r.diagnostics.map((d) => [d.severity, d.code, d.line]),
    [
      ['info', 'PCL_CONFIG_IGNORED_KIND', 1],
      ['info', 'PCL_CONFIG_IGNORED_KIND', 8],
    ],
  );
});

test('a duplicate kind/namespace/name is an error on the later document, which is left out', () => {
  const r = loadConfigTexts([
    { path: 'a.yaml', text: SE('dup', 'first.example.com') },
    { path: 'b.yaml', text: `# comment\n${SE('other', 'o.example.com')}---\n${SE('dup', 'second.example.com')}` },
  ]);
  assert.deepEqual(
    r.resources.map((x) => x.key),
    ['ServiceEntry/ns1/dup', 'ServiceEntry/ns1/other'],
  );
  assert.deepEqual((r.resources[0].spec as { hosts: string[] }).hosts, ['first.example.com']);
  const [dup] = errors(r);
  assert.equal(dup.code, 'PCL_CONFIG_DUPLICATE_RESOURCE');
  assert.deepEqual([dup.file, dup.line, dup.column], ['b.yaml', 11, 1]);
  assert.match(dup.message, /already defined at a\.yaml:1:1/);
});

test('a YAML syntax error names its place and stops neither the other documents nor the other files', () => {
  const broken = `${SE('before', 'b.example.com')}---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: [unclosed\n---\n${SE('after', 'c.example.com')}`;
  const r = loadConfigTexts([
    { path: 'broken.yaml', text: broken },
    { path: 'fine.yaml', text: SE('fine') },
  ]);
  assert.deepEqual(
    r.resources.map((x) => x.key),
    ['ServiceEntry/ns1/before', 'ServiceEntry/ns1/after', 'ServiceEntry/ns1/fine'],
  );
  const errs = errors(r);
  assert.equal(errs.length, 1);
  assert.equal(errs[0].code, 'PCL_CONFIG_YAML_SYNTAX');
  assert.equal(errs[0].file, 'broken.yaml');
  assert.ok(errs[0].line >= 14 && errs[0].line <= 15, `line ${errs[0].line}`);
});

test('posOf gives the exact line and column of a nested field and falls back to the nearest ancestor', () => {
  const text = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: p
  namespace: bookinfo
spec:
  rules:
    - from:
        - source:
            principals:
              - "cluster.local/ns/bookinfo/sa/a"
              - "cluster.local/ns/bookinfo/sa/b"
`;
  const r = loadConfigTexts([{ path: 'p.yaml', text }]);
  const p = r.resources[0];
  assert.deepEqual(p.posOf(['spec', 'rules', 0, 'from', 0, 'source', 'principals']), {
    file: 'p.yaml',
    line: 10,
    column: 13,
  });
  assert.deepEqual(p.posOf(['spec', 'rules', 0, 'from', 0, 'source', 'principals', 1]), {
    file: 'p.yaml',
    line: 12,
    column: 17,
  });
  assert.deepEqual(p.posOf(['spec', 'rules', 0, 'to', 0, 'operation']), { file: 'p.yaml', line: 8, column: 7 });
  assert.deepEqual(p.posOf([]), { file: 'p.yaml', line: 1, column: 1 });
});

test('apiVersions as users write them are accepted; a wrong one names the accepted versions', () => {
  const doc = (apiVersion: string, kind: string, name: string, spec: string) =>
    `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: ${name}\nspec:\n${spec}`;
  const se = '  hosts: [a.example.com]\n';
  const r = loadConfigTexts([
    {
      path: 'v.yaml',
      text: [
        doc('networking.istio.io/v1beta1', 'ServiceEntry', 'b', se),
        doc('networking.istio.io/v1alpha3', 'ServiceEntry', 'c', se),
        doc('security.istio.io/v1beta1', 'AuthorizationPolicy', 'd', '  action: DENY\n  rules: [{}]\n'),
        doc('gateway.networking.k8s.io/v1beta1', 'GatewayClass', 'e', '  controllerName: istio.io/mesh-controller\n'),
        doc('networking.istio.io/v1', 'EnvoyFilter', 'f', '  priority: 1\n'),
      ].join('---\n'),
    },
  ]);
  assert.deepEqual(
    r.resources.map((x) => `${x.apiVersion} ${x.kind}`),
    [
      'networking.istio.io/v1beta1 ServiceEntry',
      'networking.istio.io/v1alpha3 ServiceEntry',
      'security.istio.io/v1beta1 AuthorizationPolicy',
      'gateway.networking.k8s.io/v1beta1 GatewayClass',
    ],
  );
  const [bad] = errors(r);
  assert.equal(bad.code, 'PCL_CONFIG_API_VERSION');
  assert.equal(bad.path, 'apiVersion');
  assert.match(bad.message, /"networking\.istio\.io\/v1alpha3"/);
});

test('semantic rule errors leave the resource out like structural ones', () => {
  const text = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: both
spec:
  rules:
    - from:
        - source:
            serviceAccounts: ["bar/sa"]
            namespaces: ["bar"]
`;
  const r = loadConfigTexts([{ path: 'a.yaml', text }]);
  assert.deepEqual(r.resources, []);
  const errs = errors(r);
  assert.ok(errs.length >= 1);
  assert.ok(
    errs.every((e) => e.kind === 'AuthorizationPolicy' && e.name === 'both' && e.file === 'a.yaml' && e.line >= 6),
  );
});

test('reload: an invalid new version keeps the previous good one and says why', () => {
  const first = loadConfigTexts([
    { path: 'se.yaml', text: SE('keep') },
    { path: 'other.yaml', text: SE('gone', 'g.example.com') },
  ]);
  assert.equal(first.resources.length, 2);
  const broken = SE('keep').replace('resolution: DNS', 'resolution: DNZ');
  const second = loadConfigTexts([{ path: 'se.yaml', text: broken }], { previous: first });
  assert.deepEqual(
    second.resources.map((x) => x.key),
    ['ServiceEntry/ns1/keep'],
    "the deleted file's resource goes away",
  );
  assert.equal(second.resources[0], first.resources[0]);
  const kept = second.diagnostics.find((d) => d.code === 'PCL_CONFIG_KEPT_LAST_GOOD');
  assert.ok(kept);
  assert.equal(kept.severity, 'warning');
  assert.match(kept.message, /spec\.resolution: Unsupported value: "DNZ"/);
  assert.ok(second.diagnostics.some((d) => d.code === 'PCL_CONFIG_ENUM' && d.line === 8));

  // A syntax error hides which resources the file held: its previous resources stay too.
  const third = loadConfigTexts([{ path: 'se.yaml', text: 'apiVersion: [\n' }], { previous: second });
  assert.deepEqual(
    third.resources.map((x) => x.key),
    ['ServiceEntry/ns1/keep'],
  );
  assert.ok(
    third.diagnostics.some((d) => d.code === 'PCL_CONFIG_KEPT_LAST_GOOD' && /YAML syntax error/.test(d.message)),
  );

  // Once fixed, the new version applies and nothing is kept.
  const fourth = loadConfigTexts([{ path: 'se.yaml', text: SE('keep', 'new.example.com') }], { previous: third });
  assert.deepEqual((fourth.resources[0].spec as { hosts: string[] }).hosts, ['new.example.com']);
  assert.deepEqual(fourth.diagnostics, []);
});

test('resources are immutable snapshots', () => {
  const r = loadConfigTexts([{ path: 'a.yaml', text: SE('frozen') }]);
  const spec = r.resources[0].spec as { hosts: string[] };
  assert.throws(() => spec.hosts.push('x'));
  assert.ok(Object.isFrozen(r.resources[0]));
});

for (const seed of ['seed-000', 'seed-002']) {
  test(`examples/${seed} loads with zero errors or warnings`, async () => {
    const r = await loadConfigDir(path.join(EXAMPLES, seed), { env: {} });
    assert.deepEqual(
      r.diagnostics.filter((d) => d.severity !== 'info'),
      [],
    );
    assert.ok(r.resources.length >= 8, `${seed}: ${r.resources.length} resources`);
    assert.deepEqual(r.ignored, []);
  });
}

test('reload re-parses only changed files: unchanged files give the very same resource objects', () => {
  const a = { path: 'a.yaml', text: SE('a', 'a.example.com') };
  const first = loadConfigTexts([a, { path: 'b.yaml', text: SE('b', 'b.example.com') }]);
  const second = loadConfigTexts([a, { path: 'b.yaml', text: SE('b', 'changed.example.com') }], { previous: first });
  assert.equal(second.resources[0], first.resources[0]);
  assert.notEqual(second.resources[1], first.resources[1]);
  assert.deepEqual((second.resources[1].spec as { hosts: string[] }).hosts, ['changed.example.com']);
  // A cached file still takes part in duplicate detection across files.
  const third = loadConfigTexts([a, { path: 'c.yaml', text: SE('a', 'dup.example.com') }], { previous: second });
  assert.deepEqual(
    third.diagnostics.map((d) => [d.code, d.file]),
    [['PCL_CONFIG_DUPLICATE_RESOURCE', 'c.yaml']],
  );
});
