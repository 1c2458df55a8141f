/**
 * HTTPRoute (gateway.networking.k8s.io/v1) semantics: the CRD's CEL rules, plus Istio's conversion checks
 * on backendRefs and parentRefs (istio/istio pilot/pkg/config/kube/gateway/conversion.go `buildDestination`,
 * `allowedParentReferences`). Defaults the API server applies before CEL runs are applied the same way:
 * parentRef group/kind `gateway.networking.k8s.io`/`Gateway`, backendRef group/kind `""`/`Service`,
 * a rule without matches has one `PathPrefix /` match.
 */
import type { FieldPath } from '../types.ts';
import type { RuleContext, SemanticRule } from './rule-context.ts';
import { asList, asNumber, asObject, asString, has, stringList, type Data } from './data-access.ts';
import { parseDuration } from './duration.ts';
import { celInvalid } from './messages.ts';

const GATEWAY_GROUP = 'gateway.networking.k8s.io';
const ISTIO_GROUP = 'networking.istio.io';
const MAX_TOTAL_MATCHES = 128;
const PATH_CHARACTERS = "^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$";
/** Filter `type` → the field that must be set for it (and only for it). */
const FILTER_FIELDS: ReadonlyArray<readonly [type: string, field: string]> = [
  ['CORS', 'cors'],
  ['RequestHeaderModifier', 'requestHeaderModifier'],
  ['ResponseHeaderModifier', 'responseHeaderModifier'],
  ['RequestMirror', 'requestMirror'],
  ['RequestRedirect', 'requestRedirect'],
  ['URLRewrite', 'urlRewrite'],
  ['ExtensionRef', 'extensionRef'],
];
const NON_REPEATABLE_FILTERS = [
  'CORS',
  'RequestHeaderModifier',
  'ResponseHeaderModifier',
  'RequestRedirect',
  'URLRewrite',
];
/** Istio's supported backendRef kinds, by group (`buildDestination`). */
const SUPPORTED_BACKENDS: ReadonlyArray<{ group: string; kind: string }> = [
  { group: '', kind: 'Service' },
  { group: ISTIO_GROUP, kind: 'Hostname' },
  { group: 'multicluster.x-k8s.io', kind: 'ServiceImport' },
  { group: 'inference.networking.k8s.io', kind: 'InferencePool' },
  { group: 'inference.networking.x-k8s.io', kind: 'InferencePool' },
  { group: 'gateway.networking.x-k8s.io', kind: 'XBackend' },
];
/** Istio's supported parent kinds (`allowedParentReferences`). */
const SUPPORTED_PARENTS: ReadonlyArray<{ group: string; kind: string }> = [
  { group: GATEWAY_GROUP, kind: 'Gateway' },
  { group: '', kind: 'Service' },
  { group: ISTIO_GROUP, kind: 'ServiceEntry' },
  { group: GATEWAY_GROUP, kind: 'ListenerSet' },
  { group: 'gateway.networking.x-k8s.io', kind: 'XListenerSet' },
];

export const httpRouteRule: SemanticRule = (doc, ctx) => {
  const spec = asObject(doc.spec);
  if (spec === undefined) return;
  checkParentRefs(asList(spec.parentRefs) ?? [], ctx);
  const rules = asList(spec.rules) ?? [];
  const totalMatches = rules.reduce<number>((sum, rule) => sum + matchesOf(asObject(rule) ?? {}).length, 0);
  if (totalMatches > MAX_TOTAL_MATCHES) {
    ctx.error(
      ['spec', 'rules'],
      'PCL_VALIDATION_HTTP_ROUTE_RULE',
      celInvalid(
        'array',
        'While 16 rules and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less than 128',
      ),
    );
  }
  rules.forEach((rule, i) => checkRule(asObject(rule) ?? {}, ['spec', 'rules', i], ctx));
};

/** A rule's matches with the CRD default applied. */
function matchesOf(rule: Data): readonly unknown[] {
  return asList(rule.matches) ?? [{ path: { type: 'PathPrefix', value: '/' } }];
}

