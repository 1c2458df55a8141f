/** A certificate authority in Istio's `cacerts` layout: create a development root, load any existing one, issue certificates. */
import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  randomBytes,
  webcrypto,
  X509Certificate,
} from 'node:crypto';

import { access, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PortcullisError } from '../errors/portcullis-error.ts';
import { parseSpiffeId } from './spiffe-id.ts';
import { joinPem, splitCertificates, writeFileAtomic } from './pem.ts';
import { x509 } from './x509.ts';

/** Istio's plugin-CA file names (`istio/samples/certs`, `cacerts` Secret keys). */
const CACERTS_FILES = {
  rootCert: 'root-cert.pem',
  caCert: 'ca-cert.pem',
  caKey: 'ca-key.pem',
  certChain: 'cert-chain.pem',
} as const;

/** The file names of an issued workload certificate, as istio-agent writes them. */
export const ISSUED_FILES = {
  certChain: 'cert-chain.pem',
  key: 'key.pem',
  rootCert: 'root-cert.pem',
} as const;

const DEFAULT_ROOT_TTL_DAYS = 3650; // Istio's self-signed root defaults to 10 years.
const DAY_MS = 86_400_000;
// Certificates start slightly in the past so a peer whose clock runs a little behind accepts them at once.
const BACKDATE_MS = 60_000;

/** A loaded signing CA. */
export interface CertificateAuthority {
  /** The folder it was loaded from. */
  readonly dir: string;
  /** The signing certificate (ca-cert.pem). */
  readonly signingCertPem: string;
  /** ca-cert.pem followed by its parents (cert-chain.pem), appended to every issued leaf. */
  readonly chainPems: readonly string[];
  /** The trust anchors (root-cert.pem, possibly several during a root rotation). */
  readonly rootCertPem: string;
  readonly notAfter: Date;
  /** @internal signing material */
  readonly signer: Signer;
}

interface Signer {
  readonly cert: x509.X509Certificate;
  readonly key: CryptoKey;
  readonly algorithm: webcrypto.Algorithm | webcrypto.EcdsaParams;
}

