/**
 * Which SPIFFE ID to ask istiod for: `--identity` when given, otherwise the pod's namespace and service account
 * (the downward-API variables istio-proxy reads, `POD_NAMESPACE` and `SERVICE_ACCOUNT`, or the projected token's
 * `sub` claim, `system:serviceaccount:<ns>:<sa>`). Pure: the caller reads the environment and the token.
 */
import { parseIdentityArg } from './spiffe-id.ts';

/** True inside a Kubernetes pod (the kubelet sets this for every container). */
export function inPod(env: Record<string, string | undefined>): boolean {
  return (env.KUBERNETES_SERVICE_HOST ?? '') !== '';
}

/** `{namespace, serviceAccount}` from a ServiceAccount JWT's `sub` claim, or null. Never trusts it for more than naming. */
export function serviceAccountFromToken(token: string): { namespace: string; serviceAccount: string } | null {
  const parts = token.trim().split('.');
  if (parts.length !== 3) return null;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  const sub = typeof claims === 'object' && claims !== null ? (claims as { sub?: unknown }).sub : undefined;
  const m = typeof sub === 'string' ? /^system:serviceaccount:([^:]+):([^:]+)$/.exec(sub) : null;
  return m === null ? null : { namespace: m[1], serviceAccount: m[2] };
}

export type IdentityChoice = { ok: true; id: string; from: string } | { ok: false; reason: string };

/** Decide the workload identity; `token` is the projected token's text when it could be read. */
export function chooseIdentity(
  arg: string | undefined,
  trustDomain: string,
  env: Record<string, string | undefined>,
  token: string | null,
): IdentityChoice {
  if (arg !== undefined) {
    const parsed = parseIdentityArg(arg, trustDomain);
    return parsed.ok
      ? { ok: true, id: parsed.id.uri, from: '--identity' }
      : { ok: false, reason: `--identity "${arg}": ${parsed.reason}` };
  }
  const ns = env.POD_NAMESPACE;
  const sa = env.SERVICE_ACCOUNT;
  let pair: { namespace: string; serviceAccount: string } | null = null;
  let from = '';
  if (ns !== undefined && ns !== '' && sa !== undefined && sa !== '') {
    pair = { namespace: ns, serviceAccount: sa };
    from = 'POD_NAMESPACE and SERVICE_ACCOUNT';
  } else if (token !== null) {
    pair = serviceAccountFromToken(token);
    from = "the token's sub claim";
  }
  if (pair === null) {
    return {
      ok: false,
      reason:
        'no identity to ask for: give --identity <ns>/<sa>, or run in a pod (POD_NAMESPACE and SERVICE_ACCOUNT, or a ServiceAccount token)',
    };
  }
  const parsed = parseIdentityArg(`${pair.namespace}/${pair.serviceAccount}`, trustDomain);
  return parsed.ok ? { ok: true, id: parsed.id.uri, from } : { ok: false, reason: `${from}: ${parsed.reason}` };
}
