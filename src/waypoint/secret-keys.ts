/**
 * Read a credential Secret the way Istio does (`pilot/pkg/credentials/kube/secrets.go`): the generic keys
 * `cert`/`key`/`cacert` first, then the TLS-secret keys `tls.crt`/`tls.key`/`ca.crt`, the CA possibly in a separate
 * `<name>-cacert` Secret, with Istio's error texts. Pure: the Secrets come from the snapshot.
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import type { Resource } from '../config/types.ts';
import type { WaypointCode } from '../errors/waypoint-codes.ts';
import { messageOf } from '../errors/message-of.ts';

const GENERIC_CERT = 'cert';
const GENERIC_KEY = 'key';
const GENERIC_CACERT = 'cacert';
const TLS_CERT = 'tls.crt';
const TLS_KEY = 'tls.key';
const TLS_CACERT = 'ca.crt';
/** `security/model.SdsCaSuffix`: the separate CA Secret of `<name>` is `<name>-cacert`. */
export const CA_SUFFIX = '-cacert';

export type SecretData = ReadonlyMap<string, Buffer>;

/** A Secret's data: `data` (base64) merged with `stringData` (plain), which wins as the API server merges them. */
export function secretData(secret: Resource): SecretData {
  const out = new Map<string, Buffer>();
  const data = secret.raw.data;
  if (data && typeof data === 'object') {
    for (const [k, v] of Object.entries(data)) out.set(k, Buffer.from(typeof v === 'string' ? v : '', 'base64'));
  }
  const stringData = secret.raw.stringData;
  if (stringData && typeof stringData === 'object') {
    for (const [k, v] of Object.entries(stringData)) out.set(k, Buffer.from(typeof v === 'string' ? v : '', 'utf8'));
  }
  return out;
}

const hasKeys = (d: SecretData, ...keys: string[]): boolean => keys.every((k) => d.has(k));
const hasValue = (d: SecretData, ...keys: string[]): boolean => keys.every((k) => (d.get(k)?.length ?? 0) > 0);

/** Istio's `truncatedKeysMessage`: sorted key names, at most three, then "and N more...". */
export function truncatedKeysMessage(d: SecretData): string {
  const keys = [...d.keys()].sort();
  if (keys.length < 3) return keys.join(', ');
  return `${keys.slice(0, 3).join(', ')}, and ${keys.length - 3} more...`;
}

export type Extracted<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** Istio's `extractKeyAndCert`. */
export function extractKeyAndCert(d: SecretData): Extracted<{ cert: Buffer; key: Buffer }> {
  if (hasValue(d, GENERIC_CERT, GENERIC_KEY))
    return { ok: true, value: { cert: d.get(GENERIC_CERT)!, key: d.get(GENERIC_KEY)! } };
  if (hasValue(d, TLS_CERT, TLS_KEY)) return { ok: true, value: { cert: d.get(TLS_CERT)!, key: d.get(TLS_KEY)! } };
  if (hasKeys(d, GENERIC_CERT, GENERIC_KEY))
    return { ok: false, reason: `found keys "${GENERIC_CERT}" and "${GENERIC_KEY}", but they were empty` };
  if (hasKeys(d, TLS_CERT, TLS_KEY))
    return { ok: false, reason: `found keys "${TLS_CERT}" and "${TLS_KEY}", but they were empty` };
  return {
    ok: false,
    reason:
      `found secret, but didn't have expected keys (${GENERIC_CERT} and ${GENERIC_KEY}) or (${TLS_CERT} and ${TLS_KEY}); ` +
      `found: ${truncatedKeysMessage(d)}`,
  };
}

/** Istio's `extractRoot`. */
export function extractRoot(d: SecretData): Extracted<Buffer> {
  if (hasValue(d, GENERIC_CACERT)) return { ok: true, value: d.get(GENERIC_CACERT)! };
  if (hasValue(d, TLS_CACERT)) return { ok: true, value: d.get(TLS_CACERT)! };
  if (hasKeys(d, GENERIC_CACERT)) return { ok: false, reason: `found key "${GENERIC_CACERT}", but it was empty` };
  if (hasKeys(d, TLS_CACERT)) return { ok: false, reason: `found key "${TLS_CACERT}", but it was empty` };
  return {
    ok: false,
    reason: `found secret, but didn't have expected keys ${GENERIC_CACERT} or ${TLS_CACERT}; found: ${truncatedKeysMessage(d)}`,
  };
}

