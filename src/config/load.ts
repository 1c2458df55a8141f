/**
 * Load manifests into validated resources: multi-document files and `kind: List`, known kinds validated
 * (structure, then semantic rules), other kinds listed as ignored, duplicates refused on the later document,
 * and, on reload, the last good version of a resource (and of the settings) kept while its new version is invalid.
 * What is invalid with no good version is listed in `invalid`, so the compiler can fail closed on it.
 */
import { CLUSTER_SCOPED_KINDS, formatPath, resourceKey } from './types.ts';
import type { Diagnostic, FieldPath, IgnoredDocument, ObjectMeta, Resource, SourcePos } from './types.ts';
import type { Settings } from './settings-types.ts';
import { parseSettings } from './settings.ts';
import { parseYamlFile } from './yaml-documents.ts';
import type { ConfigFile } from './yaml-documents.ts';
import { kindDefinition } from './schema/index.ts';
import { isPlainObject } from './schema/validate.ts';
import { DocumentReporter, validateDocument } from './validate-document.ts';
import { readConfigDir } from './config-dir.ts';
import { PortcullisError } from '../errors/portcullis-error.ts';

export type { ConfigFile } from './yaml-documents.ts';

export interface LoadResult {
  /** Valid resources of known kinds, one per kind/namespace/name, in file order. */
  readonly resources: Resource[];
  /** Documents of other kinds, kept raw (the audit reads Kyverno and ValidatingAdmissionPolicy objects here). */
  readonly ignored: IgnoredDocument[];
  /** Every error, warning and info, each with a code and a place. */
  readonly diagnostics: Diagnostic[];
  readonly settings: Settings;
  /** The manifest files read, as shown in messages. */
  readonly files: string[];
  /**
   * Documents of known kinds refused with no last good version to keep. They are not in `resources`; the compiler
   * makes each fail closed (a policy denies its layers, a route's parents answer 503, ...) until fixed or deleted.
   */
  readonly invalid: InvalidResource[];
}

/** A refused document of a known kind, as far as it could be read. */
export interface InvalidResource {
  readonly kind: string;
  readonly namespace: string;
  /** '' when the document has no readable name. */
  readonly name: string;
  /** The document as parsed (any shape: the compiler reads only what it can, e.g. targetRefs). */
  readonly raw: unknown;
  /** Where the document starts. */
  readonly source: SourcePos;
  /** The first error: its code, place and text (with the field path). */
  readonly error: Diagnostic;
}

/** The settings file's errors, if any (then the defaults, or on reload the last good settings, are in force). */
function settingsErrors(load: LoadResult): Diagnostic[] {
  return load.diagnostics.filter((d) => d.severity === 'error' && d.code.startsWith('PCL_SETTINGS_'));
}

/**
 * Refuse to start on invalid settings: `serve` never runs on defaults it was not given (a misspelt egressPolicies
 * would otherwise become "no egressPolicies"). Throws PCL_SETTINGS_INVALID naming each error's file:line.
 */
export function assertSettingsValid(load: LoadResult): void {
  const errors = settingsErrors(load);
  if (errors.length === 0) return;
  const lines = errors.map(
    (d) => `  ${d.file}:${d.line}:${d.column}: [${d.code}] ${d.path ? `${d.path}: ` : ''}${d.message}`,
  );
  throw new PortcullisError(
    'PCL_SETTINGS_INVALID',
    `the settings are invalid, so the gateway does not start:\n${lines.join('\n')}`,
  );
}

export interface LoadOptions {
  readonly settings?: ConfigFile | null;
  readonly env?: Record<string, string | undefined>;
  /** The last result: a resource invalid now but valid there keeps its previous version. */
  readonly previous?: LoadResult;
}

