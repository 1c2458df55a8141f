/**
 * `portcullis install`: every printed document is a well-formed object of its kind (the GatewayClass against the
 * Gateway API CRD in ../shared, read in place; structural checks for the core kinds), the pod runs locked down, and
 * the RBAC rules are exactly the Kubernetes source's table of what it calls.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { loadConfigTexts } from '../src/config/load.ts';
import {
  AUDIT_RESOURCES,
  DEFAULT_CONTROLLER_NAME,
  LEASE_RESOURCE,
  SECRET_RESOURCE,
  SERVE_RESOURCES,
  type KubeResource,
} from '../src/kube/access.ts';
import { REPO, runCli } from './support/cli.ts';
import { checkSchema, crdSchema } from './support/openapi-check.ts';

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML documents are walked freely in the assertions
type Obj = Record<string, any>;

const CRDS = join(REPO, '..', 'shared', 'conformance', 'gateway-api-crds');
const NO_SHARED = existsSync(CRDS)
  ? false
  : 'no ../shared here: the Gateway API CRDs are read in place from ../shared/conformance';

async function install(...args: string[]): Promise<Obj[]> {
  const r = await runCli(['install', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Obj)
    .filter((d) => d !== null);
}

const one = (docs: Obj[], kind: string, name?: string): Obj => {
  const found = docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
  assert.equal(found.length, 1, `exactly one ${kind}${name ? ` ${name}` : ''}`);
  return found[0];
};

const NAMESPACED = new Set([
  'ServiceAccount',
  'Deployment',
  'Service',
  'PodDisruptionBudget',
  'HorizontalPodAutoscaler',
  'Role',
  'RoleBinding',
]);
const CLUSTER = new Set(['GatewayClass', 'ClusterRole', 'ClusterRoleBinding']);
const API_VERSIONS: Record<string, string> = {
  ServiceAccount: 'v1',
  Service: 'v1',
  Deployment: 'apps/v1',
  PodDisruptionBudget: 'policy/v1',
  HorizontalPodAutoscaler: 'autoscaling/v2',
  Role: 'rbac.authorization.k8s.io/v1',
  RoleBinding: 'rbac.authorization.k8s.io/v1',
  ClusterRole: 'rbac.authorization.k8s.io/v1',
  ClusterRoleBinding: 'rbac.authorization.k8s.io/v1',
  GatewayClass: 'gateway.networking.k8s.io/v1',
};
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Structural checks the API server would make for the core kinds, plus the references between the documents. */
function structuralProblems(docs: Obj[]): string[] {
  const p: string[] = [];
  const byKind = (k: string): Obj[] => docs.filter((d) => d.kind === k);
  for (const d of docs) {
    const id = `${d.kind}/${d.metadata?.namespace ?? ''}/${d.metadata?.name}`;
    if (API_VERSIONS[d.kind] !== d.apiVersion) p.push(`${id}: apiVersion ${d.apiVersion}`);
    if (typeof d.metadata?.name !== 'string' || !DNS_SUBDOMAIN.test(d.metadata.name) || d.metadata.name.length > 253)
      p.push(`${id}: bad name`);
    if (NAMESPACED.has(d.kind) !== (typeof d.metadata.namespace === 'string'))
      p.push(`${id}: namespace ${NAMESPACED.has(d.kind) ? 'missing' : 'set on a cluster-scoped kind'}`);
    if (!NAMESPACED.has(d.kind) && !CLUSTER.has(d.kind)) p.push(`${id}: unexpected kind`);
    if (typeof d.metadata.namespace === 'string' && !DNS_LABEL.test(d.metadata.namespace))
      p.push(`${id}: bad namespace`);
    for (const [k, v] of Object.entries({ ...d.metadata.labels })) {
      if (typeof v !== 'string' || v.length > 63 || !/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v))
        p.push(`${id}: label ${k}=${String(v)}`);
    }
  }
  for (const dep of byKind('Deployment')) {
    const tpl = dep.spec.template;
    const podLabels: Obj = tpl.metadata.labels;
    for (const [k, v] of Object.entries(dep.spec.selector.matchLabels))
      if (podLabels[k] !== v) p.push(`Deployment: selector ${k} not on the pod`);
    if (!Number.isInteger(dep.spec.replicas)) p.push('Deployment: replicas');
    if (
      !byKind('ServiceAccount').some(
        (sa) => sa.metadata.name === tpl.spec.serviceAccountName && sa.metadata.namespace === dep.metadata.namespace,
      )
    )
      p.push('Deployment: no such ServiceAccount');
    const volumes = new Set((tpl.spec.volumes as Obj[]).map((v) => v.name));
    for (const c of tpl.spec.containers as Obj[]) {
      if (typeof c.name !== 'string' || typeof c.image !== 'string' || c.image === '')
        p.push('container: name or image');
      const portNames = new Set((c.ports as Obj[]).map((x) => x.name));
      for (const x of c.ports as Obj[])
        if (!Number.isInteger(x.containerPort) || x.containerPort < 1 || x.containerPort > 65535 || x.name.length > 15)
          p.push(`port ${x.name}`);
      for (const probe of [c.readinessProbe, c.livenessProbe])
        if (probe === undefined || !portNames.has(probe.httpGet.port)) p.push('probe port');
      for (const m of c.volumeMounts as Obj[]) if (!volumes.has(m.name)) p.push(`volumeMount ${m.name} has no volume`);
      for (const e of c.env as Obj[]) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.name)) p.push(`env ${e.name}`);
      const svc = byKind('Service').find((s) => s.metadata.namespace === dep.metadata.namespace);
      for (const sp of (svc?.spec.ports ?? []) as Obj[])
        if (typeof sp.targetPort === 'string' && !portNames.has(sp.targetPort))
          p.push(`Service targetPort ${sp.targetPort}`);
    }
    for (const k of ['Service', 'PodDisruptionBudget'] as const) {
      for (const o of byKind(k)) {
        const sel: Obj = k === 'Service' ? o.spec.selector : o.spec.selector.matchLabels;
        if (Object.entries(sel).some(([key, v]) => podLabels[key] !== v))
          p.push(`${k}: selector does not select the pods`);
      }
    }
    for (const hpa of byKind('HorizontalPodAutoscaler')) {
      if (hpa.spec.scaleTargetRef.name !== dep.metadata.name || hpa.spec.scaleTargetRef.kind !== 'Deployment')
        p.push('HPA target');
      if (!(hpa.spec.minReplicas >= 1 && hpa.spec.minReplicas <= hpa.spec.maxReplicas)) p.push('HPA replicas');
    }
  }
  for (const b of [...byKind('RoleBinding'), ...byKind('ClusterRoleBinding')]) {
    const role = docs.find(
      (d) =>
        d.kind === b.roleRef.kind &&
        d.metadata.name === b.roleRef.name &&
        (b.kind === 'ClusterRoleBinding' || d.metadata.namespace === b.metadata.namespace),
    );
    if (role === undefined) p.push(`${b.kind} ${b.metadata.name}: roleRef names nothing printed`);
    for (const s of b.subjects as Obj[]) {
      if (!byKind('ServiceAccount').some((sa) => sa.metadata.name === s.name && sa.metadata.namespace === s.namespace))
        p.push(`${b.kind}: subject ${s.name} not printed`);
    }
  }
  for (const r of [...byKind('Role'), ...byKind('ClusterRole')]) {
    for (const rule of r.rules as Obj[])
      if (!Array.isArray(rule.apiGroups) || rule.resources.length === 0 || rule.verbs.length === 0)
        p.push(`${r.kind} ${r.metadata.name}: empty rule`);
  }
  return p;
}