function checkParentRefs(parentRefs: readonly unknown[], ctx: RuleContext): void {
  const code = 'PCL_VALIDATION_HTTP_ROUTE_PARENT_REF';
  const refs = parentRefs.map((p) => {
    const ref = asObject(p) ?? {};
    return {
      group: asString(ref.group) ?? GATEWAY_GROUP,
      kind: asString(ref.kind) ?? 'Gateway',
      name: asString(ref.name) ?? '',
      namespace: asString(ref.namespace) ?? '',
      sectionName: asString(ref.sectionName) ?? '',
    };
  });
  const sameParent = (a: (typeof refs)[number], b: (typeof refs)[number]) =>
    a.group === b.group && a.kind === b.kind && a.name === b.name && a.namespace === b.namespace;
  const path = ['spec', 'parentRefs'];
  if (refs.some((a) => refs.some((b) => sameParent(a, b) && (a.sectionName === '') !== (b.sectionName === '')))) {
    ctx.error(
      path,
      code,
      celInvalid(
        'array',
        'sectionName must be specified when parentRefs includes 2 or more references to the same parent',
      ),
    );
  }
  if (refs.some((a) => refs.filter((b) => sameParent(a, b) && a.sectionName === b.sectionName).length !== 1)) {
    ctx.error(
      path,
      code,
      celInvalid(
        'array',
        'sectionName must be unique when parentRefs includes 2 or more references to the same parent',
      ),
    );
  }
  refs.forEach((ref, i) => {
    const group = ref.group === 'core' ? '' : ref.group;
    if (!SUPPORTED_PARENTS.some((p) => p.group === group && p.kind === ref.kind)) {
      // Istio accepts the route but never attaches it to such a parent (status `unsupported parent`).
      ctx.warn(
        [...path, i],
        code,
        `unsupported parent: group ${JSON.stringify(ref.group)} kind ${JSON.stringify(ref.kind)}`,
      );
    }
  });
}

function checkRule(rule: Data, path: FieldPath, ctx: RuleContext): void {
  const matches = matchesOf(rule);
  matches.forEach((match, j) => checkPathMatch(asObject(asObject(match)?.path), [...path, 'matches', j, 'path'], ctx));

  const filters = asList(rule.filters) ?? [];
  const backendRefs = asList(rule.backendRefs) ?? [];
  if (backendRefs.length > 0 && filters.some((f) => has(asObject(f), 'requestRedirect'))) {
    ctx.error(
      path,
      'PCL_VALIDATION_HTTP_ROUTE_FILTER',
      celInvalid('object', 'RequestRedirect filter must not be used together with backendRefs'),
    );
  }
  // After defaulting, a match always has a path and a path's type defaults to PathPrefix.
  const firstPath = asObject(asObject(matches[0])?.path);
  const singlePrefixMatch = matches.length === 1 && (asString(firstPath?.type) ?? 'PathPrefix') === 'PathPrefix';
  const prefixMessage = (where: string, filter: string) =>
    `${where}${filter} filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified`;
  if (countReplacePrefix(filters, 'requestRedirect') === 1 && !singlePrefixMatch) {
    ctx.error(
      path,
      'PCL_VALIDATION_HTTP_ROUTE_RULE',
      celInvalid('object', prefixMessage('When using ', 'RequestRedirect')),
    );
  }
  if (countReplacePrefix(filters, 'urlRewrite') === 1 && !singlePrefixMatch) {
    ctx.error(path, 'PCL_VALIDATION_HTTP_ROUTE_RULE', celInvalid('object', prefixMessage('When using ', 'URLRewrite')));
  }
  const backendsWith = (field: string) =>
    backendRefs.filter((b) => countReplacePrefix(asList(asObject(b)?.filters) ?? [], field) === 1).length === 1;
  if (backendsWith('requestRedirect') && !singlePrefixMatch) {
    ctx.error(
      path,
      'PCL_VALIDATION_HTTP_ROUTE_RULE',
      celInvalid('object', prefixMessage('Within backendRefs, when using ', 'RequestRedirect')),
    );
  }
  if (backendsWith('urlRewrite') && !singlePrefixMatch) {
    ctx.error(
      path,
      'PCL_VALIDATION_HTTP_ROUTE_RULE',
      celInvalid('object', prefixMessage('Within backendRefs, When using ', 'URLRewrite')),
    );
  }

  checkFilters(filters, [...path, 'filters'], ctx);
  backendRefs.forEach((value, k) => {
    const backendRef = asObject(value) ?? {};
    const refPath = [...path, 'backendRefs', k];
    checkBackendRef(backendRef, refPath, ctx);
    checkFilters(asList(backendRef.filters) ?? [], [...refPath, 'filters'], ctx);
  });
  checkTimeouts(asObject(rule.timeouts), [...path, 'timeouts'], ctx);
}

