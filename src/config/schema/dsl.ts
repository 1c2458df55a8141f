/**
 * A small schema language for the structural part of a CRD `openAPIV3Schema`: types, enums, required,
 * ranges, lengths, patterns, list types and mutually exclusive fields. CEL rules
 * (`x-kubernetes-validations`) are not expressed here; they live in src/config/rules.
 */

/** A custom structural check: returns a message for `Invalid value: ...`, or undefined when the value is fine. */
export type CustomCheck = (value: unknown) => string | undefined;

interface Common {
  /** `nullable: true` in the CRD: an explicit `null` is accepted. */
  readonly nullable?: boolean;
  readonly check?: CustomCheck;
}

export interface ObjectSchema extends Common {
  readonly type: 'object';
  readonly properties: Readonly<Record<string, Schema>>;
  readonly required?: readonly string[];
  /** Groups of fields of which at most one may be set (the CRDs encode proto `oneof` as `oneOf`/`not anyOf`). */
  readonly exclusive?: readonly (readonly string[])[];
  /** Fields not listed are accepted unchecked (used for pod specs Portcullis does not read). */
  readonly open?: boolean;
  readonly minProperties?: number;
  readonly maxProperties?: number;
}

export interface MapSchema extends Common {
  readonly type: 'map';
  readonly values: Schema;
  readonly maxProperties?: number;
  /** Validates each key; returns a message when the key is invalid. */
  readonly keyCheck?: CustomCheck;
}

export type ListType = 'atomic' | 'set' | 'map';

export interface ArraySchema extends Common {
  readonly type: 'array';
  readonly items: Schema;
  readonly minItems?: number;
  readonly maxItems?: number;
  /** `x-kubernetes-list-type`: `set` items are unique; `map` items are unique by `mapKeys`. */
  readonly listType?: ListType;
  readonly mapKeys?: readonly string[];
}

export interface StringSchema extends Common {
  readonly type: 'string';
  readonly enum?: readonly string[];
  readonly pattern?: RegExp;
  readonly minLength?: number;
  readonly maxLength?: number;
}

export interface NumberSchema extends Common {
  readonly type: 'integer' | 'number';
  readonly enum?: readonly number[];
  readonly minimum?: number;
  readonly maximum?: number;
}

export interface BooleanSchema extends Common {
  readonly type: 'boolean';
}

/** `x-kubernetes-int-or-string`. */
export interface IntOrStringSchema extends Common {
  readonly type: 'int-or-string';
}

/** `x-kubernetes-preserve-unknown-fields` with no structure: anything goes. */
export interface AnySchema extends Common {
  readonly type: 'any';
}

export type Schema =
  | ObjectSchema
  | MapSchema
  | ArraySchema
  | StringSchema
  | NumberSchema
  | BooleanSchema
  | IntOrStringSchema
  | AnySchema;

type Opts<S> = Omit<S, 'type' | 'properties' | 'values' | 'items' | 'pattern'>;

/** An object with known fields; anything else is an unknown-field error unless `open`. */
export function obj(properties: Record<string, Schema>, opts: Opts<ObjectSchema> = {}): ObjectSchema {
  return { type: 'object', properties, ...opts };
}

/** A map with free keys (labels, annotations, `matchLabels`). */
export function map(values: Schema, opts: Opts<MapSchema> = {}): MapSchema {
  return { type: 'map', values, ...opts };
}

export function arr(items: Schema, opts: Opts<ArraySchema> = {}): ArraySchema {
  return { type: 'array', items, ...opts };
}

/** A string; `pattern` is the CRD's regular expression source. */
export function str(opts: Opts<StringSchema> & { pattern?: string } = {}): StringSchema {
  const { pattern, ...rest } = opts;
  return pattern === undefined
    ? { type: 'string', ...rest }
    : { type: 'string', pattern: new RegExp(pattern), ...rest };
}

export function int(opts: Opts<NumberSchema> = {}): NumberSchema {
  return { type: 'integer', ...opts };
}

/** A `uint32` proto field: the CRDs write it as an integer between 0 and 4294967295. */
export function uint32(opts: Opts<NumberSchema> = {}): NumberSchema {
  return { type: 'integer', minimum: 0, maximum: 4294967295, ...opts };
}

/** A `double`. */
export function num(opts: Opts<NumberSchema> = {}): NumberSchema {
  return { type: 'number', ...opts };
}

export function bool(opts: Opts<BooleanSchema> = {}): BooleanSchema {
  return { type: 'boolean', ...opts };
}

export function intOrStr(opts: Opts<IntOrStringSchema> = {}): IntOrStringSchema {
  return { type: 'int-or-string', ...opts };
}

export function any(opts: Opts<AnySchema> = {}): AnySchema {
  return { type: 'any', ...opts };
}

/** A list of strings, the most common shape in Istio's APIs. */
export function strings(opts: Opts<ArraySchema> = {}, item: StringSchema = str()): ArraySchema {
  return arr(item, opts);
}