test('every document is well formed and the documents refer to each other correctly', async () => {
  for (const args of [
    [],
    ['--expose-admin', '--audit-role', '--secret-namespace', 'team-a', '--secret-namespace', 'team-b'],
    ['--config-map', 'portcullis-config'],
  ]) {
    const docs = await install('--gateway', 'istio-egress/egress-gateway', ...args);
    assert.deepEqual(structuralProblems(docs), [], args.join(' '));
  }
  // The checks can fail: a Service that selects nothing is caught.
  const docs = await install('--gateway', 'istio-egress/egress-gateway');
  one(docs, 'Service').spec.selector = { app: 'nothing' };
  assert.match(structuralProblems(docs).join('\n'), /Service: selector does not select the pods/);
});

test('the GatewayClass conforms to the Gateway API CRD and loads in Portcullis', { skip: NO_SHARED }, async () => {
  const docs = await install(
    '--gateway',
    'istio-egress/egress-gateway',
    '--class',
    'corp-egress',
    '--waypoint-for',
    'all',
  );
  const gc = one(docs, 'GatewayClass');
  const schema = crdSchema(join(CRDS, 'gateway.networking.k8s.io_gatewayclasses.yaml'), 'v1');
  assert.deepEqual(checkSchema(gc, schema), []);
  assert.equal(gc.metadata.name, 'corp-egress');
  assert.equal(gc.spec.controllerName, DEFAULT_CONTROLLER_NAME);
  assert.equal(gc.metadata.labels['istio.io/waypoint-for'], 'all');
  // The schema check is not a rubber stamp.
  assert.match(
    checkSchema({ ...gc, spec: { controllerName: 'no slash', colour: 1 } }, schema).join('\n'),
    /spec: unknown field "colour"/,
  );
  assert.notDeepEqual(checkSchema({ ...gc, spec: { controllerName: 'no slash' } }, schema), []);
  const loaded = loadConfigTexts([
    {
      path: 'install.yaml',
      text: `apiVersion: ${gc.apiVersion}\nkind: GatewayClass\nmetadata: {name: ${gc.metadata.name}}\nspec: {controllerName: ${gc.spec.controllerName}}\n`,
    },
  ]);
  assert.deepEqual(
    loaded.diagnostics.filter((d) => d.severity === 'error'),
    [],
  );
});

