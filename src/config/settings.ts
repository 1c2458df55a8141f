/**
 * Load and validate `portcullis.yaml` (or `--settings FILE`): strict fields with did-you-mean, defaults for
 * anything absent or broken, and the `PERMIT_CROSS_NAMESPACE_RESOURCE_ACCESS` environment variable of seed 002.
 */
import type { ErrorCode } from '../errors/catalogue.ts';
import { formatPath } from './types.ts';
import type { Diagnostic, SourcePos } from './types.ts';
import { DEFAULT_CONTROLLER_NAME, DEFAULT_GATEWAY_CLASSES, DEFAULT_SYSTEM_NAMESPACES } from './settings-types.ts';
import type { GatewayLimits, PathNormalization, Settings } from './settings-types.ts';
import { DEFAULT_PARSE_LIMITS, parseYamlFile } from './yaml-documents.ts';
import type { ConfigFile } from './yaml-documents.ts';
import { arr, bool, int, map, num, obj, str, strings } from './schema/dsl.ts';
import { isPlainObject, validateSchema } from './schema/validate.ts';
import { checkDns1123Label } from './schema/common.ts';
import { checkCidrOrAddress } from '../net/ip-syntax.ts';
import { parseDuration } from './rules/duration.ts';

/** The environment variable Solo's istiod reads (pilot/pkg/features/solo.go of Solo's Istio fork, commit 6f2834d5ee "mTLS Waypoint Egress"): comma-separated `namespace/serviceaccount`. */
const PERMIT_CROSS_NAMESPACE_ENV = 'PERMIT_CROSS_NAMESPACE_RESOURCE_ACCESS';

const NAMESPACE_SA = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function checkNamespaceServiceAccount(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  return NAMESPACE_SA.test(value)
    ? undefined
    : 'must be "namespace/serviceaccount", e.g. "istio-egress/egress-waypoint"';
}

/** GatewayClass `spec.controllerName`'s pattern in the Gateway API CRD. */
const CONTROLLER_NAME_PATTERN =
  "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\\/[A-Za-z0-9\\/\\-._~%!$&'()*+,;=:]+$";

/** Defaults of `configLimits`; the parse limits are the parser's own defaults. */
export const DEFAULT_CONFIG_LIMITS = Object.freeze({ ...DEFAULT_PARSE_LIMITS, parseTimeoutSeconds: 60 });

const cidrList = () => strings({}, str({ check: checkCidrOrAddress }));

const SETTINGS_SCHEMA = obj({
  trustDomain: str({ minLength: 1 }),
  rootNamespace: str({ minLength: 1, check: checkDns1123Label }),
  gatewayClasses: map(str({ enum: ['egress', 'waypoint'] })),
  // Exactly the ztunnel Helm value of seed 000: `- matchCidrs: [...]  policy: Deny|Allow`.
  egressPolicies: arr(
    obj({ matchCidrs: cidrList(), policy: str({ enum: ['Deny', 'Allow'] }) }, { required: ['matchCidrs', 'policy'] }),
  ),
  egressGateway: obj({ defaultDeny: bool() }),
  permitCrossNamespaceResourceAccess: strings({}, str({ check: checkNamespaceServiceAccount })),
  allowedPrivateCidrs: cidrList(),
  systemNamespaces: strings({}, str({ check: checkDns1123Label })),
  perimeter: obj({ podCidrs: cidrList(), podEgressDropped: bool(), snatAddresses: cidrList() }),
  // ---- parse limits and the controller name (one block) ----
  configLimits: obj({
    maxFileBytes: int({ minimum: 1 }),
    maxDocumentsPerFile: int({ minimum: 1 }),
    maxKeysPerMapping: int({ minimum: 1 }),
    parseTimeoutSeconds: num({ minimum: 0.01 }),
  }),
  // Gateway API: "a domain-prefixed path" (GatewayClass spec.controllerName's own pattern).
  controllerName: str({ pattern: CONTROLLER_NAME_PATTERN }),
  pathNormalization: obj({
    normalization: str({ enum: ['DEFAULT', 'NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'] }),
  }),
  limits: limitsSchema(),
  learn: bool(),
});

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function defaults(source: string | null): Mutable<Settings> {
  return {
    source,
    trustDomain: 'cluster.local',
    rootNamespace: 'istio-system',
    gatewayClasses: { ...DEFAULT_GATEWAY_CLASSES },
    egressPolicies: [],
    egressGateway: { defaultDeny: false },
    permitCrossNamespaceResourceAccess: [],
    allowedPrivateCidrs: [],
    systemNamespaces: [...DEFAULT_SYSTEM_NAMESPACES],
    configLimits: DEFAULT_CONFIG_LIMITS,
    controllerName: DEFAULT_CONTROLLER_NAME,
  };
}

