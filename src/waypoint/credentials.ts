/**
 * The waypoint's upstream credentials and connection pools. One `tls.SecureContext` per credential (Secret
 * content hash), rebuilt when the Secret changes; one keep-alive agent per (caller identity, credential, addresses,
 * SNI, CA, verification), so no upstream connection ever carries the requests of two identities, plain HTTP included.
 */
import { readFileSync, statSync } from 'node:fs';
import type http from 'node:http';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { checkServerIdentity, createSecureContext, type PeerCertificate, type SecureContext } from 'node:tls';
import type { Resource } from '../config/types.ts';
import type { WaypointCode } from '../errors/waypoint-codes.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import { x509 } from '../identity/x509.ts';
import type { UpstreamAddress } from '../upstream/plan.ts';
import { vettedAgent } from '../upstream/vetted-agent.ts';
import type { TlsPlan } from './origination.ts';
import {
  CA_SUFFIX,
  readCredential,
  subjectText,
  type CredentialMaterial,
  type CredentialResult,
} from './secret-keys.ts';
import { messageOf } from '../errors/message-of.ts';

/** TLS settings resolved for one request: what the pool key and the handshake need. */
export interface ResolvedTls {
  /** Identifies credential + CA + verification; part of the pool key. */
  readonly id: string;
  readonly secureContext: SecureContext;
  readonly servername: string;
  readonly rejectUnauthorized: boolean;
  readonly checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined;
  /** The client certificate's subject (the external identity), or null without one. */
  readonly subject: string | null;
  /** `namespace/name` of the Secret used, or null. */
  readonly secret: string | null;
  /** Set when verification is weakened (insecureSkipVerify). */
  readonly warning: string | null;
}

export type ResolveResult =
  | { readonly ok: true; readonly tls: ResolvedTls }
  | { readonly ok: false; readonly code: WaypointCode; readonly reason: string };

export interface CredentialStoreOptions {
  /** Idle upstream connections kept per pool (default 16). */
  readonly maxFreeSockets?: number;
  /** How long an idle upstream connection is kept, ms (default 60 s). */
  readonly idleTimeoutMs?: number;
}

/** An error a SAN check fails the handshake with; classified as PCL_WAYPOINT_UPSTREAM_SAN. */
class SanMismatchError extends Error {
  readonly code = 'PCL_WAYPOINT_UPSTREAM_SAN';
}

/** DNS and URI (and IP) SANs of a DER certificate, parsed from DER rather than node's lossy text form. */
function certificateSans(der: Uint8Array): { type: string; value: string }[] {
  const cert = new x509.X509Certificate(der as Uint8Array<ArrayBuffer>);
  const ext = cert.getExtension(x509.SubjectAlternativeNameExtension);
  return ext ? ext.names.items.map((n) => ({ type: n.type, value: n.value })) : [];
}

/** A certificate DNS name matches a wanted host exactly or by a single leftmost `*` label (RFC 6125 §6.4.3). */
function dnsMatches(certName: string, want: string): boolean {
  const c = certName.toLowerCase();
  const w = want.toLowerCase();
  if (c === w) return true;
  if (!c.startsWith('*.')) return false;
  const dot = w.indexOf('.');
  return dot > 0 && w.slice(dot) === c.slice(1);
}

/**
 * Envoy's `match_typed_subject_alt_names` as Istio configures it from `subjectAltNames`: the server certificate
 * passes when ANY of its DNS or URI SANs equals ANY expected name.
 */
export function sanChecker(expected: readonly string[]): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    const sans = cert.raw ? certificateSans(cert.raw) : [];
    const ok = sans.some((s) =>
      expected.some((e) =>
        s.type === 'dns' ? dnsMatches(s.value, e) : s.type === 'url' || s.type === 'ip' ? s.value === e : false,
      ),
    );
    if (ok) return undefined;
    const got = sans.map((s) => `${s.type === 'url' ? 'URI' : s.type.toUpperCase()}:${s.value}`).join(', ') || 'no SAN';
    return new SanMismatchError(
      `upstream certificate SAN check failed: expected one of [${expected.join(', ')}], certificate has ${got}`,
    );
  };
}

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

export class CredentialStore {
  readonly #options: CredentialStoreOptions;
  /** Secret ref → the material last built for it. */
  #materials = new Map<string, CredentialMaterial>();
  /** Context id → context. */
  #contexts = new Map<string, SecureContext>();
  /** Pool key → agent. */
  #agents = new Map<string, http.Agent>();
  #secretsGeneration = -1;
  #secretsSnapshot: Snapshot | null = null;
  #secrets = new Map<string, Resource>();
  #files = new Map<string, { stamp: string; text: string }>();
  #credentialCache = new Map<
    string,
    { secret: Resource | null; caSecret: Resource | null; result: CredentialResult }
  >();
  /** PEM text → its short digest: the same PEM strings come back on every request, hashing them was 1 % of CPU. */
  #digests = new Map<string, string>();
  #poolGeneration = 0;

