/**
 * `npm start`: the quickstart. On loopback only, in one process tree: a development CA (made on first run in
 * .portcullis/quickstart, which git ignores), `portcullis serve` with examples/quickstart (both seeds), an agent
 * standing for the seeds' workloads, and stand-ins for httpbin.org and my-nginx.foo.bar reached through a DNS server
 * only Portcullis uses. Prints the guide, then runs until Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PARENT_PID_ENV } from '../src/cli/parent-watch.ts';
import { listenFailure, renderError } from '../src/cli/render-error.ts';
import { renderDiagnostic } from '../src/cli/render-diagnostic.ts';
import { startDnsServer } from '../src/devtools/dns-server.ts';
import { startHttpbin, startSubjectServer, type StandIn } from '../src/devtools/stand-ins.ts';
import { initCa, issueClientCert, issueServerCert, loadCa } from '../src/identity/ca.ts';

const REPO = join(import.meta.dirname, '..');
const STATE = process.env.PORTCULLIS_QUICKSTART_DIR ?? join(REPO, '.portcullis', 'quickstart');
const NODE = process.execPath;
const MAIN = join(REPO, 'src', 'cli', 'main.ts');

export const PORTS = { gateway: 15008, admin: 15000, dns: 15053 } as const;
export const HOSTS = { httpbin: '127.0.0.10', nginx: '127.0.0.11' } as const;
export const WORKLOADS = [
  { namespace: 'bookinfo', serviceAccount: 'bookinfo-productpage', port: 15001 },
  { namespace: 'bookinfo', serviceAccount: 'bookinfo-reviews', port: 15002 },
  { namespace: 'default', serviceAccount: 'sleep', port: 15003 },
  { namespace: 'team-namespace', serviceAccount: 'app1', port: 15011 },
  { namespace: 'team-namespace', serviceAccount: 'app2', port: 15012 },
] as const;

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** Every address the quickstart listens on, with what it is for (named in the message when one is busy). */
function addresses(): { host: string; port: number; what: string }[] {
  return [
    { host: '127.0.0.1', port: PORTS.gateway, what: "the gateway's HBONE port" },
    { host: '127.0.0.1', port: PORTS.admin, what: "the gateway's admin port" },
    { host: '127.0.0.1', port: PORTS.dns, what: 'the DNS server only Portcullis asks' },
    ...WORKLOADS.map((w) => ({
      host: '127.0.0.1',
      port: w.port,
      what: `the proxy port of ${w.namespace}/${w.serviceAccount}`,
    })),
    { host: HOSTS.httpbin, port: 443, what: 'the httpbin.org stand-in' },
    { host: HOSTS.nginx, port: 443, what: 'the my-nginx.foo.bar stand-in' },
  ];
}

/** Bind each address once and let go, so a busy one is reported by name before anything starts. */
async function checkAddresses(): Promise<string[]> {
  const problems: string[] = [];
  for (const a of addresses()) {
    const err = await new Promise<unknown>((resolve) => {
      const server = createServer();
      server.once('error', resolve);
      server.listen({ host: a.host, port: a.port, exclusive: true }, () => server.close(() => resolve(null)));
    });
    if (err === null) continue;
    const failure = listenFailure(err);
    if (!failure) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const hint =
      code === 'EADDRINUSE'
        ? `another quickstart may still be running: stop it (Ctrl-C in its terminal, or kill the pid that \`ss -ltnp 'sport = :${a.port}'\` shows), then run npm start again`
        : code === 'EACCES'
          ? 'binding port 443 needs privilege: run as root, or allow it with: sudo sysctl net.ipv4.ip_unprivileged_port_start=443'
          : (failure.hint ?? '');
    problems.push(
      renderDiagnostic('error', failure.code, `${failure.message} (${a.what})`, `${a.host}:${a.port}`, hint),
    );
  }
  return problems;
}

/**
 * The npm processes above us (\`npm start\` runs \`sh -c "node scripts/quickstart.ts"\`). npm passes a SIGTERM on to
 * that shell only, which dies without telling us; so we watch our ancestors and stop when one is gone.
 */
