/**
 * A small structural validator for a CRD's OpenAPI v3 schema, as the API server applies it: types, required fields,
 * unknown fields (which the server would prune, so they count as errors here), enums, patterns, lengths and sizes.
 * Enough to check generated objects against the Gateway API CRDs in ../shared; CEL rules are not evaluated.
 */
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

export interface OpenApiSchema {
  type?: string;
  properties?: Record<string, OpenApiSchema>;
  required?: string[];
  items?: OpenApiSchema;
  additionalProperties?: OpenApiSchema | boolean;
  enum?: unknown[];
  pattern?: string;
  maxLength?: number;
  minLength?: number;
  maxItems?: number;
  minItems?: number;
  maxProperties?: number;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

/** The openAPIV3Schema of `version` in a CRD file. */
export function crdSchema(file: string, version: string): OpenApiSchema {
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const crd = doc.toJS() as {
      kind?: string;
      spec?: { versions?: { name: string; schema: { openAPIV3Schema: OpenApiSchema } }[] };
    };
    const v =
      crd?.kind === 'CustomResourceDefinition' ? crd.spec?.versions?.find((x) => x.name === version) : undefined;
    if (v !== undefined) return v.schema.openAPIV3Schema;
  }
  throw new Error(`${file}: no CRD version ${version}`);
}

/** Every violation as `path: message`; empty when the value conforms. */
export function checkSchema(value: unknown, schema: OpenApiSchema, path = ''): string[] {
  const at = path === '' ? '(root)' : path;
  const errors: string[] = [];
  const type = schema.type;
  if (type === 'object') {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${at}: expected an object`];
    const obj = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in obj)) errors.push(`${at}: missing required field "${r}"`);
    if (schema.maxProperties !== undefined && Object.keys(obj).length > schema.maxProperties)
      errors.push(`${at}: more than ${schema.maxProperties} properties`);
    for (const [k, v] of Object.entries(obj)) {
      const sub =
        schema.properties?.[k] ??
        (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
      if (sub !== undefined) errors.push(...checkSchema(v, sub, path === '' ? k : `${path}.${k}`));
      else if (
        schema.properties !== undefined &&
        !schema['x-kubernetes-preserve-unknown-fields'] &&
        path !== 'metadata'
      ) {
        errors.push(`${at}: unknown field "${k}"`);
      }
    }
  } else if (type === 'array') {
    if (!Array.isArray(value)) return [`${at}: expected an array`];
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      errors.push(`${at}: more than ${schema.maxItems} items`);
    if (schema.minItems !== undefined && value.length < schema.minItems)
      errors.push(`${at}: fewer than ${schema.minItems} items`);
    value.forEach(
      (v, i) => schema.items !== undefined && errors.push(...checkSchema(v, schema.items, `${path}[${i}]`)),
    );
  } else if (type === 'string') {
    if (typeof value !== 'string') return [`${at}: expected a string`];
    if (schema.maxLength !== undefined && value.length > schema.maxLength)
      errors.push(`${at}: longer than ${schema.maxLength}`);
    if (schema.minLength !== undefined && value.length < schema.minLength)
      errors.push(`${at}: shorter than ${schema.minLength}`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value))
      errors.push(`${at}: does not match ${schema.pattern}`);
  } else if (type === 'integer' || type === 'number') {
    if (typeof value !== 'number' || (type === 'integer' && !Number.isInteger(value)))
      return [`${at}: expected ${type}`];
  } else if (type === 'boolean') {
    if (typeof value !== 'boolean') return [`${at}: expected a boolean`];
  }
  if (schema.enum !== undefined && !schema.enum.includes(value))
    errors.push(`${at}: not one of ${schema.enum.join(', ')}`);
  return errors;
}
