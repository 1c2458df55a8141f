/**
 * Message shapes the Kubernetes API server uses, so a Portcullis diagnostic reads like `kubectl apply` output:
 * a CEL rule failure is `Invalid value: "object": <rule message>` (apiextensions-apiserver renders the
 * schema type of the checked node), and a field check is `Invalid value: <value>: <detail>`.
 */

/** The OpenAPI type of the node a CEL rule is attached to. */
export type CelNodeType = 'object' | 'array' | 'string' | 'integer' | 'number';

/** A failed `x-kubernetes-validations` rule, worded as the API server words it. */
export function celInvalid(nodeType: CelNodeType, message: string): string {
  return `Invalid value: "${nodeType}": ${message}`;
}

/** A bad field value, as Kubernetes' `field.Invalid` renders it (strings quoted, numbers bare). */
export function invalidValue(value: unknown, detail: string): string {
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return `Invalid value: ${shown}: ${detail}`;
}