/** How many filters set `<field>.path.type: ReplacePrefixMatch` with a `replacePrefixMatch` (CEL `exists_one`). */
function countReplacePrefix(filters: readonly unknown[], field: string): number {
  return filters.filter((f) => {
    const pathModifier = asObject(asObject(asObject(f)?.[field])?.path);
    return asString(pathModifier?.type) === 'ReplacePrefixMatch' && has(pathModifier, 'replacePrefixMatch');
  }).length;
}

function checkPathMatch(pathMatch: Data | undefined, path: FieldPath, ctx: RuleContext): void {
  if (pathMatch === undefined) return;
  const code = 'PCL_VALIDATION_HTTP_ROUTE_MATCH';
  const type = asString(pathMatch.type) ?? 'PathPrefix';
  const value = asString(pathMatch.value) ?? '/';
  const fail = (message: string) => ctx.error(path, code, celInvalid('object', message));
  if (type !== 'Exact' && type !== 'PathPrefix') {
    if (type !== 'RegularExpression') fail("type must be one of ['Exact', 'PathPrefix', 'RegularExpression']");
    return;
  }
  const types = "when type one of ['Exact', 'PathPrefix']";
  if (!value.startsWith('/')) fail(`value must be an absolute path and start with '/' ${types}`);
  for (const bad of ['//', '/./', '/../', '%2f', '%2F', '#']) {
    if (value.includes(bad)) fail(`must not contain '${bad}' ${types}`);
  }
  for (const bad of ['/..', '/.']) {
    if (value.endsWith(bad)) fail(`must not end with '${bad}' ${types}`);
  }
  if (!new RegExp(PATH_CHARACTERS).test(value)) {
    fail(`must only contain valid characters (matching ${PATH_CHARACTERS}) for types ['Exact', 'PathPrefix']`);
  }
}

/** Filter-list CEL rules (exclusivity, repetition) and per-filter rules (type ↔ field, path modifiers). */
function checkFilters(filters: readonly unknown[], path: FieldPath, ctx: RuleContext): void {
  if (filters.length === 0) return;
  const code = 'PCL_VALIDATION_HTTP_ROUTE_FILTER';
  const types = filters.map((f) => asString(asObject(f)?.type) ?? '');
  if (types.includes('RequestRedirect') && types.includes('URLRewrite')) {
    ctx.error(
      path,
      code,
      celInvalid(
        'array',
        'May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both',
      ),
    );
  }
  for (const type of NON_REPEATABLE_FILTERS) {
    if (types.filter((t) => t === type).length > 1)
      ctx.error(path, code, celInvalid('array', `${type} filter cannot be repeated`));
  }
  filters.forEach((value, i) => {
    const filter = asObject(value) ?? {};
    const filterPath = [...path, i];
    const type = types[i];
    for (const [filterType, field] of FILTER_FIELDS) {
      if (has(filter, field) && type !== filterType) {
        ctx.error(
          filterPath,
          code,
          celInvalid('object', `filter.${field} must be nil if the filter.type is not ${filterType}`),
        );
      }
      if (!has(filter, field) && type === filterType) {
        ctx.error(
          filterPath,
          code,
          celInvalid('object', `filter.${field} must be specified for ${filterType} filter.type`),
        );
      }
    }
    checkCors(asObject(filter.cors), [...filterPath, 'cors'], ctx);
    checkMirror(asObject(filter.requestMirror), [...filterPath, 'requestMirror'], ctx);
    checkPathModifier(
      asObject(asObject(filter.requestRedirect)?.path),
      [...filterPath, 'requestRedirect', 'path'],
      ctx,
    );
    checkPathModifier(asObject(asObject(filter.urlRewrite)?.path), [...filterPath, 'urlRewrite', 'path'], ctx);
  });
}

function checkCors(cors: Data | undefined, path: FieldPath, ctx: RuleContext): void {
  if (cors === undefined) return;
  const rules = [
    ['allowHeaders', "AllowHeaders cannot contain '*' alongside other methods"],
    ['allowMethods', "AllowMethods cannot contain '*' alongside other methods"],
    ['allowOrigins', "AllowOrigins cannot contain '*' alongside other origins"],
  ] as const;
  for (const [field, message] of rules) {
    const values = stringList(cors[field]);
    if (values.includes('*') && values.length > 1)
      ctx.error([...path, field], 'PCL_VALIDATION_HTTP_ROUTE_FILTER', celInvalid('array', message));
  }
}

