/**
 * `portcullis agent` as a program: strict flags (exit 2 with a clear message), and the real entry point as a child
 * process issuing certificates from a `--ca-dir`, one workload or several (`--workloads`), against a fake gateway.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connectTo, echoThrough, httpConnect } from './support/agent-clients.ts';
import { TEST_MANIFESTS, TEST_SETTINGS } from './support/agent-config.ts';
import { createTestPki, startFakeGateway, type FakeGateway, type TestPki } from './support/fake-gateway.ts';
import { REPO, runCli } from './support/cli.ts';

let pki: TestPki;
let gw: FakeGateway;
let cfg: string;
const children: ChildProcess[] = [];

before(async () => {
  pki = await createTestPki();
  gw = await startFakeGateway(pki);
  cfg = mkdtempSync(join(tmpdir(), 'pcl-agent-cfg-'));
  writeFileSync(join(cfg, 'mesh.yaml'), TEST_MANIFESTS);
  writeFileSync(join(cfg, 'portcullis.yaml'), TEST_SETTINGS);
});

after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await gw.close();
  await pki.cleanup();
  rmSync(cfg, { recursive: true, force: true });
});

test('bad flags and values exit 2 with a message naming the problem', async () => {
  const base = ['agent', '--config', cfg, '--ca-dir', pki.ca.dir];
  const cases: [string[], RegExp][] = [
    [['agent', '--config', cfg, '--ca-dir', pki.ca.dir, '--spiffe', 'a/b'], /--gateway is required/],
    [[...base, '--gateway', 'gw', '--spiffe', 'a/b'], /--gateway .*(missing port|expected HOST:PORT)/],
    [[...base, '--gateway', '127.0.0.1:70000', '--spiffe', 'a/b'], /port 70000 is out of range/],
    [[...base, '--gateway', '127.0.0.1:15008'], /--ca-dir needs --spiffe or --workloads/],
    [[...base, '--gateway', '127.0.0.1:15008', '--spiffe', 'a/b', '--cert', 'c.pem'], /either --ca-dir or --cert/],
    [['agent', '--config', cfg, '--gateway', '127.0.0.1:15008'], /an identity is required/],
    [
      [...base, '--gateway', '127.0.0.1:15008', '--spiffe', 'a/b', '--listen', 'nowhere'],
      /--listen "nowhere" is not a listen address/,
    ],
    [
      [...base, '--gateway', '127.0.0.1:15008', '--spiffe', 'a/b', '--forward', '127.0.0.1:5432'],
      /--forward .*expected LOCAL_ADDR=HOST:PORT/,
    ],
    [
      [...base, '--gateway', '127.0.0.1:15008', '--spiffe', 'a/b', '--forward', '127.0.0.1:5432=db:0'],
      /port 0 is out of range/,
    ],
    [[...base, '--gateway', '127.0.0.1:15008', '--spiffe', 'not/an/id'], /--spiffe "not\/an\/id"/],
    [
      [...base, '--gateway', '127.0.0.1:15008', '--spiffe', 'a/b', '--bogus'],
      /error\[PCL_CLI_USAGE\]: unknown flag --bogus/,
    ],
    [
      [
        'agent',
        '--config',
        join(cfg, 'missing'),
        '--ca-dir',
        pki.ca.dir,
        '--gateway',
        '127.0.0.1:15008',
        '--spiffe',
        'a/b',
      ],
      /no such file or folder/,
    ],
  ];
  for (const [argv, message] of cases) {
    const r = await runCli(argv);
    assert.equal(r.code, 2, `${argv.join(' ')}\n${r.stderr}`);
    assert.match(r.stderr, message, argv.join(' '));
  }
  const wl = join(cfg, '..', `bad-workloads-${process.pid}.yaml`);
  writeFileSync(wl, '- {namespace: bookinfo, serviceAccount: x, listen: 127.0.0.1:0, port: 3}\n');
  try {
    const r = await runCli([...base, '--gateway', '127.0.0.1:15008', '--workloads', wl]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /entry 1: unknown field "port"/);
  } finally {
    rmSync(wl, { force: true });
  }
});

/** Start the real program; resolves with the child and the `listening on` lines once all `expected` are printed. */
function startAgentProcess(
  args: string[],
  expected: number,
): Promise<{ child: ChildProcess; lines: string[]; stderr: () => string; stdout: () => string }> {
  const child = spawn(process.execPath, [join(REPO, 'src', 'cli', 'main.ts'), 'agent', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    // The ready lines are human lines, on stderr; stdout carries only the JSON log.
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const lines = err.split('\n').filter((l) => l.includes(' listening on '));
      if (lines.length >= expected) resolve({ child, lines, stderr: () => err, stdout: () => out });
    });
    child.once('exit', (code) => reject(new Error(`agent exited (${code}) before listening:\n${err}`)));
  });
}