/** Key, certificate and CA of one credential, checked and ready for a TLS context. */
export interface CredentialMaterial {
  /** `namespace/name` of the Secret. */
  readonly ref: string;
  /** PEM chain (leaf first); null for a CA-only credential (SIMPLE with credentialName). */
  readonly certPem: string | null;
  readonly keyPem: string | null;
  /** PEM trust bundle for the upstream's certificate, null for the system roots. */
  readonly caPem: string | null;
  /** The client certificate's subject as RFC 4514 text (`CN=team-namespace.app1`), or null. */
  readonly subject: string | null;
  /** Hash of everything above: a changed Secret gives a new hash and so a new TLS context and pool. */
  readonly hash: string;
}

export type CredentialResult =
  | { readonly ok: true; readonly material: CredentialMaterial }
  | { readonly ok: false; readonly code: WaypointCode; readonly reason: string };

/** Find a Secret by namespace and name. */
export type SecretLookup = (namespace: string, name: string) => Resource | null;

/** RFC 4514 order (most specific first, comma-separated), the form nginx's `$ssl_client_s_dn` prints. */
export function subjectText(cert: X509Certificate): string {
  return cert.subject
    .split('\n')
    .filter((l) => l !== '')
    .reverse()
    .join(',');
}

/**
 * Read and check one credential. `needClientCert` is true for MUTUAL (cert and key required and must match),
 * false for SIMPLE (only the CA is read). The CA comes from `<name>-cacert` when that Secret exists, else from the
 * Secret itself (Istio `GetCaCert`); when neither has one the system roots apply (`caPem: null`).
 */
export function readCredential(
  lookup: SecretLookup,
  namespace: string,
  name: string,
  needClientCert: boolean,
): CredentialResult {
  const ref = `${namespace}/${name}`;
  const secret = lookup(namespace, name);
  const caSecret = lookup(namespace, `${name}${CA_SUFFIX}`);
  if (!secret && !(caSecret && !needClientCert)) {
    return { ok: false, code: 'PCL_WAYPOINT_SECRET_NOT_FOUND', reason: `secret ${ref} not found` };
  }
  let certPem: string | null = null;
  let keyPem: string | null = null;
  let subject: string | null = null;
  const hash = createHash('sha256');
  if (needClientCert) {
    const kc = extractKeyAndCert(secretData(secret!));
    if (!kc.ok) return { ok: false, code: 'PCL_WAYPOINT_SECRET_KEYS', reason: `secret ${ref}: ${kc.reason}` };
    certPem = kc.value.cert.toString('utf8');
    keyPem = kc.value.key.toString('utf8');
    try {
      const cert = new X509Certificate(certPem);
      const key = createPrivateKey(keyPem);
      if (!cert.checkPrivateKey(key)) {
        return {
          ok: false,
          code: 'PCL_WAYPOINT_SECRET_KEY_MISMATCH',
          reason: `secret ${ref}: the private key does not match the certificate (${subjectText(cert) || 'empty subject'})`,
        };
      }
      subject = subjectText(cert);
    } catch (err) {
      return {
        ok: false,
        code: 'PCL_WAYPOINT_SECRET_KEY_MISMATCH',
        reason: `secret ${ref}: cannot read the certificate or key: ${messageOf(err)}`,
      };
    }
    hash.update(certPem).update('\0').update(keyPem).update('\0');
  }
  let caPem: string | null = null;
  if (caSecret) {
    const root = extractRoot(secretData(caSecret));
    if (!root.ok)
      return { ok: false, code: 'PCL_WAYPOINT_SECRET_KEYS', reason: `secret ${ref}${CA_SUFFIX}: ${root.reason}` };
    caPem = root.value.toString('utf8');
  } else if (secret) {
    const root = extractRoot(secretData(secret));
    if (root.ok) caPem = root.value.toString('utf8');
  }
  hash.update(caPem ?? '');
  return { ok: true, material: { ref, certPem, keyPem, caPem, subject, hash: hash.digest('hex').slice(0, 16) } };
}