function checkMirror(mirror: Data | undefined, path: FieldPath, ctx: RuleContext): void {
  if (mirror === undefined) return;
  const code = 'PCL_VALIDATION_HTTP_ROUTE_FILTER';
  if (has(mirror, 'percent') && has(mirror, 'fraction')) {
    ctx.error(
      path,
      code,
      celInvalid('object', 'Only one of percent or fraction may be specified in HTTPRequestMirrorFilter'),
    );
  }
  const backendRef = asObject(mirror.backendRef);
  if (
    backendRef !== undefined &&
    (asString(backendRef.group) ?? '') === '' &&
    (asString(backendRef.kind) ?? 'Service') === 'Service' &&
    !has(backendRef, 'port')
  ) {
    ctx.error([...path, 'backendRef'], code, celInvalid('object', 'Must have port for Service reference'));
  }
  const fraction = asObject(mirror.fraction);
  if (fraction !== undefined) {
    const numerator = asNumber(fraction.numerator) ?? 0;
    const denominator = asNumber(fraction.denominator) ?? 100;
    if (numerator > denominator)
      ctx.error(
        [...path, 'fraction'],
        code,
        celInvalid('object', 'numerator must be less than or equal to denominator'),
      );
  }
}

/** `requestRedirect.path` / `urlRewrite.path`: the `type` names the one field that is set. */
function checkPathModifier(modifier: Data | undefined, path: FieldPath, ctx: RuleContext): void {
  if (modifier === undefined) return;
  const type = asString(modifier.type);
  const fail = (message: string) => ctx.error(path, 'PCL_VALIDATION_HTTP_ROUTE_FILTER', celInvalid('object', message));
  if (type === 'ReplaceFullPath' && !has(modifier, 'replaceFullPath'))
    fail("replaceFullPath must be specified when type is set to 'ReplaceFullPath'");
  if (has(modifier, 'replaceFullPath') && type !== 'ReplaceFullPath')
    fail("type must be 'ReplaceFullPath' when replaceFullPath is set");
  if (type === 'ReplacePrefixMatch' && !has(modifier, 'replacePrefixMatch'))
    fail("replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'");
  if (has(modifier, 'replacePrefixMatch') && type !== 'ReplacePrefixMatch')
    fail("type must be 'ReplacePrefixMatch' when replacePrefixMatch is set");
}

/** CEL port rule for Service backends, then Istio's `buildDestination` kind checks. */
function checkBackendRef(ref: Data, path: FieldPath, ctx: RuleContext): void {
  const code = 'PCL_VALIDATION_HTTP_ROUTE_BACKEND_REF';
  const group = asString(ref.group) ?? '';
  const kind = asString(ref.kind) ?? 'Service';
  if (group === '' && kind === 'Service' && !has(ref, 'port')) {
    ctx.error(path, code, celInvalid('object', 'Must have port for Service reference'));
    return;
  }
  const canonicalGroup = group === 'core' ? '' : group;
  if (!SUPPORTED_BACKENDS.some((b) => b.group === canonicalGroup && b.kind === kind)) {
    ctx.error(
      path,
      code,
      `referencing unsupported backendRef: group ${JSON.stringify(group)} kind ${JSON.stringify(kind)}`,
    );
    return;
  }
  if (canonicalGroup === ISTIO_GROUP && kind === 'Hostname') {
    // The name is the literal hostname (e.g. a ServiceEntry host), which is not namespaced.
    if ((asString(ref.namespace) ?? '') !== '')
      ctx.error([...path, 'namespace'], code, 'namespace may not be set with Hostname type');
    if (!has(ref, 'port')) ctx.error(path, code, 'port is required in backendRef');
  }
}

function checkTimeouts(timeouts: Data | undefined, path: FieldPath, ctx: RuleContext): void {
  if (timeouts === undefined) return;
  const request = asString(timeouts.request);
  const backendRequest = asString(timeouts.backendRequest);
  if (request === undefined || backendRequest === undefined) return;
  const requestNanos = parseDuration(request);
  const backendNanos = parseDuration(backendRequest);
  if (requestNanos === undefined || backendNanos === undefined) return;
  if (requestNanos !== 0 && backendNanos > requestNanos) {
    ctx.error(
      path,
      'PCL_VALIDATION_HTTP_ROUTE_RULE',
      celInvalid('object', 'backendRequest timeout cannot be longer than request timeout'),
    );
  }
}
