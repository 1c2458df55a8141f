/** Defensive readers over plain parsed YAML: a semantic rule trusts types, but optional fields may be absent. */

/** A parsed YAML mapping. */
export type Data = Readonly<Record<string, unknown>>;

/** The value as a mapping, or undefined when it is absent or not a mapping. */
export function asObject(value: unknown): Data | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Data) : undefined;
}

/** The value as a list, or undefined when it is absent or not a list. */
export function asList(value: unknown): readonly unknown[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

/** The value as a string, or undefined. */
export function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** The value as a number, or undefined. */
export function asNumber(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

/**
 * CEL's `has(self.field)`: the key is present with a value. The API server prunes explicit nulls before
 * CEL runs, so a `null` counts as absent here too.
 */
export function has(object: Data | undefined, key: string): boolean {
  return object !== undefined && object[key] !== undefined && object[key] !== null;
}

/** The string items of a list field (non-strings are the schema's business and are skipped). */
export function stringList(value: unknown): string[] {
  return (asList(value) ?? []).filter((v): v is string => typeof v === 'string');
}

/** Number of items in a list field, 0 when absent. Mirrors Go's `len()` on a nil slice. */
export function listLength(value: unknown): number {
  return asList(value)?.length ?? 0;
}
