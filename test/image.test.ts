/**
 * The container image: `npm run image`'s build (buildah, FROM scratch, from what the machine has), then
 * `portcullis --version` and `portcullis check` inside it with `buildah run --isolation chroot`, as the non-root user.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildImage, IMAGE_UID } from '../scripts/build-image.ts';
import { EXAMPLES } from './support/cli.ts';

const HAS_BUILDAH = spawnSync('buildah', ['info'], { stdio: 'ignore' }).status === 0;
const SKIP = HAS_BUILDAH ? false : 'buildah not installed or not usable here: apt-get install buildah';

function buildah(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('buildah', args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the image builds FROM scratch, runs as non-root, and answers --version and check', {
  skip: SKIP,
  timeout: 180_000,
}, async (t) => {
  const tag = `localhost/portcullis-test:${process.pid}`;
  buildImage(tag);
  t.after(() => buildah('rmi', '--force', tag));
  const from = buildah('from', tag);
  assert.equal(from.code, 0, from.stderr);
  const container = from.stdout.trim().split('\n').at(-1)!;
  t.after(() => buildah('rm', container));

  const config = JSON.parse(buildah('inspect', '--type', 'container', container).stdout) as {
    OCIv1: { config: { User: string; Entrypoint: string[] } };
  };
  assert.equal(config.OCIv1.config.User, `${IMAGE_UID}:${IMAGE_UID}`);
  const entry = config.OCIv1.config.Entrypoint;

  const version = buildah('run', '--isolation', 'chroot', container, '--', ...entry, '--version');
  assert.equal(version.code, 0, version.stderr);
  assert.match(version.stdout, /^portcullis \d+\.\d+\.\d+\n$/);

  const check = buildah(
    'run',
    '--isolation',
    'chroot',
    '-v',
    `${join(EXAMPLES, 'seed-000')}:/config:ro`,
    container,
    '--',
    ...entry,
    'check',
    '--config',
    '/config',
    '--from',
    'bookinfo/bookinfo-productpage',
    '--to',
    'httpbin.org:443',
  );
  assert.equal(check.code, 0, check.stderr);
  assert.match(
    check.stdout,
    /^ALLOW {2}spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/bookinfo-productpage -> httpbin\.org:443/,
  );
  const denied = buildah(
    'run',
    '--isolation',
    'chroot',
    '-v',
    `${join(EXAMPLES, 'seed-000')}:/config:ro`,
    container,
    '--',
    ...entry,
    'check',
    '--config',
    '/config',
    '--from',
    'default/sleep',
    '--to',
    'httpbin.org:443',
  );
  assert.match(denied.stdout, /^DENY/);

  const who = buildah(
    'run',
    '--isolation',
    'chroot',
    container,
    '--',
    '/usr/local/bin/node',
    '-e',
    'console.log(process.getuid(), process.getgid())',
  );
  assert.equal(who.stdout.trim(), `${IMAGE_UID} ${IMAGE_UID}`);
  // Only production dependencies: the compiler and the test runner's helpers are not in the image.
  const ls = buildah(
    'run',
    '--isolation',
    'chroot',
    container,
    '--',
    '/usr/local/bin/node',
    '-e',
    'const fs=require("fs");console.log(fs.existsSync("/app/node_modules/typescript"),fs.existsSync("/app/node_modules/@grpc/grpc-js"),fs.existsSync("/app/src/cli/main.test.ts"))',
  );
  assert.equal(ls.stdout.trim(), 'false true false');
});
