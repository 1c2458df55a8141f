/**
 * Parse one YAML (or JSON) file into documents that keep their field positions, so every field path can be mapped
 * back to `file:line:column`. A syntax error spoils only its own document; the others still load. Parsing is
 * bounded (file size, documents per file, keys per mapping) and linear, and its result is plain data, so it can be
 * done on a worker thread (parse-off-thread.ts) and handed to the loader. The parser itself (yaml-parse.ts, the
 * `yaml` package's 72 modules) is loaded only by a thread that parses: a command whose files were parsed on the
 * worker never loads it.
 */
import { createRequire } from 'node:module';
import type { ErrorCode } from '../errors/catalogue.ts';
import type { FieldPath, SourcePos } from './types.ts';

/** A file to load: `path` is what messages show (relative to the --config directory when loaded from one). */
export interface ConfigFile {
  readonly path: string;
  readonly text: string;
}

export interface ParsedDocument {
  /** 0-based index of the document in its file. */
  readonly index: number;
  /** The document as plain data (YAML 1.2 core schema, so `yes` and timestamps stay strings, as in JSON). */
  readonly value: unknown;
  /** Position of the document's first node. */
  readonly start: SourcePos;
  /** Position of a field; falls back to the nearest ancestor that exists. */
  posOf(path: FieldPath): SourcePos;
}

export interface YamlSyntaxError {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
  /** Set when a parse limit refused the file or document (otherwise it is a YAML syntax error). */
  readonly code?: ErrorCode;
}

export interface ParsedFile {
  readonly documents: ParsedDocument[];
  readonly errors: YamlSyntaxError[];
}

/** The `configLimits` of portcullis.yaml that bound a parse. */
export interface ParseLimits {
  readonly maxFileBytes: number;
  readonly maxDocumentsPerFile: number;
  readonly maxKeysPerMapping: number;
}

/**
 * Defaults: far above any real manifest (the API server refuses objects over 1.5 MiB, etcd's request limit), far
 * below what stalls a parse: the `yaml` parser needs seconds and hundreds of MB for a few MiB of keys.
 */
export const DEFAULT_PARSE_LIMITS: ParseLimits = Object.freeze({
  maxFileBytes: 4 * 1024 * 1024,
  maxDocumentsPerFile: 5000,
  maxKeysPerMapping: 10000,
});

/** A parsed file as plain data (structured-clone safe): what a parse worker sends back. */
export interface PortableParsedFile {
  readonly path: string;
  /** The offsets where lines start (the `yaml` LineCounter's table). */
  readonly lineStarts: number[];
  readonly documents: PortableDocument[];
  readonly errors: YamlSyntaxError[];
}

export interface PortableDocument {
  readonly index: number;
  readonly value: unknown;
  readonly start: SourcePos;
  /** Offset of every map key and list item, by field path (segments joined with NUL). */
  readonly offsets: Map<string, number>;
}

/** Results parsed elsewhere (a worker thread), used by parseYamlFile for exactly that file object. */
const ADOPTED = new WeakMap<ConfigFile, ParsedFile>();

/** Make `parseYamlFile(file)` return `parsed` (parsed off the data-plane thread) instead of parsing again. */
export function adoptParsedFile(file: ConfigFile, parsed: ParsedFile): void {
  ADOPTED.set(file, parsed);
}

/** Whether `file` has a result parsed elsewhere (for tests and diagnostics). */
export function isAdopted(file: ConfigFile): boolean {
  return ADOPTED.has(file);
}

/** Parse every document of a file. Empty documents (only comments, a trailing `---`) are dropped. */
export function parseYamlFile(file: ConfigFile, limits: ParseLimits = DEFAULT_PARSE_LIMITS): ParsedFile {
  return ADOPTED.get(file) ?? hydrateParsedFile(parser().parseYamlPortable(file, limits));
}

let loadedParser: typeof import('./yaml-parse.ts') | undefined;

/** The parser, loaded on first use (synchronously: `require` of an ES module). */
function parser(): typeof import('./yaml-parse.ts') {
  loadedParser ??= createRequire(import.meta.url)('./yaml-parse.ts') as typeof import('./yaml-parse.ts');
  return loadedParser;
}

/**
 * The 1-based line and column of `offset`, from the offsets where lines start (as the `yaml` package's
 * `LineCounter.linePos` answers, so positions are the same whichever thread parsed).
 */
export function linePos(lineStarts: readonly number[], offset: number): { line: number; col: number } {
  let low = 0;
  let high = lineStarts.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (lineStarts[mid] < offset) low = mid + 1;
    else high = mid;
  }
  if (lineStarts[low] === offset) return { line: low + 1, col: 1 };
  if (low === 0) return { line: 0, col: offset };
  return { line: low, col: offset - lineStarts[low - 1] + 1 };
}

function pathKey(path: FieldPath): string {
  return path.join('\u0000');
}

/** Turn plain parse data back into documents with `posOf`. */
export function hydrateParsedFile(p: PortableParsedFile): ParsedFile {
  const at = (offset: number): SourcePos => {
    const { line, col } = linePos(p.lineStarts, offset);
    return { file: p.path, line, column: col };
  };
  const documents = p.documents.map(
    (d): ParsedDocument => ({
      index: d.index,
      value: d.value,
      start: d.start,
      posOf: (path) => {
        for (let n = path.length; n > 0; n--) {
          const offset = d.offsets.get(pathKey(path.slice(0, n)));
          if (offset !== undefined) return at(offset);
        }
        return d.start;
      },
    }),
  );
  return { documents, errors: p.errors };
}