/** What `issue*` returns; `writeIssued` puts it on disk with Istio's names. */
export interface IssuedCertificate {
  /** The leaf alone. */
  readonly certPem: string;
  /** Leaf followed by the CA chain (what a TLS peer presents). */
  readonly certChainPem: string;
  /** PKCS#8 private key of the leaf. */
  readonly keyPem: string;
  /** The trust bundle the peer verifies against. */
  readonly rootCertPem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface InitCaOptions {
  readonly trustDomain: string;
  readonly ttlDays?: number;
  /** Replace an existing CA in `dir`. */
  readonly force?: boolean;
}

/** Validity window of an issued certificate: `ttl` from `notBefore` (default: now, backdated a minute). */
export interface ValidityOptions {
  readonly ttl: number;
  readonly notBefore?: Date;
}

const EC_P256: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const ECDSA_SHA256: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

function randomSerial(): string {
  const bytes = randomBytes(16);
  // Positive and minimally encoded (RFC 5280 §4.1.2.2): clear the sign bit, keep the first byte non-zero.
  bytes[0] = (bytes[0] & 0x7f) | 0x40;
  return bytes.toString('hex');
}

async function generateKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  const body = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN PRIVATE KEY-----\n${body}-----END PRIVATE KEY-----\n`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Create a development root CA in `dir`, in Istio's cacerts layout. The root signs directly, so ca-cert.pem,
 * root-cert.pem and cert-chain.pem all hold the same certificate; the subject's O is the trust domain, as Istio's
 * self-signed CA does. Refuses to replace an existing CA unless `force`.
 */
export async function initCa(dir: string, options: InitCaOptions): Promise<CertificateAuthority> {
  const ttlDays = options.ttlDays ?? DEFAULT_ROOT_TTL_DAYS;
  if (!Number.isInteger(ttlDays) || ttlDays <= 0) {
    throw new PortcullisError(
      'PCL_IDENTITY_TTL_INVALID',
      `CA lifetime must be a positive number of days, got ${ttlDays}`,
    );
  }
  if (!/^[a-z0-9._-]+$/.test(options.trustDomain)) {
    throw new PortcullisError(
      'PCL_IDENTITY_SPIFFE_INVALID',
      `trust domain "${options.trustDomain}" has characters outside [a-z0-9._-]`,
    );
  }
  if (!options.force) {
    for (const name of Object.values(CACERTS_FILES)) {
      if (await exists(join(dir, name))) {
        throw new PortcullisError(
          'PCL_IDENTITY_CA_EXISTS',
          `${join(dir, name)} already exists; not overwriting the CA in ${dir}`,
        );
      }
    }
  }
  const keys = await generateKeyPair();
  const notBefore = new Date(Date.now() - BACKDATE_MS);
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ O: [options.trustDomain] }, { CN: ['Portcullis development root CA'] }],
    notBefore,
    notAfter: new Date(notBefore.getTime() + ttlDays * DAY_MS),
    keys,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const rootPem = `${root.toString('pem').trim()}\n`;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(dir, CACERTS_FILES.caKey), await exportKeyPem(keys.privateKey), 0o600);
  await writeFileAtomic(join(dir, CACERTS_FILES.caCert), rootPem, 0o644);
  await writeFileAtomic(join(dir, CACERTS_FILES.certChain), rootPem, 0o644);
  await writeFileAtomic(join(dir, CACERTS_FILES.rootCert), rootPem, 0o644);
  return loadCa(dir);
}

async function importSigningKey(
  pem: string,
  file: string,
): Promise<{ key: CryptoKey; algorithm: webcrypto.Algorithm | webcrypto.EcdsaParams }> {
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(pem);
  } catch (err) {
    throw new PortcullisError('PCL_IDENTITY_CA_INVALID', `${file}: not a readable private key`, { cause: err });
  }
  const der = keyObject.export({ format: 'der', type: 'pkcs8' });
  if (keyObject.asymmetricKeyType === 'ec') {
    const curves: Record<string, [string, string]> = {
      prime256v1: ['P-256', 'SHA-256'],
      secp384r1: ['P-384', 'SHA-384'],
      secp521r1: ['P-521', 'SHA-512'],
    };
    const curve = curves[keyObject.asymmetricKeyDetails?.namedCurve ?? ''];
    if (curve === undefined) {
      throw new PortcullisError(
        'PCL_IDENTITY_CA_INVALID',
        `${file}: unsupported EC curve ${keyObject.asymmetricKeyDetails?.namedCurve}`,
      );
    }
    const key = await webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: curve[0] }, false, [
      'sign',
    ]);
    return { key, algorithm: { name: 'ECDSA', hash: curve[1] } as webcrypto.EcdsaParams };
  }
  if (keyObject.asymmetricKeyType === 'rsa') {
    // Istio's sample and many enterprise CAs are RSA; sign with PKCS#1 v1.5 / SHA-256 as Go's x509 does.
    const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    const key = await webcrypto.subtle.importKey('pkcs8', der, algorithm, false, ['sign']);
    return { key, algorithm };
  }
  throw new PortcullisError('PCL_IDENTITY_CA_INVALID', `${file}: unsupported key type ${keyObject.asymmetricKeyType}`);
}

function parseCertificates(pem: string, file: string): X509Certificate[] {
  const blocks = splitCertificates(pem);
  if (blocks.length === 0) throw new PortcullisError('PCL_IDENTITY_CA_INVALID', `${file}: no CERTIFICATE block`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new PortcullisError('PCL_IDENTITY_CA_INVALID', `${file}: certificate #${i + 1} cannot be parsed`, {
        cause: err,
      });
    }
  });
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

/**
 * Load any Istio cacerts folder: a root that signs directly, or an intermediate under an external root.
 * ca-cert.pem is the signing certificate, ca-key.pem its key, cert-chain.pem ca-cert.pem plus its parents
 * (optional; defaults to ca-cert.pem alone) and root-cert.pem the trust anchor(s). Everything is checked up front:
 * the key matches, the signing certificate is a current CA, and the chain leads to a root.
 */
