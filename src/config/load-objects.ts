/**
 * Load objects read from the Kubernetes API through exactly the validation, duplicate and last-good rules of a
 * folder (load.ts): each object is one source named `Kind namespace/name`, and every finding names that object and
 * its field path (line 0: there is no file to point into).
 */
import { loadConfigTexts } from './load.ts';
import type { LoadResult } from './load.ts';
import type { Diagnostic, Resource, SourcePos } from './types.ts';
import type { ConfigFile } from './yaml-documents.ts';

/** An object as the API returns it (plain JSON). */
export type ApiObject = Readonly<Record<string, unknown>>;

export interface LoadObjectsOptions {
  /** `portcullis.yaml` (from `--settings FILE`), or null for the defaults. */
  readonly settings?: ConfigFile | null;
  readonly env?: Record<string, string | undefined>;
  /** The last result: an object invalid now but valid there keeps its previous version. */
  readonly previous?: LoadResult;
}

/** `Kind namespace/name` (or `Kind name` when cluster-scoped): what messages show instead of a file name. */
export function objectName(o: ApiObject): string {
  const meta = (typeof o.metadata === 'object' && o.metadata !== null ? o.metadata : {}) as Record<string, unknown>;
  const ns = typeof meta.namespace === 'string' && meta.namespace !== '' ? `${meta.namespace}/` : '';
  return `${typeof o.kind === 'string' ? o.kind : '?'} ${ns}${typeof meta.name === 'string' ? meta.name : '?'}`;
}

/**
 * The fields the API server adds that say nothing about configuration; dropping them keeps an object's text (and so
 * the per-object cache of load.ts) unchanged when only its resourceVersion or managedFields moved.
 */
function configOnly(o: ApiObject): ApiObject {
  const meta = o.metadata;
  if (typeof meta !== 'object' || meta === null) return o;
  const { managedFields: _m, resourceVersion: _r, uid: _u, selfLink: _s, ...rest } = meta as Record<string, unknown>;
  return { ...o, metadata: rest };
}

/** Resources re-placed at their object (memoized, so an unchanged object stays the same value across reloads). */
const PLACED = new WeakMap<Resource, Resource>();

function placed(r: Resource): Resource {
  let out = PLACED.get(r);
  if (out === undefined) {
    const at: SourcePos = Object.freeze({ file: r.source.file, line: 0, column: 0 });
    out = Object.freeze({ ...r, source: at, posOf: () => at });
    PLACED.set(r, out);
  }
  return out;
}

/**
 * Validate and load API objects. Pure, like loadConfigTexts: the same objects give the same result, and with
 * `previous` only objects whose content changed are validated again.
 */
export function loadApiObjects(objects: readonly ApiObject[], opts: LoadObjectsOptions = {}): LoadResult {
  const files: ConfigFile[] = objects.map((o) => ({ path: objectName(o), text: JSON.stringify(configOnly(o)) }));
  const result = loadConfigTexts(files, opts);
  const names = new Set(files.map((f) => f.path));
  // A position inside the JSON text means nothing to a user: the object and the field path say where.
  const place = (p: SourcePos): SourcePos => (names.has(p.file) ? { file: p.file, line: 0, column: 0 } : p);
  result.diagnostics.splice(
    0,
    result.diagnostics.length,
    ...result.diagnostics.map((d): Diagnostic => ({ ...d, ...place(d) })),
  );
  result.resources.splice(
    0,
    result.resources.length,
    ...result.resources.map((r) => (names.has(r.source.file) ? placed(r) : r)),
  );
  return result;
}
