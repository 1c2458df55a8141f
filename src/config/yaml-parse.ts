/**
 * The YAML parser proper (the `yaml` package): one file into plain, position-carrying data within `configLimits`.
 * Run where parsing belongs (the parse worker, or a command's own thread when no worker parsed the file); the loader
 * reads the result through yaml-documents.ts.
 */
import type { Document, Node } from 'yaml';
import type { ErrorCode } from '../errors/catalogue.ts';
import { messageOf } from '../errors/message-of.ts';
import type { SourcePos } from './types.ts';
import type {
  ConfigFile,
  ParseLimits,
  PortableDocument,
  PortableParsedFile,
  YamlSyntaxError,
} from './yaml-documents.ts';
import { yamlPackage } from './yaml-package.ts';

// One file instead of the package's 74 when `npm ci` packed it (yaml-package.ts): a fifth of a short command's start-up.
const { LineCounter, Scalar, isMap, isScalar, isSeq, parseAllDocuments, visit } = yamlPackage().yaml;

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