export async function loadCa(dir: string): Promise<CertificateAuthority> {
  const path = (name: string): string => join(dir, name);
  for (const name of [CACERTS_FILES.caCert, CACERTS_FILES.caKey]) {
    if (!(await exists(path(name)))) {
      throw new PortcullisError(
        'PCL_IDENTITY_CA_NOT_FOUND',
        `no CA in ${dir} (missing ${name}); run \`portcullis ca init --dir ${dir}\` or point --dir at an Istio cacerts folder`,
      );
    }
  }
  const caCertText = await readFile(path(CACERTS_FILES.caCert), 'utf8');
  const caKeyText = await readFile(path(CACERTS_FILES.caKey), 'utf8');
  const [signing] = parseCertificates(caCertText, path(CACERTS_FILES.caCert));

  let chain: X509Certificate[] = [signing];
  if (await exists(path(CACERTS_FILES.certChain))) {
    const listed = parseCertificates(
      await readFile(path(CACERTS_FILES.certChain), 'utf8'),
      path(CACERTS_FILES.certChain),
    );
    // Some tools write only the parents into cert-chain.pem; the leaf chain must still start with ca-cert.pem.
    chain = listed[0].raw.equals(signing.raw) ? listed : [signing, ...listed];
  }

  let roots: X509Certificate[];
  let rootCertPem: string;
  if (await exists(path(CACERTS_FILES.rootCert))) {
    rootCertPem = await readFile(path(CACERTS_FILES.rootCert), 'utf8');
    roots = parseCertificates(rootCertPem, path(CACERTS_FILES.rootCert));
  } else if (issuedBy(signing, signing)) {
    roots = [signing];
    rootCertPem = signing.toString();
  } else {
    throw new PortcullisError('PCL_IDENTITY_CA_NOT_FOUND', `no CA in ${dir} (missing ${CACERTS_FILES.rootCert})`);
  }
  rootCertPem = joinPem(roots.map((r) => r.toString()));

  if (!signing.ca)
    throw new PortcullisError(
      'PCL_IDENTITY_CA_INVALID',
      `${path(CACERTS_FILES.caCert)} is not a CA certificate (basicConstraints CA:FALSE)`,
    );
  const now = Date.now();
  if (Date.parse(signing.validTo) <= now) {
    throw new PortcullisError('PCL_IDENTITY_CA_INVALID', `${path(CACERTS_FILES.caCert)} expired on ${signing.validTo}`);
  }
  const certSpki = signing.publicKey.export({ type: 'spki', format: 'der' });
  let keySpki: Buffer;
  try {
    keySpki = createPublicKey(createPrivateKey(caKeyText)).export({ type: 'spki', format: 'der' });
  } catch (err) {
    throw new PortcullisError('PCL_IDENTITY_CA_INVALID', `${path(CACERTS_FILES.caKey)}: not a readable private key`, {
      cause: err,
    });
  }
  if (!certSpki.equals(keySpki)) {
    throw new PortcullisError(
      'PCL_IDENTITY_CA_INVALID',
      `${path(CACERTS_FILES.caKey)} does not match ${path(CACERTS_FILES.caCert)}`,
    );
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!issuedBy(chain[i], chain[i + 1])) {
      throw new PortcullisError(
        'PCL_IDENTITY_CA_INVALID',
        `${path(CACERTS_FILES.certChain)}: certificate #${i + 1} (${chain[i].subject}) is not signed by #${i + 2} (${chain[i + 1].subject})`,
      );
    }
  }
  const top = chain[chain.length - 1];
  const anchored = roots.some((root) => root.raw.equals(top.raw) || issuedBy(top, root));
  if (!anchored) {
    throw new PortcullisError(
      'PCL_IDENTITY_CA_INVALID',
      `the chain of ${path(CACERTS_FILES.caCert)} does not lead to any certificate in ${path(CACERTS_FILES.rootCert)}`,
    );
  }

  const { key, algorithm } = await importSigningKey(caKeyText, path(CACERTS_FILES.caKey));
  return {
    dir,
    signingCertPem: signing.toString(),
    chainPems: chain.map((c) => c.toString()),
    rootCertPem,
    notAfter: new Date(signing.validTo),
    signer: { cert: new x509.X509Certificate(signing.raw), key, algorithm },
  };
}

