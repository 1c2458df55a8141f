/**
 * Structural validation of plain data against a schema, with Kubernetes' own message wording
 * (`Required value`, `Unsupported value: ...: supported values: ...`, `Duplicate value`, `Too many`, `Too long`)
 * and a did-you-mean for unknown fields, which Kubernetes' strict field validation rejects too.
 */
import type { FieldPath } from '../types.ts';
import { didYouMean } from '../did-you-mean.ts';
import type { ArraySchema, MapSchema, NumberSchema, ObjectSchema, Schema, StringSchema } from './dsl.ts';

export type IssueKind =
  | 'required'
  | 'unknown'
  | 'type'
  | 'enum'
  | 'range'
  | 'size'
  | 'pattern'
  | 'duplicate'
  | 'exclusive';

/** One structural problem. `message` excludes the path; render as `${formatPath(path)}: ${message}`. */
export interface SchemaIssue {
  readonly path: FieldPath;
  readonly kind: IssueKind;
  readonly message: string;
}

/** Validate `value` against `schema`; `path` is the location of `value` in its document. */
export function validateSchema(schema: Schema, value: unknown, path: FieldPath = []): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  visit(schema, value, path, issues);
  return issues;
}

/** Render a value as Kubernetes does in `Invalid value: ...`: scalars as JSON, containers by type name. */
function showValue(value: unknown): string {
  if (value === null) return '"null"';
  if (Array.isArray(value)) return '"array"';
  if (typeof value === 'object') return '"object"';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeIssue(path: FieldPath, value: unknown, expected: string): SchemaIssue {
  let message = `Invalid value: ${showValue(value)}: must be of type ${expected}`;
  // The most common YAML trap: an unquoted number or boolean where a string is expected.
  if (expected === 'string' && (typeof value === 'number' || typeof value === 'boolean')) {
    message += `; quote it: "${String(value)}"`;
  }
  return { path, kind: 'type', message };
}

function visit(schema: Schema, value: unknown, path: FieldPath, out: SchemaIssue[]): void {
  if (value === null) {
    if (!schema.nullable && schema.type !== 'any') out.push(typeIssue(path, value, expectedType(schema)));
    return;
  }
  const before = out.length;
  switch (schema.type) {
    case 'any':
      break;
    case 'object':
      visitObject(schema, value, path, out);
      break;
    case 'map':
      visitMap(schema, value, path, out);
      break;
    case 'array':
      visitArray(schema, value, path, out);
      break;
    case 'string':
      visitString(schema, value, path, out);
      break;
    case 'integer':
    case 'number':
      visitNumber(schema, value, path, out);
      break;
    case 'boolean':
      if (typeof value !== 'boolean') out.push(typeIssue(path, value, 'boolean'));
      break;
    case 'int-or-string':
      if (!(typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value)))) {
        out.push(typeIssue(path, value, 'integer or string'));
      }
      break;
  }
  // A custom check only runs on a value whose own shape is right.
  if (schema.check && out.length === before) {
    const problem = schema.check(value);
    if (problem !== undefined)
      out.push({ path, kind: 'pattern', message: `Invalid value: ${showValue(value)}: ${problem}` });
  }
}

function expectedType(schema: Schema): string {
  switch (schema.type) {
    case 'map':
      return 'object';
    case 'int-or-string':
      return 'integer or string';
    default:
      return schema.type;
  }
}

function visitObject(schema: ObjectSchema, value: unknown, path: FieldPath, out: SchemaIssue[]): void {
  if (!isPlainObject(value)) {
    out.push(typeIssue(path, value, 'object'));
    return;
  }
  const known = Object.keys(schema.properties);
  for (const [key, child] of Object.entries(value)) {
    const sub = schema.properties[key];
    if (sub !== undefined && Object.hasOwn(schema.properties, key)) {
      if (child !== undefined) visit(sub, child, [...path, key], out);
    } else if (!schema.open) {
      const suggestion = didYouMean(key, known);
      out.push({
        path: [...path, key],
        kind: 'unknown',
        message: suggestion === undefined ? 'Unknown field' : `Unknown field; did you mean "${suggestion}"?`,
      });
    }
  }
  for (const req of schema.required ?? []) {
    if (value[req] === undefined) out.push({ path: [...path, req], kind: 'required', message: 'Required value' });
  }
  for (const group of schema.exclusive ?? []) {
    const set = group.filter((k) => value[k] !== undefined && value[k] !== null);
    if (set.length > 1) {
      out.push({
        path,
        kind: 'exclusive',
        message: `Invalid value: "object": only one of ${group.map((k) => `"${k}"`).join(', ')} may be set, found ${set.map((k) => `"${k}"`).join(' and ')}`,
      });
    }
  }
  checkPropertyCount(Object.keys(value).length, schema.minProperties, schema.maxProperties, path, out);
}

