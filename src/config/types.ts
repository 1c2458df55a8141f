/** Core value types shared by every layer: a loaded manifest, where it came from, and what was wrong with it. */
import type { ErrorCode } from '../errors/catalogue.ts';

/** A place in a source file. Lines and columns are 1-based. */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** A path into a document, as a list of keys and indexes: `['spec','rules',0,'from']`. */
export type FieldPath = ReadonlyArray<string | number>;

/** Render a field path as users write it: `spec.rules[0].from`. */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? p : `.${p}`;
  }
  return out;
}

export type Severity = 'error' | 'warning' | 'info';

/** One finding about the configuration: always with a stable code and a place. */
export interface Diagnostic {
  readonly code: ErrorCode;
  readonly severity: Severity;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly kind?: string;
  readonly namespace?: string;
  readonly name?: string;
  /** Field path as text, e.g. `spec.rules[0].from[0].source.principals`. */
  readonly path?: string;
  readonly message: string;
}

/** The kinds Portcullis understands. Anything else is listed as ignored. */
export const KNOWN_KINDS = [
  'Namespace',
  'GatewayClass',
  'Gateway',
  'ServiceEntry',
  'AuthorizationPolicy',
  'HTTPRoute',
  'DestinationRule',
  'Secret',
  'NetworkPolicy',
  'Pod',
  'Deployment',
  'DaemonSet',
  'StatefulSet',
  'EnvoyFilter',
] as const;
export type Kind = (typeof KNOWN_KINDS)[number];

/** Kinds without a namespace. */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set(['Namespace', 'GatewayClass']);

export interface ObjectMeta {
  readonly name: string;
  /** Namespaced kinds default to `default` as kubectl does; cluster-scoped kinds have ''. */
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly creationTimestamp?: string;
  readonly generation?: number;
}

/** A validated manifest of a known kind. `spec` is typed per kind by the api-types module. */
export interface Resource<S = unknown, K extends string = string> {
  readonly kind: K;
  readonly apiVersion: string;
  readonly metadata: ObjectMeta;
  readonly spec: S;
  /** `status` as written in the manifest (a Gateway may carry `status.addresses`). */
  readonly status?: unknown;
  /** The whole document as plain data (Secrets keep `data`/`stringData` here). */
  readonly raw: Readonly<Record<string, unknown>>;
  /** Where the document starts. */
  readonly source: SourcePos;
  /** Position of a field inside this document; falls back to the nearest ancestor that exists. */
  posOf(path: FieldPath): SourcePos;
  /** `Kind/namespace/name`, unique in one snapshot. */
  readonly key: string;
}

/** A document of a kind Portcullis does not act on: kept so `status` can list it and `audit` can read it. */
export interface IgnoredDocument {
  readonly kind: string;
  readonly apiVersion: string;
  readonly namespace: string;
  readonly name: string;
  readonly raw: Readonly<Record<string, unknown>>;
  readonly source: SourcePos;
}

/** Build the snapshot key of a resource. */
export function resourceKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}