function authorityKeyId(ca: CertificateAuthority): x509.Extension[] {
  // Point at the CA's own SubjectKeyIdentifier (Go's x509 does the same); an external CA may compute it differently.
  const ski = ca.signer.cert.getExtension(x509.SubjectKeyIdentifierExtension);
  return ski ? [new x509.AuthorityKeyIdentifierExtension(ski.keyId)] : [];
}

async function issue(
  ca: CertificateAuthority,
  validity: ValidityOptions,
  subject: string | x509.JsonName,
  extensions: x509.Extension[],
  publicKey?: x509.PublicKey,
): Promise<IssuedCertificate> {
  if (!Number.isFinite(validity.ttl) || validity.ttl <= 0) {
    throw new PortcullisError(
      'PCL_IDENTITY_TTL_INVALID',
      `certificate lifetime must be positive, got ${validity.ttl} ms`,
    );
  }
  // A CSR brings its own public key (the requester keeps the private key); otherwise a key pair is made here.
  const keys = publicKey === undefined ? await generateKeyPair() : null;
  const notBefore = validity.notBefore ?? new Date(Date.now() - BACKDATE_MS);
  const notAfter = new Date(notBefore.getTime() + validity.ttl);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject,
    issuer: ca.signer.cert.subjectName,
    notBefore,
    notAfter,
    publicKey: keys?.publicKey ?? publicKey!,
    signingKey: ca.signer.key,
    signingAlgorithm: ca.signer.algorithm,
    extensions: [...extensions, ...authorityKeyId(ca)],
  });
  const certPem = `${cert.toString('pem').trim()}\n`;
  return {
    certPem,
    certChainPem: joinPem([certPem, ...ca.chainPems]),
    keyPem: keys === null ? '' : await exportKeyPem(keys.privateKey),
    rootCertPem: ca.rootCertPem,
    notBefore,
    notAfter,
  };
}

/**
 * Issue a workload certificate as istiod does (`security/pkg/pki/util/generate_cert.go`): empty subject, the SPIFFE
 * ID as a critical URI SAN, key usage digitalSignature + keyEncipherment, EKU serverAuth + clientAuth, not a CA.
 * `spiffe` may list several IDs (one URI SAN each, in order): a gateway serving several Gateways presents them all.
 * With `publicKey` (from a CSR) the certificate is for that key and `keyPem` is empty.
 */
export async function issueWorkloadCert(
  ca: CertificateAuthority,
  options: ValidityOptions & { readonly spiffe: string | readonly string[]; readonly publicKey?: x509.PublicKey },
): Promise<IssuedCertificate> {
  const ids = typeof options.spiffe === 'string' ? [options.spiffe] : options.spiffe;
  if (ids.length === 0)
    throw new PortcullisError('PCL_IDENTITY_SPIFFE_INVALID', 'a workload certificate needs at least one SPIFFE ID');
  const uris = ids.map((id) => {
    const parsed = parseSpiffeId(id);
    if (!parsed.ok) throw new PortcullisError('PCL_IDENTITY_SPIFFE_INVALID', parsed.reason);
    return parsed.id.uri;
  });
  return issue(
    ca,
    options,
    [],
    [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      // With an empty subject the SAN carries the identity and must be critical (RFC 5280 §4.2.1.6).
      new x509.SubjectAlternativeNameExtension(
        uris.map((value) => ({ type: 'url' as const, value })),
        true,
      ),
    ],
    options.publicKey,
  );
}

