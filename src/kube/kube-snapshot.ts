/**
 * One read of the Kubernetes API for the read-only commands (`status --kube`, `check --kube`, `audit --kube`): list
 * every kind once (audit: AUDIT_RESOURCES too), get the Secrets the DestinationRules name, and compile through the
 * same load and snapshot path as a folder. A kind the API server does not serve (a CRD not installed, e.g. Kyverno)
 * is reported, never a crash; a 403 names the RBAC rule and fails, since a snapshot missing a kind could decide
 * differently from the gateway.
 */
import { loadApiObjects, type ApiObject } from '../config/load-objects.ts';
import type { ConfigFile } from '../config/yaml-documents.ts';
import { PortcullisError } from '../errors/portcullis-error.ts';
import { compileSnapshot } from '../mesh/compile.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import { AUDIT_RESOURCES, SECRET_RESOURCE, SERVE_RESOURCES, type KubeResource } from './access.ts';
import { resourcePath, statusMessage, type KubeClient } from './kube-client.ts';
import { classify, secretsOf } from './kube-source.ts';

export interface KubeSnapshot {
  readonly snapshot: Snapshot;
  /** Kinds the API server does not serve (404 on the list: no CRD). */
  readonly missing: readonly KubeResource[];
}

async function listAll(client: KubeClient, r: KubeResource): Promise<ApiObject[] | 'missing'> {
  let res: Awaited<ReturnType<KubeClient['request']>>;
  try {
    res = await client.request('GET', resourcePath(r));
  } catch (err) {
    const { code, message } = classify(err, r, client.server);
    throw new PortcullisError(code, message);
  }
  if (res.status === 404) return 'missing';
  if (res.status !== 200) {
    const { code, message } = classify(
      Object.assign(new Error(statusMessage(res)), { statusCode: res.status }),
      r,
      client.server,
    );
    throw new PortcullisError(code, message);
  }
  const apiVersion = r.group === '' ? r.version : `${r.group}/${r.version}`;
  const items = Array.isArray(res.body.items) ? (res.body.items as ApiObject[]) : [];
  return items.map((o) => ({ apiVersion, kind: r.kind, ...o }));
}

export async function loadKubeSnapshot(
  client: KubeClient,
  opts: { settings?: ConfigFile | null; env?: Record<string, string | undefined>; audit?: boolean } = {},
): Promise<KubeSnapshot> {
  const kinds = opts.audit ? [...SERVE_RESOURCES, ...AUDIT_RESOURCES] : SERVE_RESOURCES;
  const lists = await Promise.all(kinds.map((r) => listAll(client, r)));
  const missing: KubeResource[] = [];
  const objects: ApiObject[] = [];
  lists.forEach((l, i) => {
    if (l !== 'missing') objects.push(...l);
    else if (SERVE_RESOURCES.includes(kinds[i])) {
      // A config kind that is not served means Istio or the Gateway API CRDs are not installed.
      throw new PortcullisError(
        'PCL_KUBE_CRD_MISSING',
        `the API server does not serve ${kinds[i].kind} (${kinds[i].group}/${kinds[i].version}): install Istio's and the Gateway API's CRDs`,
      );
    } else missing.push(kinds[i]);
  });
  const load = (extra: readonly ApiObject[]) =>
    loadApiObjects([...objects, ...extra], { settings: opts.settings ?? null, env: opts.env ?? process.env });
  let snapshot = compileSnapshot(load([]));
  // The Secrets the DestinationRules name, each read by name (as the gateway watches them).
  const refs = secretsOf(snapshot);
  if (refs.length > 0) {
    const secrets: ApiObject[] = [];
    for (const ref of refs) {
      const [namespace, name] = [ref.slice(0, ref.indexOf('/')), ref.slice(ref.indexOf('/') + 1)];
      const res = await client.request('GET', resourcePath(SECRET_RESOURCE, namespace, name));
      if (res.status === 200) secrets.push({ apiVersion: 'v1', kind: 'Secret', ...res.body });
      else if (res.status !== 404) {
        const { code, message } = classify(
          Object.assign(new Error(statusMessage(res)), { statusCode: res.status }),
          SECRET_RESOURCE,
          client.server,
          namespace,
        );
        throw new PortcullisError(code, message);
      }
    }
    snapshot = compileSnapshot(load(secrets));
  }
  return { snapshot, missing };
}
