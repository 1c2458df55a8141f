/**
 * The quickstart end to end: start it as `npm start` does, run the curl commands its guide prints (taken from its
 * own output, so the guide cannot drift from what works) and the curl commands of README.md's walkthrough (read from
 * README.md), and check every result each states; then stop `npm start` by several signals and check that every
 * process it started (the quickstart, serve and its workers, the agent) is gone.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO } from './support/cli.ts';
import { waitForLogLine } from './support/log-file.ts';
import { missingLines, readmeCommands } from './support/readme-commands.ts';

function sh(cmd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', `${cmd} 2>&1`], { timeout: 20_000 }, (err, stdout) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout });
    });
  });
}

test('npm start: every command of the printed guide gives the result the guide states', {
  timeout: 120_000,
}, async (t) => {
  if (spawnSync('curl', ['--version']).status !== 0) {
    t.skip('curl not installed: apt-get install curl');
    return;
  }
  if (process.getuid?.() !== 0) {
    t.skip('the quickstart binds its stand-in hosts on port 443 of loopback addresses: run as root (CI does)');
    return;
  }
  const state = mkdtempSync(join(tmpdir(), 'portcullis-quickstart-'));
  const child = spawn(process.execPath, [join(REPO, 'scripts', 'quickstart.ts')], {
    env: { ...process.env, PORTCULLIS_QUICKSTART_DIR: state },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  t.after(async () => {
    if (child.exitCode === null) {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(state, { recursive: true, force: true });
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`quickstart not ready:\n${output}`)), 60_000);
    child.stdout.on('data', () => {
      if (output.includes('QUICKSTART READY')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`quickstart exited with ${code}:\n${output}`)));
  });

  // The guide's numbered curl commands, in order, exactly as printed.
  const commands = [...output.matchAll(/^\s+(?:\d+\.\s+)?(curl .*?)(?:\s+#.*)?$/gm)].map((m) => m[1].trim());
  assert.equal(commands.length, 8, `expected 8 curl commands in the guide:\n${output}`);
  const run = await Promise.all(commands.map((c) => sh(`${c} --max-time 10 -sS`)));

  // Every stated result; a failure shows each command's output and the quickstart's, so a flake can be read.
  try {
    // 1. bookinfo-productpage reaches httpbin.org through both layers (a real TLS handshake with httpbin.org's name).
    assert.equal(run[0].code, 0, run[0].out);
    assert.equal(JSON.parse(run[0].out).url, 'https://httpbin.org/get');
    // 2. bookinfo-reviews: refused at the ServiceEntry layer.
    assert.match(run[1].out, /^HTTP\/1\.1 403 Forbidden/m);
    assert.match(run[1].out, /^x-portcullis-reason: allow policies exist, but none allowed/m);
    // 3. default/sleep: refused by the DENY policy, which the answer names.
    assert.match(run[2].out, /^HTTP\/1\.1 403 Forbidden/m);
    assert.match(run[2].out, /^x-portcullis-reason: explicitly denied by: istio-system\/deny-default-egress/m);
    assert.match(run[2].out, /^x-portcullis-code: PCL_AUTHZ_DENIED_EXPLICIT/m);
    // 4. app1 to httpbin.org: default-deny at the Gateway layer.
    assert.match(run[3].out, /^HTTP\/1\.1 403 Forbidden/m);
    assert.match(run[3].out, /^x-portcullis-code: PCL_AUTHZ_DENIED_NOT_ALLOWED/m);
    // 5. an undeclared destination: egressPolicies.
    assert.match(run[4].out, /^HTTP\/1\.1 403 Forbidden/m);
    assert.match(run[4].out, /^x-portcullis-code: PCL_EGRESS_/m);
    // 6-8. seed 002: each app's own external identity; a forged %%source.principal%% changes nothing.
    assert.deepEqual(JSON.parse(run[5].out), { subject: 'CN=team-namespace.app1' });
    assert.deepEqual(JSON.parse(run[6].out), { subject: 'CN=team-namespace.app2' });
    assert.deepEqual(JSON.parse(run[7].out), { subject: 'CN=team-namespace.app2' });
  } catch (err) {
    const detail = commands.map((c, i) => `$ ${c}\n${run[i].out}`).join('\n');
    throw new Error(`${(err as Error).message}\n--- commands ---\n${detail}\n--- quickstart ---\n${output}`, {
      cause: err,
    });
  }

  // README.md's own curl commands (step 4), as written; the README names the default state folder.
  const readme = readmeCommands(['curl']);
  assert.ok(readme.length >= 4, `README.md shows ${readme.length} curl commands`);
  for (const c of readme) {
    const r = await sh(`cd ${REPO} && ${c.command.replaceAll('.portcullis/quickstart', state)} --max-time 10 -sS`);
    assert.ok(c.expected.length > 0, `${c.where}: ${c.command} promises no output`);
    assert.deepEqual(
      missingLines(r.out, c.expected),
      [],
      `${c.where}: ${c.command}\n${r.out}\n--- quickstart ---\n${output}`,
    );
  }

  // The decisions are in the access log, with the deciding policy.
  // Each worker writes its lines asynchronously: wait for them rather than reading the file once.
  const logFile = join(state, 'access.log');
  const denied = await waitForLogLine(logFile, (l) => l.code === 'PCL_AUTHZ_DENIED_EXPLICIT', 'the DENY policy line');
  assert.deepEqual((denied.policies as { policy: string | null }[])[0].policy, 'istio-system/deny-default-egress');
  const app1 = await waitForLogLine(
    logFile,
    (l) => l.type === 'request' && l.external_identity === 'CN=team-namespace.app1',
    'app1 request line',
  );
  assert.equal(app1.source_principal, 'spiffe://cluster.local/ns/team-namespace/sa/app1');

  // Ctrl-C stops everything.
  child.kill('SIGINT');
  const code = await new Promise((r) => child.once('exit', r));
  assert.equal(code, 0);
});

/** Every process below `root` now, from /proc (so they can be checked after they have been re-parented). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
  }
  const out: number[] = [];
  const walk = (pid: number): void => {
    for (const c of children.get(pid) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

function alive(pid: number): boolean {
  try {
    // A zombie still has a /proc entry: only a running process counts.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** How `npm start` is stopped: the signal, and whether it goes to npm or to the quickstart process below it. */
