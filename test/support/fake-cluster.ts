/**
 * A fake cluster for tests: the fake API server (fake-kube-api.ts) with a certificate from a throwaway CA, every
 * resource Portcullis reads or writes (src/kube/access.ts) plus Services, kubeconfig files (bearer token, client
 * certificate), and `kubectl` run against it.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import {
  AUDIT_RESOURCES,
  LEASE_RESOURCE,
  SECRET_RESOURCE,
  SERVE_RESOURCES,
  SERVICE_RESOURCE,
} from '../../src/kube/access.ts';
import { initCa, issueClientCert, issueServerCert } from '../../src/identity/ca.ts';
import { FakeKubeApi, type FakeResource } from './fake-kube-api.ts';

export const ALL_RESOURCES: readonly FakeResource[] = [
  ...SERVE_RESOURCES,
  SECRET_RESOURCE,
  LEASE_RESOURCE,
  SERVICE_RESOURCE,
  ...AUDIT_RESOURCES,
];

/** Whether kubectl is on PATH (tests that drive it skip with this message otherwise). */
export function kubectlMissing(): string | false {
  const r = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
  return r.status === 0 ? false : 'kubectl is not on PATH (install kubectl 1.32 to run this test)';
}

export interface FakeCluster {
  readonly api: FakeKubeApi;
  readonly dir: string;
  /** kubeconfig with a bearer token (kubectl uses another one: `requests[].user` tells them apart). */
  readonly kubeconfig: string;
  /** kubeconfig with a client certificate and no token. */
  readonly certKubeconfig: string;
  readonly token: string;
  /** The CA that signed the API server's certificate (PEM). */
  readonly caPem: string;
  /** Run kubectl with its own token kubeconfig (asynchronously: the fake lives in this process); rejects with its stderr. */
  kubectl(args: readonly string[], input?: string): Promise<string>;
  /** kubectl, asynchronously (for `get --watch`). */
  kubectlAsync(args: readonly string[]): ReturnType<typeof spawn>;
  close(): Promise<void>;
}

export async function startFakeCluster(
  opts: { bookmarkIntervalMs?: number; resources?: readonly FakeResource[] } = {},
): Promise<FakeCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-kube-'));
  const ca = await initCa(join(dir, 'ca'), { trustDomain: 'cluster.local' });
  const serving = await issueServerCert(ca, { ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'], ttl: 3_600_000 });
  const client = await issueClientCert(ca, { subject: 'CN=portcullis', ttl: 3_600_000 });
  const token = `fake-token-${Math.random().toString(36).slice(2)}`;
  // kubectl has its own token, so a test can tell Portcullis's requests from the ones it made with kubectl.
  const kubectlToken = `kubectl-token-${Math.random().toString(36).slice(2)}`;
  const api = new FakeKubeApi({
    certPem: serving.certChainPem,
    keyPem: serving.keyPem,
    tokens: [token, kubectlToken],
    clientCaPem: ca.rootCertPem,
    resources: opts.resources ?? ALL_RESOURCES,
    bookmarkIntervalMs: opts.bookmarkIntervalMs,
  });
  await api.start();
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const writeConfig = (file: string, user: Record<string, unknown>): string => {
    const path = join(dir, file);
    writeFileSync(
      path,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'fake', cluster: { server: api.url, 'certificate-authority-data': b64(ca.rootCertPem) } }],
        users: [{ name: 'portcullis', user }],
        contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'portcullis' } }],
        'current-context': 'fake',
      }),
    );
    return path;
  };
  const kubeconfig = writeConfig('kubeconfig', { token });
  const certKubeconfig = writeConfig('kubeconfig-cert', {
    'client-certificate-data': b64(client.certPem),
    'client-key-data': b64(client.keyPem),
  });
  const env = { ...process.env, KUBECONFIG: writeConfig('kubeconfig-kubectl', { token: kubectlToken }), HOME: dir };
  return {
    api,
    dir,
    kubeconfig,
    certKubeconfig,
    token,
    caPem: ca.rootCertPem,
    kubectl: (args, input) =>
      new Promise((resolve, reject) => {
        const child = execFile(
          'kubectl',
          [...args],
          { env, encoding: 'utf8', timeout: 60_000 },
          (err, stdout, stderr) => {
            if (err) reject(new Error(`kubectl ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
            else resolve(stdout);
          },
        );
        child.stdin!.end(input ?? '');
      }),
    kubectlAsync: (args) => spawn('kubectl', [...args], { env, stdio: ['ignore', 'pipe', 'pipe'] }),
    close: async () => {
      await api.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