function describeDefault(value: unknown): string {
  return value === undefined ? 'unset' : JSON.stringify(value);
}

/** Parse settings; `file` null means built-in defaults. Never throws: problems become diagnostics. */
export function parseSettings(
  file: ConfigFile | null,
  env: Record<string, string | undefined> = {},
): { settings: Settings; diagnostics: Diagnostic[] } {
  const settings = defaults(file?.path ?? null);
  const diagnostics: Diagnostic[] = [];
  const report = (code: ErrorCode, pos: SourcePos, message: string, path?: string) =>
    diagnostics.push({ code, severity: 'error', file: pos.file, line: pos.line, column: pos.column, path, message });

  if (file !== null) {
    const parsed = parseYamlFile(file);
    const syntax = parsed.errors[0];
    const doc = parsed.documents[0];
    if (syntax !== undefined) {
      report('PCL_SETTINGS_YAML_SYNTAX', syntax, `${syntax.message}; using the default for every setting`);
    } else if (doc !== undefined) {
      if (!isPlainObject(doc.value)) {
        report(
          'PCL_SETTINGS_INVALID',
          doc.start,
          'the settings file must be a mapping of setting names to values; using the defaults',
        );
      } else {
        applySettings(doc.value, settings, (path) => doc.posOf(path), report);
        settings.positions = fieldPositions(doc.value, (path) => doc.posOf(path));
      }
      if (parsed.documents.length > 1) {
        report(
          'PCL_SETTINGS_INVALID',
          parsed.documents[1].start,
          'the settings file must hold one document; later documents are ignored',
        );
      }
    }
  }
  mergePermitEnv(settings, env, report);
  return { settings: Object.freeze(settings), diagnostics };
}

function applySettings(
  value: Record<string, unknown>,
  settings: Mutable<Settings>,
  posOf: (path: readonly (string | number)[]) => SourcePos,
  report: (code: ErrorCode, pos: SourcePos, message: string, path?: string) => void,
): void {
  const broken = new Set<string>();
  for (const issue of validateSchema(SETTINGS_SCHEMA, value)) {
    const top = String(issue.path[0] ?? '');
    const unknownTop = issue.kind === 'unknown' && issue.path.length === 1;
    let message = issue.message;
    if (unknownTop) {
      message += '; it is ignored';
    } else if (!broken.has(top)) {
      message += `; using the default for ${top}: ${describeDefault((settings as unknown as Record<string, unknown>)[top])}`;
    }
    report(
      issue.kind === 'unknown' ? 'PCL_SETTINGS_UNKNOWN_FIELD' : 'PCL_SETTINGS_INVALID',
      posOf(issue.path),
      message,
      formatPath(issue.path),
    );
    if (!unknownTop) broken.add(top);
  }
  const take = (key: string): unknown => (broken.has(key) ? undefined : (value[key] ?? undefined));

  const trustDomain = take('trustDomain');
  if (typeof trustDomain === 'string') settings.trustDomain = trustDomain;
  const rootNamespace = take('rootNamespace');
  if (typeof rootNamespace === 'string') settings.rootNamespace = rootNamespace;
  const gatewayClasses = take('gatewayClasses');
  if (isPlainObject(gatewayClasses)) settings.gatewayClasses = { ...(gatewayClasses as Settings['gatewayClasses']) };
  const egressPolicies = take('egressPolicies');
  if (Array.isArray(egressPolicies)) settings.egressPolicies = egressPolicies as Settings['egressPolicies'];
  const egressGateway = take('egressGateway');
  if (isPlainObject(egressGateway)) settings.egressGateway = { defaultDeny: egressGateway.defaultDeny === true };
  const permit = take('permitCrossNamespaceResourceAccess');
  if (Array.isArray(permit)) settings.permitCrossNamespaceResourceAccess = permit as string[];
  const allowed = take('allowedPrivateCidrs');
  if (Array.isArray(allowed)) settings.allowedPrivateCidrs = allowed as string[];
  const system = take('systemNamespaces');
  if (Array.isArray(system)) settings.systemNamespaces = system as string[];
  const perimeter = take('perimeter');
  if (isPlainObject(perimeter)) settings.perimeter = perimeter as Settings['perimeter'];
  const configLimits = take('configLimits');
  if (isPlainObject(configLimits))
    settings.configLimits = Object.freeze({
      ...DEFAULT_CONFIG_LIMITS,
      ...(configLimits as Partial<Settings['configLimits']>),
    });
  const controllerName = take('controllerName');
  if (typeof controllerName === 'string') settings.controllerName = controllerName;
  const pathNormalization = take('pathNormalization');
  if (isPlainObject(pathNormalization) && typeof pathNormalization.normalization === 'string') {
    const n = pathNormalization.normalization;
    settings.pathNormalization = { normalization: n === 'DEFAULT' ? 'BASE' : (n as PathNormalization) };
  }
  const limits = take('limits');
  if (isPlainObject(limits)) settings.limits = readLimits(limits);
  if (take('learn') === true) settings.learn = true;
}

