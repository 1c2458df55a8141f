/**
 * Parse one YAML (or JSON) file into documents that keep their field positions, so every field path can be mapped
 * back to `file:line:column`. A syntax error spoils only its own document; the others still load. Parsing is
 * bounded (file size, documents per file, keys per mapping) and linear, and its result is plain data, so it can be
 * done on a worker thread (parse-off-thread.ts) and handed to the loader.
 */
import { LineCounter, Scalar, isMap, isScalar, isSeq, parseAllDocuments, visit } from 'yaml';
import type { Document, Node } from 'yaml';
import type { ErrorCode } from '../errors/catalogue.ts';
import type { FieldPath, SourcePos } from './types.ts';
import { messageOf } from '../errors/message-of.ts';

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
  return ADOPTED.get(file) ?? hydrateParsedFile(parseYamlPortable(file, limits));
}

function pathKey(path: FieldPath): string {
  return path.join('\u0000');
}

/** Turn plain parse data back into documents with `posOf`. */
export function hydrateParsedFile(p: PortableParsedFile): ParsedFile {
  const lineCounter = new LineCounter();
  lineCounter.lineStarts = p.lineStarts;
  const at = (offset: number): SourcePos => {
    const { line, col } = lineCounter.linePos(offset);
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

/** Parse a file into plain data, within `limits`. Pure and synchronous: run it on a worker for untrusted input. */
export function parseYamlPortable(file: ConfigFile, limits: ParseLimits): PortableParsedFile {
  const lineCounter = new LineCounter();
  const documents: PortableDocument[] = [];
  const errors: YamlSyntaxError[] = [];
  const out: PortableParsedFile = { path: file.path, lineStarts: lineCounter.lineStarts, documents, errors };
  const whole = { file: file.path, line: 0, column: 0 };
  // Characters are at most 3 UTF-8 bytes each (a UTF-16 surrogate pair is 4 bytes for 2 units): measure exactly
  // only when the cheap bound is over the limit.
  if (file.text.length * 3 > limits.maxFileBytes) {
    const bytes = Buffer.byteLength(file.text, 'utf8');
    if (bytes > limits.maxFileBytes) {
      errors.push({
        ...whole,
        code: 'PCL_CONFIG_FILE_TOO_LARGE',
        message: `${file.path} is ${bytes} bytes, more than the limit configLimits.maxFileBytes (${limits.maxFileBytes} bytes); the file was not parsed`,
      });
      return out;
    }
  }
  // uniqueKeys: false turns off the `yaml` package's duplicate-key check, which compares each key with every
  // earlier key of its mapping (quadratic: 63k keys stalled a parse for 70 s); checkMappings does it with a Set.
  let list: Document.Parsed[];
  try {
    const docs = parseAllDocuments(file.text, { lineCounter, prettyErrors: false, uniqueKeys: false });
    list = Array.isArray(docs) ? docs : [docs];
  } catch (err) {
    // The parser itself gave up (e.g. nesting too deep for its recursion): the file is refused, nothing else.
    errors.push({
      ...whole,
      code: 'PCL_CONFIG_PARSE_FAILED',
      message: `${file.path} could not be parsed: ${err instanceof Error ? err.message : String(err)}`,
    });
    return out;
  }
  if (list.length > limits.maxDocumentsPerFile) {
    errors.push({
      ...whole,
      code: 'PCL_CONFIG_TOO_MANY_DOCUMENTS',
      message: `${file.path} holds ${list.length} YAML documents, more than the limit configLimits.maxDocumentsPerFile (${limits.maxDocumentsPerFile}); the file was not loaded`,
    });
    return out;
  }
  // Checked once per file: only then is the go-yaml compatibility walk needed.
  const hasFlowColon = FLOW_COLON.test(file.text);
  const at = (offset: number): SourcePos => {
    const { line, col } = lineCounter.linePos(offset);
    return { file: file.path, line, column: col };
  };
  list.forEach((doc, index) => {
    const first = doc.errors[0];
    if (first !== undefined) {
      errors.push({ ...at(first.pos[0]), message: first.message });
      return;
    }
    const contents = doc.contents as Node | null;
    if (contents === null || (isScalar(contents) && contents.value === null)) return;
    if (hasFlowColon) readFlowColonsAsGoYamlDoes(doc, file.text);
    const walked = walkNodes(contents, limits);
    if (walked.problem !== undefined) {
      const { offset, code, message } = walked.problem;
      errors.push({ ...at(offset), ...(code ? { code } : {}), message: code ? `${file.path}: ${message}` : message });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      errors.push({ ...at(contents.range?.[0] ?? 0), message: messageOf(err) });
      return;
    }
    documents.push({ index, value, start: at(contents.range?.[0] ?? 0), offsets: walked.offsets });
  });
  return out;
}

interface Walked {
  readonly offsets: Map<string, number>;
  readonly problem?: { offset: number; code?: ErrorCode; message: string };
}

/**
 * One pass over a document's nodes (iterative: nesting depth cannot overflow the stack): records the offset of
 * every map key and list item, refuses a mapping over `maxKeysPerMapping`, and finds duplicate keys as the `yaml`
 * package would (equal scalar values), in linear time.
 */
function walkNodes(root: Node, limits: ParseLimits): Walked {
  const offsets = new Map<string, number>();
  // Paths are kept as their NUL-joined key (string concatenation, not an array copy per node).
  const stack: { node: unknown; path: string }[] = [{ node: root, path: '' }];
  const child = (path: string, segment: string | number): string =>
    path === '' ? String(segment) : `${path}\u0000${segment}`;
  while (stack.length > 0) {
    const { node, path } = stack.pop()!;
    if (isMap(node)) {
      if (node.items.length > limits.maxKeysPerMapping) {
        return {
          offsets,
          problem: {
            offset: node.range?.[0] ?? 0,
            code: 'PCL_CONFIG_TOO_MANY_KEYS',
            message: `a mapping holds ${node.items.length} keys, more than the limit configLimits.maxKeysPerMapping (${limits.maxKeysPerMapping}); the document was not loaded`,
          },
        };
      }
      const seen = new Set<unknown>();
      for (const pair of node.items) {
        const key = pair.key as Node | null;
        if (isScalar(key)) {
          if (seen.has(key.value))
            return { offsets, problem: { offset: key.range?.[0] ?? 0, message: 'Map keys must be unique' } };
          seen.add(key.value);
        }
        const text = keyText(key);
        if (text === undefined) continue;
        const childPath = child(path, text);
        const offset = key?.range?.[0];
        if (offset !== undefined) offsets.set(childPath, offset);
        stack.push({ node: pair.value, path: childPath });
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const childPath = child(path, i);
        const offset = (item as Node | null)?.range?.[0];
        if (offset !== undefined) offsets.set(childPath, offset);
        stack.push({ node: item, path: childPath });
      });
    }
  }
  return { offsets };
}

const FLOW_COLON = /:[\],}]/;

/**
 * Kubernetes reads YAML with go-yaml, which ends a plain scalar at `:` only when a blank follows. The YAML 1.2
 * spec (and the `yaml` package) also end it before a flow indicator, so `[1.2.3.4, 2001:db8::]` would turn the
 * IPv6 address into a one-entry map `{"2001:db8:": null}`. Such an item is turned back into the string go-yaml
 * reads, so manifests mean what they mean to the API server (istio/api serviceentry-valid.yaml has this case).
 */
function readFlowColonsAsGoYamlDoes(doc: Document, text: string): void {
  visit(doc, {
    Seq(_, seq) {
      if (!seq.flow) return;
      seq.items = seq.items.map((item) => {
        if (!isMap(item) || item.items.length !== 1) return item;
        const { key, value } = item.items[0];
        if (!isScalar(key) || key.type !== 'PLAIN' || key.range == null) return item;
        if (!isScalar(value) || value.value !== null || value.source !== '') return item;
        const end = key.range[1];
        if (text[end] !== ':') return item;
        const scalar = new Scalar(text.slice(key.range[0], end + 1));
        scalar.range = [key.range[0], end + 1, end + 1];
        return scalar;
      });
    },
  });
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return typeof key === 'string' ? key : undefined;
}