test('the pod is locked down: non-root, read-only root, no capabilities, seccomp, probes, resources, anti-affinity, istio token and root', async () => {
  const docs = await install(
    '--gateway',
    'istio-egress/egress-gateway',
    '--replicas',
    '3',
    '--image',
    'registry.example/portcullis:1.2.3',
  );
  const dep = one(docs, 'Deployment');
  const pod = dep.spec.template.spec;
  const c = pod.containers[0];
  assert.equal(dep.spec.replicas, 3);
  assert.equal(c.image, 'registry.example/portcullis:1.2.3');
  assert.equal(dep.spec.template.metadata.labels['gateway.networking.k8s.io/gateway-name'], 'egress-gateway');
  assert.equal(pod.serviceAccountName, 'egress-gateway');
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.ok(pod.securityContext.runAsUser > 0);
  assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.equal(c.securityContext.privileged, false);
  assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
  assert.equal(c.securityContext.seccompProfile.type, 'RuntimeDefault');
  for (const k of ['requests', 'limits']) for (const r of ['cpu', 'memory']) assert.ok(c.resources[k][r], `${k}.${r}`);
  assert.deepEqual(c.readinessProbe.httpGet, { path: '/healthz/ready', port: 'health' });
  assert.equal(c.livenessProbe.httpGet.port, 'health');
  assert.equal(c.ports.find((x: Obj) => x.name === 'health').containerPort, 15021);
  assert.equal(
    pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.labelSelector
      .matchLabels['gateway.networking.k8s.io/gateway-name'],
    'egress-gateway',
  );
  const token = pod.volumes.find((v: Obj) => v.name === 'istio-token').projected.sources[0].serviceAccountToken;
  assert.equal(token.audience, 'istio-ca');
  assert.equal(token.path, 'istio-token');
  assert.equal(pod.volumes.find((v: Obj) => v.name === 'istiod-ca-cert').configMap.name, 'istio-ca-root-cert');
  const mountOf = (n: string): string => c.volumeMounts.find((m: Obj) => m.name === n).mountPath;
  assert.equal(`${mountOf('istio-token')}/istio-token`, '/var/run/secrets/tokens/istio-token');
  assert.equal(`${mountOf('istiod-ca-cert')}/root-cert.pem`, '/var/run/secrets/istio/root-cert.pem');
  // The admin port stays on loopback and out of the Service unless asked for.
  assert.ok(c.args.includes('127.0.0.1:15000'));
  assert.deepEqual(
    one(docs, 'Service').spec.ports.map((x: Obj) => x.port),
    [15008],
  );
  const exposed = await install('--gateway', 'istio-egress/egress-gateway', '--expose-admin');
  assert.deepEqual(
    one(exposed, 'Service').spec.ports.map((x: Obj) => x.port),
    [15008, 15000],
  );
  assert.ok(one(exposed, 'Deployment').spec.template.spec.containers[0].args.includes('0.0.0.0:15000'));
  assert.equal(one(docs, 'HorizontalPodAutoscaler').spec.minReplicas, 3);
  assert.equal(one(docs, 'PodDisruptionBudget').spec.maxUnavailable, 1);
});

