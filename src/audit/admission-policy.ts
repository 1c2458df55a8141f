/**
 * Layer 1's admission check: is `istio.io/dataplane-mode: ambient` enforced when a namespace is created? Reads the
 * documents Portcullis does not load as resources (they arrive as `ignored`) and understands what they enforce:
 * a Kyverno ClusterPolicy whose validate pattern requires the label on Namespace CREATE in Enforce mode, or a
 * ValidatingAdmissionPolicy whose CEL validation requires it, made effective by a binding with `Deny`.
 */
import type { IgnoredDocument } from '../config/types.ts';
import { DATAPLANE_MODE_LABEL } from './cluster-model.ts';

export interface AdmissionVerdict {
  readonly document: IgnoredDocument;
  readonly enforces: boolean;
  /** Why it does, or why it does not. */
  readonly reason: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const strs = (v: unknown): string[] => list(v).filter((x): x is string => typeof x === 'string');

// ---------------- Kyverno ----------------

function kyvernoKindMatchesNamespace(kind: string): boolean {
  // Kyverno kinds: `Namespace`, `v1/Namespace`, `*/Namespace`, or `*`.
  return kind === '*' || kind === 'Namespace' || kind.endsWith('/Namespace');
}

/** A Kyverno ResourceDescription that covers every Namespace CREATE (names or selectors would narrow it). */
function kyvernoCoversNamespaceCreate(resources: unknown): boolean {
  if (!isObj(resources)) return false;
  if (!strs(resources.kinds).some(kyvernoKindMatchesNamespace)) return false;
  const ops = strs(resources.operations);
  if (ops.length > 0 && !ops.includes('CREATE')) return false;
  if (strs(resources.names).length > 0 || typeof resources.name === 'string') return false;
  if (
    resources.selector !== undefined ||
    resources.annotations !== undefined ||
    resources.namespaceSelector !== undefined
  )
    return false;
  return true;
}

function kyvernoRuleMatches(rule: Obj): boolean {
  const match = rule.match;
  if (!isObj(match)) return false;
  // `any`: one filter must match; `all`: every filter must match (each must then cover Namespace CREATE).
  if (Array.isArray(match.any)) return match.any.some((f) => isObj(f) && kyvernoCoversNamespaceCreate(f.resources));
  if (Array.isArray(match.all))
    return match.all.length > 0 && match.all.every((f) => isObj(f) && kyvernoCoversNamespaceCreate(f.resources));
  return kyvernoCoversNamespaceCreate(match.resources);
}

/** A Kyverno pattern requiring the label to be exactly `ambient` (a plain key; `=()` anchors make it optional). */
function patternRequiresAmbient(pattern: unknown): boolean {
  if (!isObj(pattern) || !isObj(pattern.metadata)) return false;
  const labels = pattern.metadata.labels;
  if (!isObj(labels)) return false;
  return labels[DATAPLANE_MODE_LABEL] === 'ambient';
}

/** A CEL expression that requires `object.metadata.labels['istio.io/dataplane-mode'] == 'ambient'`. */
export function celRequiresAmbient(expression: string): boolean {
  const e = expression.replace(/\s+/g, ' ');
  const key = DATAPLANE_MODE_LABEL.replace(/[./]/g, (c) => `\\${c}`);
  const access = `object\\.metadata\\.labels ?\\[ ?\\?? ?['"]${key}['"] ?\\]( ?\\.orValue\\([^)]*\\))?`;
  const equals = new RegExp(`(^|[^!])${access} ?== ?['"]ambient['"]|['"]ambient['"] ?== ?${access}`);
  if (!equals.test(e)) return false;
  // A negated or "not equal" comparison of the same label defeats it.
  if (new RegExp(`!\\s*\\(?\\s*${access} ?==`).test(e) || new RegExp(`${access} ?!=`).test(e)) return false;
  return true;
}

function kyvernoFailureAction(spec: Obj, validate: Obj): string {
  // Kyverno 1.13+: `validate.failureAction` overrides the policy-wide `validationFailureAction`; the default is Audit.
  const v = validate.failureAction ?? spec.validationFailureAction ?? 'Audit';
  return String(v).toLowerCase();
}

function analyzeKyverno(doc: IgnoredDocument): AdmissionVerdict {
  const name = `${doc.kind} ${doc.namespace ? `${doc.namespace}/` : ''}${doc.name}`;
  if (doc.kind !== 'ClusterPolicy') {
    return {
      document: doc,
      enforces: false,
      reason: `${name} is namespaced, and a namespaced Kyverno Policy cannot match Namespace objects`,
    };
  }
  const spec = isObj(doc.raw.spec) ? doc.raw.spec : {};
  let sawRule = false;
  let auditOnly = false;
  for (const r of list(spec.rules)) {
    if (!isObj(r) || !isObj(r.validate) || !kyvernoRuleMatches(r)) continue;
    const v = r.validate;
    const requires =
      patternRequiresAmbient(v.pattern) ||
      (Array.isArray(v.anyPattern) && v.anyPattern.length > 0 && v.anyPattern.every(patternRequiresAmbient)) ||
      (isObj(v.cel) &&
        list(v.cel.expressions).some(
          (x) => isObj(x) && typeof x.expression === 'string' && celRequiresAmbient(x.expression),
        ));
    if (!requires) continue;
    sawRule = true;
    if (kyvernoFailureAction(spec, v) === 'enforce') {
      return {
        document: doc,
        enforces: true,
        reason: `${name} rule "${String(r.name ?? '')}" denies a Namespace created without ${DATAPLANE_MODE_LABEL}: ambient`,
      };
    }
    auditOnly = true;
  }
  if (sawRule && auditOnly) {
    return {
      document: doc,
      enforces: false,
      reason: `${name} requires ${DATAPLANE_MODE_LABEL}: ambient but only in Audit mode (validationFailureAction is not Enforce), so it reports and admits`,
    };
  }
  return {
    document: doc,
    enforces: false,
    reason: `${name} has no validate rule requiring ${DATAPLANE_MODE_LABEL}: ambient on every Namespace CREATE`,
  };
}

// ---------------- ValidatingAdmissionPolicy ----------------

function vapMatchesNamespaceCreate(spec: Obj): boolean {
  const mc = spec.matchConstraints;
  if (!isObj(mc)) return false;
  return list(mc.resourceRules).some((rule) => {
    if (!isObj(rule)) return false;
    const groups = strs(rule.apiGroups);
    const resources = strs(rule.resources);
    const ops = strs(rule.operations);
    return (
      (groups.includes('') || groups.includes('*')) &&
      (resources.includes('namespaces') || resources.includes('*')) &&
      (ops.includes('CREATE') || ops.includes('*')) &&
      strs(rule.resourceNames).length === 0
    );
  });
}

function analyzeValidatingAdmissionPolicy(
  doc: IgnoredDocument,
  bindings: readonly IgnoredDocument[],
): AdmissionVerdict {
  const name = `ValidatingAdmissionPolicy ${doc.name}`;
  const spec = isObj(doc.raw.spec) ? doc.raw.spec : {};
  if (!vapMatchesNamespaceCreate(spec)) {
    return {
      document: doc,
      enforces: false,
      reason: `${name} does not match CREATE of namespaces (spec.matchConstraints.resourceRules)`,
    };
  }
  const requires = list(spec.validations).some(
    (v) => isObj(v) && typeof v.expression === 'string' && celRequiresAmbient(v.expression),
  );
  if (!requires) {
    return {
      document: doc,
      enforces: false,
      reason: `${name} has no validation requiring object.metadata.labels['${DATAPLANE_MODE_LABEL}'] == 'ambient'`,
    };
  }
  const mine = bindings.filter((b) => isObj(b.raw.spec) && b.raw.spec.policyName === doc.name);
  if (mine.length === 0) {
    return {
      document: doc,
      enforces: false,
      reason: `${name} requires the label but no ValidatingAdmissionPolicyBinding names it, so it is never evaluated`,
    };
  }
  const deny = mine.find((b) => strs((b.raw.spec as Obj).validationActions).includes('Deny'));
  if (!deny) {
    return {
      document: doc,
      enforces: false,
      reason: `${name} is bound by ${mine.map((b) => b.name).join(', ')} without validationActions: [Deny], so violations are only warned or audited`,
    };
  }
  return {
    document: doc,
    enforces: true,
    reason: `${name}, bound with Deny by ${deny.name}, rejects a Namespace created without ${DATAPLANE_MODE_LABEL}: ambient`,
  };
}

/** Every admission document about the label, judged. */
export function analyzeAdmission(ignored: readonly IgnoredDocument[]): AdmissionVerdict[] {
  const out: AdmissionVerdict[] = [];
  const bindings = ignored.filter(
    (d) => d.kind === 'ValidatingAdmissionPolicyBinding' && d.apiVersion.startsWith('admissionregistration.k8s.io/'),
  );
  for (const d of ignored) {
    if ((d.kind === 'ClusterPolicy' || d.kind === 'Policy') && d.apiVersion.startsWith('kyverno.io/'))
      out.push(analyzeKyverno(d));
    else if (d.kind === 'ValidatingAdmissionPolicy' && d.apiVersion.startsWith('admissionregistration.k8s.io/')) {
      out.push(analyzeValidatingAdmissionPolicy(d, bindings));
    }
  }
  return out;
}

/** The fix: a ValidatingAdmissionPolicy and its Deny binding (built into Kubernetes 1.30+, no Kyverno needed). */
export function admissionFixDocs(systemNamespaces: readonly string[]): unknown[] {
  const exempt = systemNamespaces.map((n) => `'${n}'`).join(', ');
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: 'require-ambient-dataplane-mode' },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['namespaces'] },
          ],
        },
        validations: [
          {
            expression:
              `object.metadata.name in [${exempt}] || ` +
              `(has(object.metadata.labels) && '${DATAPLANE_MODE_LABEL}' in object.metadata.labels && ` +
              `object.metadata.labels['${DATAPLANE_MODE_LABEL}'] == 'ambient')`,
            message: `every workload namespace must carry ${DATAPLANE_MODE_LABEL}: ambient`,
          },
        ],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: 'require-ambient-dataplane-mode' },
      spec: { policyName: 'require-ambient-dataplane-mode', validationActions: ['Deny'] },
    },
  ];
}
