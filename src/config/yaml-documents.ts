/**
 * Parse one YAML (or JSON) file into documents that keep their node tree, so every field path can be mapped
 * back to `file:line:column`. A syntax error spoils only its own document; the others still load.
 */
import { LineCounter, Scalar, isAlias, isMap, isScalar, isSeq, parseAllDocuments, visit } from 'yaml';
import type { Document, Node } from 'yaml';
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
}

export interface ParsedFile {
  readonly documents: ParsedDocument[];
  readonly errors: YamlSyntaxError[];
}

/** Parse every document of a file. Empty documents (only comments, a trailing `---`) are dropped. */
export function parseYamlFile(file: ConfigFile): ParsedFile {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(file.text, { lineCounter, prettyErrors: false });
  const documents: ParsedDocument[] = [];
  const errors: YamlSyntaxError[] = [];
  // Checked once per file: only then is the go-yaml compatibility walk needed.
  const hasFlowColon = FLOW_COLON.test(file.text);
  const at = (offset: number): SourcePos => {
    const { line, col } = lineCounter.linePos(offset);
    return { file: file.path, line, column: col };
  };
  docs.forEach((doc, index) => {
    const first = doc.errors[0];
    if (first !== undefined) {
      errors.push({ ...at(first.pos[0]), message: first.message });
      return;
    }
    const contents = doc.contents as Node | null;
    if (contents === null || (isScalar(contents) && contents.value === null)) return;
    if (hasFlowColon) readFlowColonsAsGoYamlDoes(doc, file.text);
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      errors.push({ ...at(contents.range?.[0] ?? 0), message: messageOf(err) });
      return;
    }
    const start = at(contents.range?.[0] ?? 0);
    documents.push({
      index,
      value,
      start,
      posOf: (path) => {
        const offset = offsetOf(doc, contents, path);
        return offset === undefined ? start : at(offset);
      },
    });
  });
  return { documents, errors };
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

/**
 * Walk `path` through the node tree. A map key resolves to the key's own position (where the user wrote the
 * field); a list index to the item. Returns the deepest position reached.
 */
function offsetOf(doc: Document, root: Node, path: FieldPath): number | undefined {
  let node: unknown = root;
  let offset = root.range?.[0];
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (typeof segment === 'number') {
      if (!isSeq(node)) break;
      const item = node.items[segment] as Node | undefined;
      if (item === undefined || item === null) break;
      node = item;
      offset = item.range?.[0] ?? offset;
    } else {
      if (!isMap(node)) break;
      const pair = node.items.find((p) => keyText(p.key) === segment);
      if (pair === undefined) break;
      const key = pair.key as Node | null;
      offset = key?.range?.[0] ?? offset;
      node = pair.value;
    }
  }
  return offset;
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return typeof key === 'string' ? key : undefined;
}