const STOPS: { signal: NodeJS.Signals; to: 'npm' | 'quickstart' }[] = [
  { signal: 'SIGTERM', to: 'npm' },
  { signal: 'SIGHUP', to: 'npm' },
  { signal: 'SIGKILL', to: 'quickstart' },
];

for (const stop of STOPS) {
  test(`npm start stopped by ${stop.signal} to ${stop.to}: every process it started stops`, {
    timeout: 150_000,
  }, async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('the quickstart binds its stand-in hosts on port 443 of loopback addresses: run as root (CI does)');
      return;
    }
    if (spawnSync('npm', ['--version']).status !== 0) {
      t.skip('npm not on PATH');
      return;
    }
    const state = mkdtempSync(join(tmpdir(), 'portcullis-quickstart-'));
    const npm = spawn('npm', ['start'], {
      cwd: REPO,
      env: { ...process.env, PORTCULLIS_QUICKSTART_DIR: state },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    npm.stdout.on('data', (d) => (output += d));
    npm.stderr.on('data', (d) => (output += d));
    let tree: number[] = [];
    t.after(() => {
      for (const pid of tree) if (alive(pid)) process.kill(pid, 'SIGKILL');
      rmSync(state, { recursive: true, force: true });
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`quickstart not ready:\n${output}`)), 90_000);
      npm.stdout.on('data', () => {
        if (output.includes('QUICKSTART READY')) {
          clearTimeout(timer);
          resolve();
        }
      });
      npm.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
    });
    tree = descendants(npm.pid!);
    const commands = tree.map((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      } catch {
        return '';
      }
    });
    // The quickstart, serve (a primary and its workers) and the agent.
    const quickstart = tree[commands.findIndex((c) => c.includes('scripts/quickstart.ts'))];
    assert.ok(quickstart, commands.join('\n'));
    assert.ok(commands.filter((c) => c.includes(' serve ')).length >= 1, commands.join('\n'));
    assert.ok(
      commands.some((c) => c.includes(' agent ')),
      commands.join('\n'),
    );
    assert.ok(tree.length >= 5, commands.join('\n'));

    process.kill(stop.to === 'npm' ? npm.pid! : quickstart, stop.signal);
    const deadline = Date.now() + 60_000;
    while (tree.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    const left = tree.filter(alive).map((pid) => `${pid}: ${commands[tree.indexOf(pid)]}`);
    assert.deepEqual(
      left,
      [],
      `still running after ${stop.signal} to ${stop.to}:\n${left.join('\n')}\n--- output ---\n${output}`,
    );
  });
}

test('npm start with one of its ports busy: says which address and what to do, exits 1, starts nothing', {
  timeout: 60_000,
}, async (t) => {
  const holder = createServer();
  const held = await new Promise<boolean>((resolve) => {
    holder.once('error', () => resolve(false));
    holder.listen(15053, '127.0.0.1', () => resolve(true));
  });
  if (!held) {
    t.skip('127.0.0.1:15053 is already taken here (a quickstart running?)');
    return;
  }
  const state = mkdtempSync(join(tmpdir(), 'portcullis-quickstart-'));
  t.after(() => {
    holder.close();
    rmSync(state, { recursive: true, force: true });
  });
  const r = spawnSync(process.execPath, [join(REPO, 'scripts', 'quickstart.ts')], {
    env: { ...process.env, PORTCULLIS_QUICKSTART_DIR: state },
    encoding: 'utf8',
    timeout: 50_000,
  });
  assert.equal(r.status, 1, r.stderr);
  assert.match(
    r.stderr,
    /error\[PCL_CLI_LISTEN_FAILED\]: cannot listen on 127\.0\.0\.1:15053: the address is already in use \(the DNS server only Portcullis asks\)\n {2}--> 127\.0\.0\.1:15053\n {2}hint: another quickstart may still be running/,
  );
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.deepEqual(readdirSync(state), [], 'nothing was started or written');
});