/** Each top-level field's position in the file, so findings and errors about a setting can name its line. */
function fieldPositions(
  value: Record<string, unknown>,
  posOf: (path: readonly (string | number)[]) => SourcePos,
): Record<string, SourcePos> {
  const out: Record<string, SourcePos> = {};
  for (const key of Object.keys(value)) out[key] = posOf([key]);
  return out;
}

/** Merge the environment variable's entries into the file's list, keeping order and dropping duplicates. */
function mergePermitEnv(
  settings: Mutable<Settings>,
  env: Record<string, string | undefined>,
  report: (code: ErrorCode, pos: SourcePos, message: string, path?: string) => void,
): void {
  const raw = env[PERMIT_CROSS_NAMESPACE_ENV];
  if (raw === undefined || raw.trim() === '') return;
  const merged = [...settings.permitCrossNamespaceResourceAccess];
  for (const entry of raw.split(',').map((s) => s.trim())) {
    if (entry === '') continue;
    const problem = checkNamespaceServiceAccount(entry);
    if (problem !== undefined) {
      // Environment variables have no line; 0:0 marks "no position".
      report(
        'PCL_SETTINGS_ENV_INVALID',
        { file: `$${PERMIT_CROSS_NAMESPACE_ENV}`, line: 0, column: 0 },
        `Invalid value: ${JSON.stringify(entry)}: ${problem}; the entry is ignored`,
      );
      continue;
    }
    if (!merged.includes(entry)) merged.push(entry);
  }
  settings.permitCrossNamespaceResourceAccess = merged;
}

// ---- limits: counts are positive integers, durations Go-style (`10s`, `5m`) and at least 1 ms ----

// Functions, not constants: SETTINGS_SCHEMA above is built while this module loads, before a const here exists.
function limitCounts() {
  return [
    'maxConnections',
    'maxPendingHandshakes',
    'maxPendingHandshakesPerSource',
    'maxTunnels',
    'maxTunnelsPerIdentity',
    'maxTunnelsPerSession',
  ] as const;
}

/** YAML name → field (milliseconds). */
function limitDurations() {
  return {
    handshakeTimeout: 'handshakeTimeoutMs',
    tcpIdleTimeout: 'tcpIdleTimeoutMs',
    httpIdleTimeout: 'httpIdleTimeoutMs',
  } as const;
}

function checkLimitDuration(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const ns = parseDuration(value);
  return ns !== undefined && ns >= 1e6 ? undefined : 'must be a duration of at least 1ms, e.g. "10s", "5m" or "1h"';
}

function limitsSchema() {
  const fields: Record<string, ReturnType<typeof int> | ReturnType<typeof str>> = {};
  for (const k of limitCounts()) fields[k] = int({ minimum: 1 });
  for (const k of Object.keys(limitDurations())) fields[k] = str({ check: checkLimitDuration });
  return obj(fields);
}

function readLimits(value: Record<string, unknown>): Partial<GatewayLimits> {
  const out: Partial<Record<keyof GatewayLimits, number>> = {};
  for (const k of limitCounts()) if (typeof value[k] === 'number') out[k] = value[k];
  for (const [yamlName, field] of Object.entries(limitDurations())) {
    const text = value[yamlName];
    if (typeof text === 'string') out[field] = Math.round((parseDuration(text) ?? 0) / 1e6);
  }
  return out;
}