/** Issue a plain client certificate (no SPIFFE SAN, EKU clientAuth), e.g. seed 002's `CN=team-namespace.app1`. */
export async function issueClientCert(
  ca: CertificateAuthority,
  options: ValidityOptions & { readonly subject: string },
): Promise<IssuedCertificate> {
  let subject: x509.Name;
  try {
    subject = new x509.Name(options.subject);
  } catch (err) {
    throw new PortcullisError(
      'PCL_IDENTITY_CA_USAGE',
      `cannot read subject "${options.subject}" (expected e.g. CN=team-namespace.app1)`,
      { cause: err },
    );
  }
  if (subject.toJSON().length === 0) {
    throw new PortcullisError(
      'PCL_IDENTITY_CA_USAGE',
      `subject "${options.subject}" is empty (expected e.g. CN=team-namespace.app1)`,
    );
  }
  return issue(ca, options, subject.toJSON(), [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
  ]);
}

/** Issue a TLS server certificate for DNS names and/or IP addresses (test upstreams, local stand-ins for external hosts). */
export async function issueServerCert(
  ca: CertificateAuthority,
  options: ValidityOptions & { readonly dnsNames?: readonly string[]; readonly ipAddresses?: readonly string[] },
): Promise<IssuedCertificate> {
  const names: x509.JsonGeneralName[] = [
    ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  if (names.length === 0) {
    throw new PortcullisError(
      'PCL_IDENTITY_CA_USAGE',
      'a server certificate needs at least one DNS name or IP address',
    );
  }
  return issue(
    ca,
    options,
    [{ CN: [names[0].value] }],
    [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names, false),
    ],
  );
}

/** Write an issued certificate with istio-agent's names: cert-chain.pem, key.pem (0600), root-cert.pem. */
export async function writeIssued(outDir: string, issued: IssuedCertificate): Promise<void> {
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  // Key first: a watcher that wakes between the writes sees a key/cert mismatch and keeps the old pair.
  await writeFileAtomic(join(outDir, ISSUED_FILES.key), issued.keyPem, 0o600);
  await writeFileAtomic(join(outDir, ISSUED_FILES.certChain), issued.certChainPem, 0o644);
  await writeFileAtomic(join(outDir, ISSUED_FILES.rootCert), issued.rootCertPem, 0o644);
}

/**
 * Issue an intermediate signing CA under `parent` (for a per-cluster CA under a shared root, as Istio's
 * `tools/certs` Makefile does). Write the result with `writeCacerts` to get a folder `loadCa` reads.
 */
export async function issueIntermediateCa(
  parent: CertificateAuthority,
  options: ValidityOptions & { readonly commonName: string; readonly organization?: string },
): Promise<IssuedCertificate> {
  const name: x509.JsonName = [
    ...(options.organization !== undefined ? [{ O: [options.organization] }] : []),
    { CN: [options.commonName] },
  ];
  const keys = await generateKeyPair();
  const notBefore = options.notBefore ?? new Date(Date.now() - BACKDATE_MS);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: name,
    issuer: parent.signer.cert.subjectName,
    notBefore,
    notAfter: new Date(notBefore.getTime() + options.ttl),
    publicKey: keys.publicKey,
    signingKey: parent.signer.key,
    signingAlgorithm: parent.signer.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ...authorityKeyId(parent),
    ],
  });
  const certPem = `${cert.toString('pem').trim()}\n`;
  return {
    certPem,
    certChainPem: joinPem([certPem, ...parent.chainPems]),
    keyPem: await exportKeyPem(keys.privateKey),
    rootCertPem: parent.rootCertPem,
    notBefore,
    notAfter: new Date(notBefore.getTime() + options.ttl),
  };
}

/** Write an intermediate CA as an Istio cacerts folder: ca-cert.pem, ca-key.pem (0600), cert-chain.pem, root-cert.pem. */
export async function writeCacerts(dir: string, intermediate: IssuedCertificate): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(dir, CACERTS_FILES.caKey), intermediate.keyPem, 0o600);
  await writeFileAtomic(join(dir, CACERTS_FILES.caCert), intermediate.certPem, 0o644);
  await writeFileAtomic(join(dir, CACERTS_FILES.certChain), intermediate.certChainPem, 0o644);
  await writeFileAtomic(join(dir, CACERTS_FILES.rootCert), intermediate.rootCertPem, 0o644);
}
