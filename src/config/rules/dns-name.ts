/**
 * DNS name checks as Istio's webhook does them (`pkg/config/labels` and `validation/agent`):
 * DNS-1123 labels (letters of either case, digits, inner `-`, at most 63), FQDNs whose top-level label is
 * not all-numeric, and wildcard domains where only the first label may carry a leading `*`.
 */

const DNS1123_LABEL = /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
/** Istio `wildcardPrefix`: `*`, or a label optionally preceded by `*` or `*-`. */
const WILDCARD_LABEL = /^(?:\*|(?:\*|\*-)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)$/;

/** Istio `labels.IsDNS1123Label`. */
export function isDns1123Label(value: string): boolean {
  return value.length <= 63 && DNS1123_LABEL.test(value);
}

/** Istio `CheckDNS1123Preconditions`: non-empty and at most 255 characters. */
function checkPreconditions(name: string): string | undefined {
  if (name.length > 255) return `domain name ${JSON.stringify(name)} too long (max 255)`;
  if (name.length === 0) return 'empty domain name not allowed';
  return undefined;
}

/** Istio `ValidateDNS1123Labels`: every label valid, a trailing dot allowed, top-level label not all-numeric. */
function checkLabels(domain: string): string | undefined {
  const parts = domain.split('.');
  const top = parts[parts.length - 1];
  if (/^[+-]?[0-9]+$/.test(top)) {
    return `domain name ${JSON.stringify(domain)} invalid (top level domain ${JSON.stringify(top)} cannot be all-numeric)`;
  }
  for (let i = 0; i < parts.length; i++) {
    if (i === parts.length - 1 && parts[i] === '') return undefined;
    if (!isDns1123Label(parts[i])) {
      return `domain name ${JSON.stringify(domain)} invalid (label ${JSON.stringify(parts[i])} invalid)`;
    }
  }
  return undefined;
}

/** Istio `ValidateFQDN`. Returns the error text or undefined. */
export function checkFqdn(name: string): string | undefined {
  return checkPreconditions(name) ?? checkLabels(name);
}

/** Istio `ValidateWildcardDomain`: a wildcard is allowed in the first label only. */
export function checkWildcardDomain(name: string): string | undefined {
  const pre = checkPreconditions(name);
  if (pre !== undefined) return pre;
  const dot = name.indexOf('.');
  const first = dot < 0 ? name : name.slice(0, dot);
  if (first.length > 63 || !WILDCARD_LABEL.test(first)) {
    return `domain name ${JSON.stringify(name)} invalid (label ${JSON.stringify(first)} invalid)`;
  }
  return dot < 0 ? undefined : checkLabels(name.slice(dot + 1));
}

/** Istio `ValidatePartialWildCard`: a `*` anywhere but as a whole `*.` first label (or alone). */
export function isPartialWildcard(host: string): boolean {
  return host.includes('*') && host.length !== 1 && !host.startsWith('*.');
}