function portOf(line: string): number {
  const m = / listening on 127\.0\.0\.1:(\d+)/.exec(line);
  assert.ok(m, line);
  return Number(m[1]);
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

test('--ca-dir --spiffe: one workload, its proxy port and a forward, over HBONE with its own identity', async () => {
  const { child, lines, stdout } = await startAgentProcess(
    [
      '--gateway',
      `127.0.0.1:${gw.port}`,
      '--config',
      cfg,
      '--ca-dir',
      pki.ca.dir,
      '--spiffe',
      'bookinfo/bookinfo-productpage',
      '--listen',
      '127.0.0.1:0',
      '--forward',
      '127.0.0.1:0=db.partner.example:5432',
    ],
    2,
  );
  assert.match(
    lines[0],
    /^portcullis agent: spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/bookinfo-productpage listening on 127\.0\.0\.1:\d+$/,
  );
  assert.match(lines[1], /listening on 127\.0\.0\.1:\d+ \(forwarding to db\.partner\.example:5432\)$/);
  const r = await httpConnect(portOf(lines[0]), 'httpbin.org:443');
  assert.equal(r.head.status, 200);
  assert.equal(await echoThrough(r.socket, 'via the cli'), 'via the cli');
  r.socket.destroy();
  assert.equal(gw.seen[gw.seen.length - 1].peer, 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage');
  const f = await connectTo(portOf(lines[1]));
  assert.equal(await echoThrough(f, 'forwarded'), 'forwarded');
  f.destroy();
  assert.equal(gw.seen[gw.seen.length - 1].authority, 'db.partner.example:5432');
  assert.equal(await stop(child), 0);
  // stdout is the JSON log only, in the format serve's access log uses: ISO time, level names.
  const logLines = stdout()
    .split('\n')
    .filter((l) => l !== '');
  assert.ok(logLines.length >= 2, stdout());
  for (const line of logLines) {
    const entry = JSON.parse(line) as { level: unknown; time: unknown };
    assert.ok(['trace', 'debug', 'info', 'warn', 'error', 'fatal'].includes(entry.level as string), line);
    assert.match(String(entry.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, line);
  }
});

test('--workloads: each entry its own identity, port and HTTP/2 session', async () => {
  const wl = join(cfg, '..', `workloads-${process.pid}.yaml`);
  writeFileSync(
    wl,
    [
      '- {namespace: team-namespace, serviceAccount: app1, listen: "127.0.0.1:0"}',
      '- {namespace: team-namespace, serviceAccount: app2, listen: "127.0.0.1:0"}',
      '',
    ].join('\n'),
  );
  try {
    const { child, lines } = await startAgentProcess(
      ['--gateway', `127.0.0.1:${gw.port}`, '--config', cfg, '--ca-dir', pki.ca.dir, '--workloads', wl],
      2,
    );
    const seen: { peer: string; sessionId: number }[] = [];
    for (const line of lines) {
      const r = await httpConnect(portOf(line), 'httpbin.org:443');
      assert.equal(r.head.status, 200);
      r.socket.destroy();
      seen.push(gw.seen[gw.seen.length - 1]);
    }
    assert.deepEqual(
      seen.map((s) => s.peer),
      ['spiffe://cluster.local/ns/team-namespace/sa/app1', 'spiffe://cluster.local/ns/team-namespace/sa/app2'],
    );
    assert.notEqual(seen[0].sessionId, seen[1].sessionId);
    assert.equal(await stop(child), 0);
  } finally {
    rmSync(wl, { force: true });
  }
});