/** One object to load: a whole document, or one item of a `kind: List`. */
interface Entry {
  readonly value: unknown;
  readonly start: SourcePos;
  posOf(path: FieldPath): SourcePos;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function isListDocument(value: Record<string, unknown>): boolean {
  // `kubectl get -o yaml` prints `kind: List`; typed lists (`ServiceEntryList`) have the same shape.
  return typeof value.kind === 'string' && value.kind.endsWith('List') && 'items' in value && !('spec' in value);
}

/** What one document (or List item) produced, before duplicates across files are resolved. */
type Outcome =
  | { readonly type: 'other'; readonly diagnostics: readonly Diagnostic[] }
  | { readonly type: 'ignored'; readonly document: IgnoredDocument; readonly diagnostics: readonly Diagnostic[] }
  | {
      readonly type: 'known';
      readonly key: string | undefined;
      readonly who: { kind: string; namespace: string; name: string };
      readonly start: SourcePos;
      readonly diagnostics: readonly Diagnostic[];
      /** Set when the document is valid. */
      readonly resource: Resource | undefined;
      /** The document as parsed, kept for a refused one. */
      readonly raw: unknown;
    };

/** One file's outcomes: reused on reload while the file's text and the settings are unchanged. */
interface FileOutcome {
  readonly text: string;
  readonly settingsKey: string;
  readonly syntaxErrors: readonly { pos: SourcePos; reason: string; code?: Diagnostic['code'] }[];
  readonly outcomes: readonly Outcome[];
}

/** Per-result file cache, so a reload re-parses only the files that changed. */
const FILE_CACHE = new WeakMap<LoadResult, ReadonlyMap<string, FileOutcome>>();

/** Load manifests from texts. Pure: no files, no clock; the same input gives the same output. */
export function loadConfigTexts(files: readonly ConfigFile[], opts: LoadOptions = {}): LoadResult {
  const parsedSettings = parseSettings(opts.settings ?? null, opts.env ?? {});
  const diagnostics = parsedSettings.diagnostics;
  let settings = parsedSettings.settings;
  const badSettings = diagnostics.find((d) => d.severity === 'error');
  if (badSettings !== undefined && opts.previous !== undefined) {
    // Invalid settings never half-apply on reload: the last good settings stay in force until the file validates.
    settings = opts.previous.settings;
    diagnostics.push({
      code: 'PCL_CONFIG_KEPT_LAST_GOOD',
      severity: 'warning',
      file: badSettings.file,
      line: badSettings.line,
      column: badSettings.column,
      message: `the settings are invalid (${badSettings.message}); the last good settings stay in force`,
    });
  }
  const settingsKey = JSON.stringify(settings);
  const previousCache = opts.previous ? FILE_CACHE.get(opts.previous) : undefined;
  const cache = new Map<string, FileOutcome>();
  for (const file of files) {
    const cached = previousCache?.get(file.path);
    const outcome =
      cached && cached.text === file.text && cached.settingsKey === settingsKey
        ? cached
        : loadFile(file, settings, settingsKey);
    cache.set(file.path, outcome);
  }

  const resources: Resource[] = [];
  const ignored: IgnoredDocument[] = [];
  /** Key → where it was first defined. */
  const claimed = new Map<string, SourcePos>();
  /** Keys whose document was refused, with the first error and its place. */
  const refused = new Map<string, { pos: SourcePos; reason: string }>();
  /** Every refused document of a known kind; those left without a good version are the result's `invalid`. */
  const refusedDocs: { key: string | undefined; doc: InvalidResource }[] = [];
  /** Files with a YAML syntax error → the first error (their documents may be unreadable, so unknown keys). */
  const brokenFiles = new Map<string, { pos: SourcePos; reason: string }>();

  for (const file of files) {
    const fileOutcome = cache.get(file.path) as FileOutcome;
    for (const err of fileOutcome.syntaxErrors) {
      diagnostics.push({
        code: err.code ?? 'PCL_CONFIG_YAML_SYNTAX',
        severity: 'error',
        ...err.pos,
        message: err.reason,
      });
      if (!brokenFiles.has(file.path)) brokenFiles.set(file.path, err);
    }
    for (const o of fileOutcome.outcomes) {
      if (o.type === 'other') {
        diagnostics.push(...o.diagnostics);
      } else if (o.type === 'ignored') {
        ignored.push(o.document);
        diagnostics.push(...o.diagnostics);
      } else {
        const { key, who, start } = o;
        const first = key === undefined ? undefined : claimed.get(key);
        if (first !== undefined) {
          diagnostics.push({
            code: 'PCL_CONFIG_DUPLICATE_RESOURCE',
            severity: 'error',
            ...start,
            ...who,
            message: `${who.kind} ${who.namespace ? `${who.namespace}/` : ''}${who.name} is already defined at ${first.file}:${first.line}:${first.column}; this later definition is left out`,
          });
          continue;
        }
        if (key !== undefined) claimed.set(key, start);
        diagnostics.push(...o.diagnostics);
        if (o.resource !== undefined) {
          resources.push(o.resource);
        } else {
          const firstError = o.diagnostics.find((d) => d.severity === 'error');
          if (firstError !== undefined) {
            if (key !== undefined)
              refused.set(key, {
                pos: start,
                reason: `${firstError.path ? `${firstError.path}: ` : ''}${firstError.message}`,
              });
            refusedDocs.push({ key, doc: { ...who, raw: o.raw, source: start, error: firstError } });
          }
        }
      }
    }
  }

  // Nothing refused and no broken file: no previous resource can be kept, so skip the walk over all of them.
  if (opts.previous && (refused.size > 0 || brokenFiles.size > 0))
    keepLastGood(opts.previous, resources, claimed, refused, brokenFiles, diagnostics);

  const kept = new Set(resources.map((r) => r.key));
  const invalid = refusedDocs.filter((r) => r.key === undefined || !kept.has(r.key)).map((r) => r.doc);
  const result: LoadResult = { resources, ignored, diagnostics, settings, files: files.map((f) => f.path), invalid };
  FILE_CACHE.set(result, cache);
  return result;
}

/** Parse and validate every document of one file, independently of the other files. */
function loadFile(file: ConfigFile, settings: Settings, settingsKey: string): FileOutcome {
  const parsed = parseYamlFile(file, settings.configLimits);
  const outcomes: Outcome[] = [];
  // A parse limit has its own code and message; anything else is a YAML syntax error.
  const syntaxErrors = parsed.errors.map((err) => ({
    pos: { file: err.file, line: err.line, column: err.column },
    reason: err.code ? err.message : `YAML syntax error: ${err.message}`,
    code: err.code,
  }));

  const loadEntry = (entry: Entry): void => {
    const local: Diagnostic[] = [];
    const at = (
      path: FieldPath,
      severity: Diagnostic['severity'],
      code: Diagnostic['code'],
      message: string,
      who?: { kind?: string; namespace?: string; name?: string },
    ) => {
      const pos = entry.posOf(path);
      local.push({
        code,
        severity,
        file: pos.file,
        line: pos.line,
        column: pos.column,
        ...who,
        path: path.length ? formatPath(path) : undefined,
        message,
      });
    };
    const doc = entry.value;
    if (!isPlainObject(doc)) {
      at(
        [],
        'error',
        'PCL_CONFIG_NOT_AN_OBJECT',
        `a document must be a Kubernetes object (a mapping with apiVersion, kind and metadata), found ${Array.isArray(doc) ? 'a list' : typeof doc}`,
      );
      outcomes.push({ type: 'other', diagnostics: local });
      return;
    }
    if (isListDocument(doc)) {
      const items = doc.items;
      if (!Array.isArray(items)) {
        at(
          ['items'],
          'error',
          'PCL_CONFIG_TYPE',
          `Invalid value: ${items === null ? '"null"' : '"object"'}: must be of type array`,
        );
        outcomes.push({ type: 'other', diagnostics: local });
        return;
      }
      items.forEach((value, i) => {
        loadEntry({ value, start: entry.posOf(['items', i]), posOf: (p) => entry.posOf(['items', i, ...p]) });
      });
      return;
    }
    const { kind, apiVersion } = doc;
    let identityOk = true;
    for (const [field, v] of [
      ['apiVersion', apiVersion],
      ['kind', kind],
    ] as const) {
      if (v === undefined || v === null || v === '') {
        at([field], 'error', 'PCL_CONFIG_REQUIRED', 'Required value');
        identityOk = false;
      } else if (typeof v !== 'string') {
        at([field], 'error', 'PCL_CONFIG_TYPE', `Invalid value: ${JSON.stringify(v)}: must be of type string`);
        identityOk = false;
      }
    }
    if (typeof kind !== 'string' || kind === '') {
      outcomes.push({ type: 'other', diagnostics: local });
      return;
    }
    const meta = isPlainObject(doc.metadata) ? doc.metadata : {};
    const definition = kindDefinition(kind);
    const name = typeof meta.name === 'string' ? meta.name : '';
    const clusterScoped = definition ? definition.clusterScoped : CLUSTER_SCOPED_KINDS.has(kind);
    const namespace = clusterScoped
      ? ''
      : typeof meta.namespace === 'string' && meta.namespace !== ''
        ? meta.namespace
        : definition
          ? 'default'
          : '';
    const who = { kind, namespace, name };

    if (definition === undefined) {
      if (!identityOk) {
        outcomes.push({ type: 'other', diagnostics: local });
        return;
      }
      at(
        [],
        'info',
        'PCL_CONFIG_IGNORED_KIND',
        `${String(apiVersion)} ${kind} ${namespace ? `${namespace}/` : ''}${name} is not a kind Portcullis acts on; it is listed as ignored`,
        who,
      );
      const document: IgnoredDocument = {
        kind,
        apiVersion: String(apiVersion),
        namespace,
        name,
        raw: deepFreeze(doc),
        source: entry.start,
      };
      outcomes.push({ type: 'ignored', document, diagnostics: local });
      return;
    }

    const key = name === '' ? undefined : resourceKey(kind, namespace, name);
    const reporter = new DocumentReporter(who, (p) => entry.posOf(p));
    const ok = identityOk && validateDocument(doc, definition, who, settings, reporter);
    local.push(...reporter.diagnostics);
    const resource =
      ok && key !== undefined ? makeResource(deepFreeze(doc), kind, namespace, name, key, entry) : undefined;
    outcomes.push({
      type: 'known',
      key,
      who,
      start: entry.start,
      diagnostics: local,
      resource,
      raw: resource === undefined ? doc : undefined,
    });
  };

  for (const doc of parsed.documents) loadEntry(doc);
  return { text: file.text, settingsKey, syntaxErrors, outcomes };
}

/**
 * Reload safety: a resource refused now but valid in `previous` keeps its previous version. A file with a YAML
 * syntax error may hide which resources it defined, so its previous resources that did not load now are kept too.
 */
function keepLastGood(
  previous: LoadResult,
  resources: Resource[],
  claimed: ReadonlyMap<string, SourcePos>,
  refused: ReadonlyMap<string, { pos: SourcePos; reason: string }>,
  brokenFiles: ReadonlyMap<string, { pos: SourcePos; reason: string }>,
  diagnostics: Diagnostic[],
): void {
  const loaded = new Set(resources.map((r) => r.key));
  for (const old of previous.resources) {
    if (loaded.has(old.key)) continue;
    const why = refused.get(old.key) ?? (!claimed.has(old.key) ? brokenFiles.get(old.source.file) : undefined);
    if (why === undefined) continue;
    resources.push(old);
    loaded.add(old.key);
    const { kind, namespace, name } = { kind: old.kind, namespace: old.metadata.namespace, name: old.metadata.name };
    diagnostics.push({
      code: 'PCL_CONFIG_KEPT_LAST_GOOD',
      severity: 'warning',
      file: why.pos.file,
      line: why.pos.line,
      column: why.pos.column,
      kind,
      namespace,
      name,
      message: `the new version of ${kind} ${namespace ? `${namespace}/` : ''}${name} is invalid (${why.reason}); the last good version from ${old.source.file}:${old.source.line} stays in force`,
    });
  }
}

function stringMap(value: unknown): Readonly<Record<string, string>> {
  return isPlainObject(value) ? (value as Record<string, string>) : {};
}

function makeResource(
  raw: Readonly<Record<string, unknown>>,
  kind: string,
  namespace: string,
  name: string,
  key: string,
  entry: Entry,
): Resource {
  const meta = raw.metadata as Record<string, unknown>;
  const metadata: ObjectMeta = Object.freeze({
    name,
    namespace,
    labels: stringMap(meta.labels),
    annotations: stringMap(meta.annotations),
    ...(typeof meta.creationTimestamp === 'string' ? { creationTimestamp: meta.creationTimestamp } : {}),
    ...(typeof meta.generation === 'number' ? { generation: meta.generation } : {}),
  });
  return Object.freeze({
    kind,
    apiVersion: raw.apiVersion as string,
    metadata,
    // An AuthorizationPolicy without spec is `spec: {}` (allow-nothing); a Secret keeps its data in `raw`.
    spec: raw.spec ?? Object.freeze({}),
    status: raw.status,
    raw,
    source: entry.start,
    posOf: (path: FieldPath) => entry.posOf(path),
    key,
  });
}

/** Read a --config directory (see config-dir.ts) and load it. */
export async function loadConfigDir(
  dir: string,
  opts: { settingsFile?: string; env?: Record<string, string | undefined>; previous?: LoadResult } = {},
): Promise<LoadResult> {
  const contents = await readConfigDir(dir, opts.settingsFile);
  const result = loadConfigTexts(contents.files, {
    settings: contents.settings,
    env: opts.env ?? process.env,
    previous: opts.previous,
  });
  // Same object (not a copy), so it stays usable as `previous` with its file cache.
  result.diagnostics.unshift(...contents.diagnostics);
  return result;
}
