/**
 * `npm run image`: build a small `FROM scratch` image with buildah, from what this machine already has (no registry
 * for base images): the pinned Node binary from node_modules (debug symbols stripped) with the shared libraries it
 * links, the product sources and proto, and only the production dependencies. Runs as the non-root user 65532.
 *
 *   node scripts/build-image.ts [--tag localhost/portcullis:<version>] [--stage-only DIR]
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';

const REPO = join(import.meta.dirname, '..');
const NODE_BIN = join(REPO, 'node_modules', 'node', 'bin', 'node');
/** The non-root user of the image (distroless's `nonroot`). */
export const IMAGE_UID = 65532;

function run(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? REPO, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

/** The shared libraries (and the loader) `binary` needs, as absolute host paths. */
function sharedLibraries(binary: string): string[] {
  const out = run('ldd', [binary]);
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]);
  }
  return libs;
}

/** Copy `src` to `root` + `src`, following symlinks so the image holds real files. */
function copyInto(root: string, src: string, dest = src): void {
  const target = join(root, dest);
  mkdirSync(dirname(target), { recursive: true });
  cpSync(realpathSync(src), target, { recursive: true, dereference: true });
}

/** Lay out the image's file system under `stage/rootfs` and write the Containerfile's context. */
export function stageImage(stage: string): { rootfs: string; version: string } {
  if (!existsSync(NODE_BIN)) throw new Error(`${NODE_BIN} is missing: run npm ci first`);
  const rootfs = join(stage, 'rootfs');
  mkdirSync(rootfs, { recursive: true });
  const nodeTarget = join(rootfs, 'usr', 'local', 'bin', 'node');
  copyInto(rootfs, NODE_BIN, '/usr/local/bin/node');
  // The npm package ships Node with its debug information (about a third of the file); the image does not need it.
  spawnSync('strip', ['--strip-debug', nodeTarget]);
  for (const lib of sharedLibraries(NODE_BIN)) copyInto(rootfs, lib);

  const app = join(rootfs, 'app');
  for (const entry of ['package.json', 'LICENSE', 'bin', 'proto', 'src'])
    copyInto(rootfs, join(REPO, entry), join('/app', entry));
  // Tests stay out of the image.
  for (const file of run('find', [join(app, 'src'), '-name', '*.test.ts'])
    .split('\n')
    .filter(Boolean))
    rmSync(file);
  // Only the production dependencies, as npm resolves them.
  const prod = run('npm', ['ls', '--omit=dev', '--all', '--parseable'])
    .split('\n')
    .filter((p) => p.startsWith(join(REPO, 'node_modules') + '/'));
  for (const dir of prod) copyInto(rootfs, dir, join('/app', relative(REPO, dir)));
  // The one-file pack of `yaml` that `npm ci` made (scripts/pack-yaml.mjs): the image starts as fast as the clone.
  const packs = join(REPO, 'node_modules', '.cache', 'portcullis');
  if (existsSync(packs)) copyInto(rootfs, packs, join('/app', relative(REPO, packs)));

  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  writeFileSync(
    join(rootfs, 'etc', 'passwd'),
    `root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${IMAGE_UID}:${IMAGE_UID}:nonroot:/home/nonroot:/sbin/nologin\n`,
  );
  writeFileSync(join(rootfs, 'etc', 'group'), `root:x:0:\nnonroot:x:${IMAGE_UID}:\n`);
  mkdirSync(join(rootfs, 'tmp'), { recursive: true });
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  mkdirSync(join(rootfs, 'home', 'nonroot'), { recursive: true });
  cpSync(join(REPO, 'Containerfile'), join(stage, 'Containerfile'));
  const version = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
  return { rootfs, version };
}

/** Build the image with buildah; returns its id. */
export function buildImage(tag: string): string {
  const stage = mkdtempSync(join(tmpdir(), 'portcullis-image-'));
  try {
    stageImage(stage);
    run('buildah', ['bud', '--isolation', 'chroot', '--quiet', '-f', join(stage, 'Containerfile'), '-t', tag, stage]);
    return run('buildah', ['images', '--quiet', '--no-trunc', tag]).trim().split('\n')[0];
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { tag: { type: 'string' }, 'stage-only': { type: 'string' } } });
  if (values['stage-only'] !== undefined) {
    const { rootfs } = stageImage(values['stage-only']);
    process.stdout.write(`staged ${rootfs}\n`);
  } else {
    const version = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
    const tag = values.tag ?? `localhost/portcullis:${version}`;
    const id = buildImage(tag);
    process.stdout.write(
      `built ${tag} (${id})\npush it: buildah push ${tag} docker://<registry>/portcullis:${version}\n`,
    );
  }
}
