/** A RuleContext for tests: records every error and warning so a test can assert code, path and text. */
import type { ErrorCode } from '../../src/errors/catalogue.ts';
import { formatPath, type FieldPath } from '../../src/config/types.ts';
import {
  DEFAULT_CONTROLLER_NAME,
  DEFAULT_GATEWAY_CLASSES,
  DEFAULT_SYSTEM_NAMESPACES,
  type Settings,
} from '../../src/config/settings-types.ts';
import { DEFAULT_CONFIG_LIMITS } from '../../src/config/settings.ts';
import type { RuleContext, SemanticRule } from '../../src/config/rules/rule-context.ts';

export interface RecordedFinding {
  readonly severity: 'error' | 'warning';
  readonly code: ErrorCode;
  /** Rendered as users read it: `spec.rules[0].from`. */
  readonly path: string;
  readonly message: string;
  /** The loader's rendering: `<path>: <message>`. */
  readonly text: string;
}

export interface FakeRuleContext extends RuleContext {
  readonly findings: RecordedFinding[];
  readonly errors: RecordedFinding[];
  readonly warnings: RecordedFinding[];
}

export const TEST_SETTINGS: Settings = {
  source: null,
  trustDomain: 'cluster.local',
  rootNamespace: 'istio-system',
  gatewayClasses: DEFAULT_GATEWAY_CLASSES,
  egressPolicies: [],
  egressGateway: { defaultDeny: true },
  permitCrossNamespaceResourceAccess: [],
  allowedPrivateCidrs: [],
  systemNamespaces: DEFAULT_SYSTEM_NAMESPACES,
  configLimits: DEFAULT_CONFIG_LIMITS,
  controllerName: DEFAULT_CONTROLLER_NAME,
};

/** A recording context for `doc`, taking kind/name/namespace from the document like the loader does. */
export function fakeContext(doc: Readonly<Record<string, unknown>>, namespace?: string): FakeRuleContext {
  const metadata = (doc.metadata ?? {}) as Record<string, unknown>;
  const findings: RecordedFinding[] = [];
  const record = (severity: 'error' | 'warning') => (path: FieldPath, code: ErrorCode, message: string) => {
    const rendered = formatPath(path);
    findings.push({ severity, code, path: rendered, message, text: `${rendered}: ${message}` });
  };
  return {
    kind: String(doc.kind ?? ''),
    apiVersion: String(doc.apiVersion ?? ''),
    namespace: namespace ?? (typeof metadata.namespace === 'string' ? metadata.namespace : 'default'),
    name: typeof metadata.name === 'string' ? metadata.name : '',
    settings: TEST_SETTINGS,
    error: record('error'),
    warn: record('warning'),
    findings,
    get errors() {
      return findings.filter((f) => f.severity === 'error');
    },
    get warnings() {
      return findings.filter((f) => f.severity === 'warning');
    },
  };
}

/** Run `rules` over `doc` and return the recording context. */
export function runRules(
  rules: readonly SemanticRule[],
  doc: Readonly<Record<string, unknown>>,
  namespace?: string,
): FakeRuleContext {
  const ctx = fakeContext(doc, namespace);
  for (const rule of rules) rule(doc, ctx);
  return ctx;
}