function ancestors(): number[] {
  const out: number[] = [];
  let pid = process.ppid;
  for (let i = 0; i < 3 && pid > 1; i++) {
    out.push(pid);
    let cmd = '';
    let stat = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      break;
    }
    if (/(^|\/|\0)npm(\0|$| )|npm-cli\.js|npm start/.test(cmd) || process.env.npm_lifecycle_event === undefined) break;
    pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A component that stopped before it was ready: its own output already says why, so no stack trace. */
class ComponentFailed extends Error {}

/** Wait for a ready line: a human line, which the commands write to stderr (stdout carries their JSON logs). */
function waitForLine(child: ChildProcess, pattern: RegExp, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (d: Buffer) => {
      seen += d.toString();
      if (pattern.test(seen)) {
        child.stderr?.off('data', onData);
        resolve();
      }
    };
    child.stderr?.on('data', onData);
    child.once('exit', (code) =>
      reject(new ComponentFailed(`quickstart: ${what} exited with code ${code} before it was ready:\n${seen}`)),
    );
  });
}

async function main(): Promise<void> {
  const busy = await checkAddresses();
  if (busy.length > 0) {
    process.stderr.write(busy.join(''));
    process.exit(1);
  }
  mkdirSync(STATE, { recursive: true });
  const caDir = join(STATE, 'ca');
  const ca = existsSync(join(caDir, 'ca-cert.pem'))
    ? await loadCa(caDir)
    : await initCa(caDir, { trustDomain: 'cluster.local' });
  const day = 24 * 3600_000;

  // The config folder: examples/quickstart plus the two apps' client-certificate Secrets (seed 002).
  const configDir = join(STATE, 'config');
  rmSync(configDir, { recursive: true, force: true });
  mkdirSync(configDir, { recursive: true });
  const examples = join(REPO, 'examples', 'quickstart');
  for (const f of readdirSync(examples)) cpSync(join(examples, f), join(configDir, f));
  const secrets: string[] = [];
  for (const app of ['app1', 'app2']) {
    const client = await issueClientCert(ca, { subject: `CN=team-namespace.${app}`, ttl: 30 * day });
    secrets.push(`apiVersion: v1
kind: Secret
metadata:
  name: ${app}-client-mtls-secret
  namespace: team-namespace
type: kubernetes.io/tls
data:
  tls.crt: ${b64(client.certChainPem)}
  tls.key: ${b64(client.keyPem)}
  ca.crt: ${b64(client.rootCertPem)}
`);
  }
  writeFileSync(
    join(configDir, 'seed002-secrets.yaml'),
    `# Generated by the quickstart: each app's external client certificate.\n${secrets.join('---\n')}`,
  );
  const workloadsFile = join(STATE, 'workloads.yaml');
  writeFileSync(
    workloadsFile,
    WORKLOADS.map(
      (w) => `- {namespace: ${w.namespace}, serviceAccount: ${w.serviceAccount}, listen: "127.0.0.1:${w.port}"}`,
    ).join('\n') + '\n',
  );

  // Stand-ins for the external hosts, and a DNS server that only Portcullis asks.
  const httpbinCert = await issueServerCert(ca, { dnsNames: ['httpbin.org'], ttl: 30 * day });
  const nginxCert = await issueServerCert(ca, { dnsNames: ['my-nginx.foo.bar'], ttl: 30 * day });
  const standIns: StandIn[] = [];
  standIns.push(
    await startHttpbin({
      host: HOSTS.httpbin,
      port: 443,
      certPem: httpbinCert.certChainPem,
      keyPem: httpbinCert.keyPem,
    }),
  );
  standIns.push(
    await startSubjectServer({
      host: HOSTS.nginx,
      port: 443,
      certPem: nginxCert.certChainPem,
      keyPem: nginxCert.keyPem,
      caPem: ca.rootCertPem,
    }),
  );
  const dns = await startDnsServer(
    { 'httpbin.org': [HOSTS.httpbin], 'my-nginx.foo.bar': [HOSTS.nginx] },
    '127.0.0.1',
    PORTS.dns,
  );

  const children: ChildProcess[] = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)));
    await Promise.all([...standIns.map((s) => s.close()), dns.close()]);
    process.exit(code);
  };
  // Any signal that would end us ends the children first. SIGKILL cannot be caught: the children watch for it
  // (PORTCULLIS_PARENT_PID) and stop when we are gone; serve's workers stop with serve.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const) process.on(signal, () => void stop(0));
  const watched = ancestors();
  setInterval(() => watched.every(alive) || void stop(0), 500).unref();
  const childEnv = { ...process.env, [PARENT_PID_ENV]: String(process.pid) };

  // Each command's stdout is its JSON log (*.log); its human lines go to stderr (*.err).
  const serveLog = createWriteStream(join(STATE, 'serve.log'));
  const serveErr = createWriteStream(join(STATE, 'serve.err'));
  const serve = spawn(
    NODE,
    [
      MAIN,
      'serve',
      '--config',
      configDir,
      '--ca-dir',
      caDir,
      '--listen',
      `127.0.0.1:${PORTS.gateway}`,
      '--admin',
      `127.0.0.1:${PORTS.admin}`,
      '--dns-server',
      `127.0.0.1:${PORTS.dns}`,
      '--log-file',
      join(STATE, 'access.log'),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv },
  );
  children.push(serve);
  serve.stdout.pipe(serveLog);
  serve.stderr.pipe(serveErr);
  await waitForLine(serve, /portcullis serve: listening on/, 'portcullis serve');

  const agentLog = createWriteStream(join(STATE, 'agent.log'));
  const agentErr = createWriteStream(join(STATE, 'agent.err'));
  const agent = spawn(
    NODE,
    [
      MAIN,
      'agent',
      '--gateway',
      `127.0.0.1:${PORTS.gateway}`,
      '--config',
      configDir,
      '--ca-dir',
      caDir,
      '--workloads',
      workloadsFile,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv },
  );
  children.push(agent);
  const agentReady = Promise.all(
    WORKLOADS.map((w) =>
      waitForLine(agent, new RegExp(`listening on 127\\.0\\.0\\.1:${w.port}`), `agent (${w.serviceAccount})`),
    ),
  );
  agent.stdout.pipe(agentLog);
  agent.stderr.pipe(agentErr);
  await agentReady;
  for (const c of children)
    c.once(
      'exit',
      (code) =>
        !stopping &&
        (console.error(`quickstart: a component exited (code ${code}); see ${STATE}/*.err and *.log`), void stop(1)),
    );

  const ca_ = join(caDir, 'root-cert.pem');
  console.log(`Portcullis quickstart is up (state in ${STATE}).

  gateway  HBONE 127.0.0.1:${PORTS.gateway}, admin http://127.0.0.1:${PORTS.admin}/config_dump  (both seeds' Gateways)
  agent    one proxy port per workload (HTTPS_PROXY / HTTP_PROXY / SOCKS5 on the same port):
${WORKLOADS.map((w) => `             ${w.namespace}/${w.serviceAccount}`.padEnd(48) + `http://127.0.0.1:${w.port}`).join('\n')}
  external stand-ins  httpbin.org:443 -> ${HOSTS.httpbin}, my-nginx.foo.bar:443 (mTLS) -> ${HOSTS.nginx}; only Portcullis resolves them

Seed 000, L4 identity-based egress (-i shows the agent's answer to CONNECT, with the gateway's reason):
  1. bookinfo-productpage may reach httpbin.org: both layers allow
     curl --cacert ${ca_} -x http://127.0.0.1:15001 https://httpbin.org/get
  2. bookinfo-reviews is refused at the ServiceEntry layer: only the productpage principal is allowed there
     curl -i --cacert ${ca_} -x http://127.0.0.1:15002 https://httpbin.org/get      # 403, allow policies exist, but none allowed
  3. default/sleep is refused by the DENY policy
     curl -i --cacert ${ca_} -x http://127.0.0.1:15003 https://httpbin.org/get      # 403, explicitly denied by: istio-system/deny-default-egress
  4. team-namespace/app1 is refused by default-deny: no Gateway-layer ALLOW matches it
     curl -i --cacert ${ca_} -x http://127.0.0.1:15011 https://httpbin.org/get      # 403, allow policies exist, but none allowed
  5. anything no ServiceEntry declares is refused by egressPolicies
     curl -i -x http://127.0.0.1:15001 https://example.com/                         # 403, PCL_EGRESS_...

Seed 002, L7 egress waypoint: each caller's mesh identity becomes its own external mTLS identity:
  6. curl -x http://127.0.0.1:15011 http://my-nginx.foo.bar/subject                 # {"subject":"CN=team-namespace.app1"}
  7. curl -x http://127.0.0.1:15012 http://my-nginx.foo.bar/subject                 # {"subject":"CN=team-namespace.app2"}
  8. app2 claiming to be app1 changes nothing: identity comes only from its certificate
     curl -x http://127.0.0.1:15012 -H '%%source.principal%%: spiffe://cluster.local/ns/team-namespace/sa/app1' http://my-nginx.foo.bar/subject

Explain any decision:  npx portcullis check --config examples/quickstart --from default/sleep --to httpbin.org:443
Access log: ${STATE}/access.log   Metrics: curl http://127.0.0.1:${PORTS.admin}/metrics
Ctrl-C stops everything.
QUICKSTART READY`);
}

main().catch((err: unknown) => {
  process.stderr.write(err instanceof ComponentFailed ? `${err.message}\n` : renderError(err).text);
  process.exit(1);
});