test('the container arguments are flags serve accepts (the Kubernetes API source, and a ConfigMap)', async () => {
  for (const extra of [[], ['--config-map', 'portcullis-config']]) {
    const docs = await install('--gateway', 'istio-egress/egress-gateway', ...extra);
    const args: string[] = one(docs, 'Deployment').spec.template.spec.containers[0].args;
    assert.equal(args[0], 'serve');
    assert.equal(args.includes('--kube'), extra.length === 0, args.join(' '));
    // --help after the flags: parsed strictly (an unknown flag fails), then usage printed without starting.
    const r = await runCli([...args, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: portcullis serve/m);
  }
});

const key = (group: string, resource: string, verbs: readonly string[]): string =>
  `${group}|${resource}|${[...verbs].sort().join(',')}`;
function tableRules(resources: readonly KubeResource[], withStatus: boolean): string[] {
  return resources
    .flatMap((r) => [
      key(r.group, r.resource, r.verbs),
      ...(withStatus && r.statusVerbs ? [key(r.group, `${r.resource}/status`, r.statusVerbs)] : []),
    ])
    .sort();
}
function printedRules(role: Obj): string[] {
  return (role.rules as Obj[])
    .flatMap((rule) =>
      (rule.apiGroups as string[]).flatMap((g) => (rule.resources as string[]).map((res) => key(g, res, rule.verbs))),
    )
    .sort();
}

test('RBAC is exactly the Kubernetes source table: config kinds cluster-wide, Secrets by Role in the named namespaces, the Lease at home', async () => {
  const docs = await install(
    '--gateway',
    'istio-egress/egress-gateway',
    '--secret-namespace',
    'team-a',
    '--secret-namespace',
    'team-b',
    '--audit-role',
  );
  const cluster = one(docs, 'ClusterRole', 'portcullis-istio-egress-egress-gateway');
  assert.deepEqual(printedRules(cluster), tableRules(SERVE_RESOURCES, true));
  assert.ok(!printedRules(cluster).some((r) => r.includes('|secrets|')), 'no cluster-wide Secrets');
  const roles = docs.filter((d) => d.kind === 'Role');
  const secretRoles = roles.filter((r) => printedRules(r).some((x) => x.includes('|secrets|')));
  assert.deepEqual(secretRoles.map((r) => r.metadata.namespace).sort(), ['team-a', 'team-b']);
  for (const r of secretRoles) assert.deepEqual(printedRules(r), tableRules([SECRET_RESOURCE], true));
  const leaseRoles = roles.filter((r) => printedRules(r).some((x) => x.includes('|leases|')));
  assert.deepEqual(
    leaseRoles.map((r) => r.metadata.namespace),
    ['istio-egress'],
  );
  assert.deepEqual(printedRules(leaseRoles[0]), tableRules([LEASE_RESOURCE], true));
  // Every Role and the ClusterRole is bound to the gateway's ServiceAccount; the audit role to no one.
  for (const role of [cluster, ...roles]) {
    const binding = docs.find(
      (d) =>
        d.kind === (role.kind === 'Role' ? 'RoleBinding' : 'ClusterRoleBinding') &&
        d.roleRef.name === role.metadata.name &&
        d.metadata.namespace === role.metadata.namespace,
    );
    assert.deepEqual(binding?.subjects, [
      { kind: 'ServiceAccount', name: 'egress-gateway', namespace: 'istio-egress' },
    ]);
  }
  const audit = one(docs, 'ClusterRole', 'portcullis-audit');
  assert.deepEqual(
    printedRules(audit),
    [...tableRules(SERVE_RESOURCES, false), ...tableRules(AUDIT_RESOURCES, false)].sort(),
  );
  assert.ok(!docs.some((d) => d.kind === 'ClusterRoleBinding' && d.roleRef.name === 'portcullis-audit'));
  // Default: Secrets only in the Gateway's own namespace; with a ConfigMap, no API access at all.
  const defaults = await install('--gateway', 'istio-egress/egress-gateway');
  assert.deepEqual(
    defaults
      .filter((d) => d.kind === 'Role' && printedRules(d).some((x) => x.includes('|secrets|')))
      .map((r) => r.metadata.namespace),
    ['istio-egress'],
  );
  const cm = await install('--gateway', 'istio-egress/egress-gateway', '--config-map', 'cfg');
  assert.deepEqual(
    cm.filter((d) => /Role/.test(d.kind)),
    [],
  );
  assert.equal(one(cm, 'ServiceAccount').automountServiceAccountToken, false);
});

test('bad flags say what is wrong and print nothing', async () => {
  for (const [args, message] of [
    [[], /--gateway is required/],
    [['--gateway', 'egress-gateway'], /--gateway "egress-gateway": expected NAMESPACE\/NAME/],
    [['--gateway', 'Istio/Egress'], /expected NAMESPACE\/NAME/],
    [['--gateway', 'a/b', '--replicas', '0'], /--replicas "0": expected a whole number from 1 to 1000/],
    [['--gateway', 'a/b', '--replicas', '5', '--max-replicas', '2'], /--max-replicas 2 is below --replicas 5/],
    [
      ['--gateway', 'a/b', '--waypoint-for', 'everything'],
      /--waypoint-for must be one of service, workload, all, none \(got "everything"\)/,
    ],
    [['--gateway', 'a/b', '--config-map', 'c', '--secret-namespace', 'x'], /with --config-map it reads none/],
    [['--gateway', 'a/b', '--bogus'], /unknown flag --bogus/],
  ] as const) {
    const r = await runCli(['install', ...args]);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stdout, '');
    assert.match(r.stderr, message);
  }
});