function checkPropertyCount(
  n: number,
  min: number | undefined,
  max: number | undefined,
  path: FieldPath,
  out: SchemaIssue[],
): void {
  if (max !== undefined && n > max)
    out.push({ path, kind: 'size', message: `Too many: ${n}: must have at most ${max} items` });
  if (min !== undefined && n < min)
    out.push({ path, kind: 'size', message: `Invalid value: ${n}: should have at least ${min} properties` });
}

function visitMap(schema: MapSchema, value: unknown, path: FieldPath, out: SchemaIssue[]): void {
  if (!isPlainObject(value)) {
    out.push(typeIssue(path, value, 'object'));
    return;
  }
  for (const [key, child] of Object.entries(value)) {
    if (schema.keyCheck) {
      const problem = schema.keyCheck(key);
      if (problem !== undefined)
        out.push({
          path: [...path, key],
          kind: 'pattern',
          message: `Invalid value: ${JSON.stringify(key)}: ${problem}`,
        });
    }
    visit(schema.values, child, [...path, key], out);
  }
  checkPropertyCount(Object.keys(value).length, undefined, schema.maxProperties, path, out);
}

function visitArray(schema: ArraySchema, value: unknown, path: FieldPath, out: SchemaIssue[]): void {
  if (!Array.isArray(value)) {
    out.push(typeIssue(path, value, 'array'));
    return;
  }
  if (schema.maxItems !== undefined && value.length > schema.maxItems) {
    out.push({ path, kind: 'size', message: `Too many: ${value.length}: must have at most ${schema.maxItems} items` });
  }
  if (schema.minItems !== undefined && value.length < schema.minItems) {
    out.push({
      path,
      kind: 'size',
      message: `Invalid value: ${value.length}: should have at least ${schema.minItems} items`,
    });
  }
  value.forEach((item, i) => visit(schema.items, item, [...path, i], out));
  if (schema.listType === 'set') {
    const seen = new Set<string>();
    value.forEach((item, i) => {
      const k = JSON.stringify(item);
      if (seen.has(k)) out.push({ path: [...path, i], kind: 'duplicate', message: `Duplicate value: ${k}` });
      seen.add(k);
    });
  } else if (schema.listType === 'map' && schema.mapKeys) {
    const keys = schema.mapKeys;
    const seen = new Set<string>();
    value.forEach((item, i) => {
      if (!isPlainObject(item)) return;
      const id: Record<string, unknown> = {};
      for (const k of keys) id[k] = item[k];
      const text = JSON.stringify(id);
      if (seen.has(text)) out.push({ path: [...path, i], kind: 'duplicate', message: `Duplicate value: ${text}` });
      seen.add(text);
    });
  }
}

function visitString(schema: StringSchema, value: unknown, path: FieldPath, out: SchemaIssue[]): void {
  if (typeof value !== 'string') {
    out.push(typeIssue(path, value, 'string'));
    return;
  }
  if (schema.enum && !schema.enum.includes(value)) {
    out.push({
      path,
      kind: 'enum',
      message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${schema.enum.map((v) => JSON.stringify(v)).join(', ')}`,
    });
    return;
  }
  // Kubernetes counts characters (runes), not UTF-16 units.
  const length = [...value].length;
  if (schema.maxLength !== undefined && length > schema.maxLength) {
    out.push({ path, kind: 'size', message: `Too long: may not be longer than ${schema.maxLength}` });
  }
  if (schema.minLength !== undefined && length < schema.minLength) {
    out.push({
      path,
      kind: 'size',
      message: `Invalid value: ${JSON.stringify(value)}: should be at least ${schema.minLength} chars long`,
    });
  }
  if (schema.pattern && !schema.pattern.test(value)) {
    out.push({
      path,
      kind: 'pattern',
      message: `Invalid value: ${JSON.stringify(value)}: should match '${schema.pattern.source}'`,
    });
  }
}

function visitNumber(schema: NumberSchema, value: unknown, path: FieldPath, out: SchemaIssue[]): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    out.push(typeIssue(path, value, schema.type));
    return;
  }
  if (schema.type === 'integer' && !Number.isInteger(value)) {
    out.push(typeIssue(path, value, 'integer'));
    return;
  }
  if (schema.enum && !schema.enum.includes(value)) {
    out.push({
      path,
      kind: 'enum',
      message: `Unsupported value: ${value}: supported values: ${schema.enum.map((v) => `"${v}"`).join(', ')}`,
    });
    return;
  }
  if (schema.maximum !== undefined && value > schema.maximum) {
    out.push({
      path,
      kind: 'range',
      message: `Invalid value: ${value}: should be less than or equal to ${schema.maximum}`,
    });
  }
  if (schema.minimum !== undefined && value < schema.minimum) {
    out.push({
      path,
      kind: 'range',
      message: `Invalid value: ${value}: should be greater than or equal to ${schema.minimum}`,
    });
  }
}