  constructor(options: CredentialStoreOptions = {}) {
    this.#options = options;
  }

  #secretIndex(snap: Snapshot): Map<string, Resource> {
    if (snap.generation !== this.#secretsGeneration || snap !== this.#secretsSnapshot) {
      this.#secretsGeneration = snap.generation;
      this.#secretsSnapshot = snap;
      this.#secrets = new Map();
      for (const r of snap.load.resources)
        if (r.kind === 'Secret') this.#secrets.set(`${r.metadata.namespace}/${r.metadata.name}`, r);
    }
    return this.#secrets;
  }

  /** Read a file named by the DestinationRule (re-read when its size or mtime changes). Inline PEM is returned as is. */
  #file(pathOrPem: string): string {
    if (pathOrPem.includes('-----BEGIN')) return pathOrPem;
    const st = statSync(pathOrPem);
    const stamp = `${st.size}:${st.mtimeMs}`;
    const cached = this.#files.get(pathOrPem);
    if (cached && cached.stamp === stamp) return cached.text;
    const text = readFileSync(pathOrPem, 'utf8');
    this.#files.set(pathOrPem, { stamp, text });
    return text;
  }

  /** Note a credential's current material; a changed Secret retires the old context and its pools. */
  #track(material: CredentialMaterial): void {
    const prev = this.#materials.get(material.ref);
    if (prev && prev.hash !== material.hash) {
      const oldId = `${prev.ref}#${prev.hash}`;
      for (const [id] of this.#contexts) if (id.startsWith(oldId)) this.#contexts.delete(id);
      for (const [key, agent] of this.#agents) {
        if (key.includes(`|${oldId}|`)) {
          agent.destroy();
          this.#agents.delete(key);
          this.#poolGeneration++;
        }
      }
    }
    this.#materials.set(material.ref, material);
  }

  /**
   * `readCredential`, remembered while the Secret (and its `-cacert` companion) are the same resource objects:
   * snapshots never mutate resources, so the same objects mean the same bytes. Parsing the certificate and key and
   * checking that they match cost more than the rest of a request; they now happen once per Secret version.
   */
  #readCredential(
    secrets: Map<string, Resource>,
    namespace: string,
    name: string,
    needClientCert: boolean,
  ): CredentialResult {
    const key = `${namespace}/${name}|${needClientCert}`;
    const secret = secrets.get(`${namespace}/${name}`) ?? null;
    const caSecret = secrets.get(`${namespace}/${name}${CA_SUFFIX}`) ?? null;
    const cached = this.#credentialCache.get(key);
    if (cached && cached.secret === secret && cached.caSecret === caSecret) return cached.result;
    const result = readCredential((ns, n) => secrets.get(`${ns}/${n}`) ?? null, namespace, name, needClientCert);
    this.#credentialCache.set(key, { secret, caSecret, result });
    return result;
  }

  #digest(text: string): string {
    let d = this.#digests.get(text);
    if (d === undefined) {
      // Bounded: Secrets and files rotate, and an old PEM is never asked for again.
      if (this.#digests.size >= 256) this.#digests.clear();
      d = sha(text);
      this.#digests.set(text, d);
    }
    return d;
  }

  /** Resolve a TLS plan into a context and verification for this request. */
  resolve(snap: Snapshot, plan: TlsPlan): ResolveResult {
    const secrets = this.#secretIndex(snap);
    let material: CredentialMaterial | null = null;
    if (plan.credential) {
      const r = this.#readCredential(secrets, plan.credential.namespace, plan.credential.name, plan.mode === 'MUTUAL');
      if (!r.ok) return r;
      material = r.material;
      this.#track(material);
    }
    let certPem = material?.certPem ?? null;
    let keyPem = material?.keyPem ?? null;
    let caPem = material?.caPem ?? null;
    let subject = material?.subject ?? null;
    try {
      if (plan.caCertificates) caPem = this.#file(plan.caCertificates);
      if (!material && plan.mode === 'MUTUAL' && plan.clientCertificate && plan.privateKey) {
        certPem = this.#file(plan.clientCertificate);
        keyPem = this.#file(plan.privateKey);
        const cert = new X509Certificate(certPem);
        if (!cert.checkPrivateKey(createPrivateKey(keyPem))) {
          return {
            ok: false,
            code: 'PCL_WAYPOINT_SECRET_KEY_MISMATCH',
            reason: `privateKey ${plan.privateKey} does not match clientCertificate ${plan.clientCertificate}`,
          };
        }
        subject = subjectText(cert);
      }
    } catch (err) {
      return {
        ok: false,
        code: 'PCL_WAYPOINT_TLS_UNSUPPORTED',
        reason: `cannot read DestinationRule certificate files: ${messageOf(err)}`,
      };
    }
    const credId = material
      ? `${material.ref}#${material.hash}`
      : certPem
        ? `file#${this.#digest(certPem + keyPem)}`
        : 'none';
    const caId = caPem === null ? 'system' : this.#digest(caPem);
    const ctxId = `${credId}|ca=${caId}`;
    let secureContext = this.#contexts.get(ctxId);
    if (!secureContext) {
      try {
        secureContext = createSecureContext({
          ...(certPem && keyPem ? { cert: certPem, key: keyPem } : {}),
          ...(caPem ? { ca: caPem } : {}),
        });
      } catch (err) {
        return {
          ok: false,
          code: 'PCL_WAYPOINT_SECRET_KEY_MISMATCH',
          reason: `cannot build a TLS context from ${material?.ref ?? 'the DestinationRule files'}: ${messageOf(err)}`,
        };
      }
      this.#contexts.set(ctxId, secureContext);
    }
    const insecure = plan.insecureSkipVerify;
    const verify = insecure
      ? 'insecure'
      : plan.subjectAltNames.length > 0
        ? `san=${plan.subjectAltNames.join(',')}`
        : 'hostname';
    return {
      ok: true,
      tls: {
        id: `${ctxId}|${verify}`,
        secureContext,
        servername: plan.sni,
        rejectUnauthorized: !insecure,
        checkServerIdentity: insecure
          ? () => undefined
          : plan.subjectAltNames.length > 0
            ? sanChecker(plan.subjectAltNames)
            : (host, cert) => checkServerIdentity(host, cert),
        subject,
        secret: material?.ref ?? null,
        warning: insecure ? `insecureSkipVerify is set: the upstream certificate of ${plan.sni} is not verified` : null,
      },
    };
  }

  /**
   * The keep-alive agent of one pool: (caller identity, credential + CA + verification, SNI, vetted addresses with
   * their ports). The caller's verified SPIFFE ID is part of every key, plain HTTP included: a connection one identity
   * left in a bad state (an unfinished request, an unread response) can never serve another identity's request.
   * Everything in the key is the pool's own (its addresses, and the TLS settings each of its handshakes uses), so a
   * request names only its method, path and headers.
   */
  agent(identity: string, tls: ResolvedTls | null, addresses: readonly UpstreamAddress[]): http.Agent {
    const where = addresses.map((a) => `${a.ip}:${a.port}`).join(',');
    const key = `${identity}|${tls ? `${tls.id}|sni=${tls.servername}` : 'plain'}|${where}`;
    let agent = this.#agents.get(key);
    if (!agent) {
      const opts: http.AgentOptions & { servername?: string } = {
        keepAlive: true,
        maxFreeSockets: this.#options.maxFreeSockets ?? 16,
        timeout: this.#options.idleTimeoutMs ?? 60_000,
        scheduling: 'lifo',
        // Set, so node does not work one out from each request's Host header (the handshake uses the pool's own).
        ...(tls ? { servername: tls.servername } : {}),
        // Node (since the per-request checkServerIdentity hardening) never keeps a socket alive whose request carried
        // its own checkServerIdentity unless the agent has one too; here no request carries one (the pool's TLS
        // settings are given to each handshake), so every connection is kept.
      };
      agent = vettedAgent(tls !== null, opts, {
        vetted: addresses,
        ...(tls
          ? {
              tls: {
                servername: tls.servername,
                secureContext: tls.secureContext,
                rejectUnauthorized: tls.rejectUnauthorized,
                checkServerIdentity: tls.checkServerIdentity,
              },
            }
          : {}),
      });
      this.#agents.set(key, agent);
    }
    return agent;
  }

  /**
   * Changes whenever a pool is retired (a rotated Secret, `close`): an agent a caller remembered from `agent` is
   * current only while this is the value it saw then.
   */
  get poolGeneration(): number {
    return this.#poolGeneration;
  }

  /** How many pools exist (for tests and the admin dump). */
  get poolCount(): number {
    return this.#agents.size;
  }

  /** Close every pooled connection. */
  close(): void {
    for (const a of this.#agents.values()) a.destroy();
    this.#agents.clear();
    this.#poolGeneration++;
    this.#contexts.clear();
  }
}
