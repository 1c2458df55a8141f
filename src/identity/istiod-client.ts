/**
 * A certificate from istiod, the way ztunnel gets one (`src/identity/caclient.rs`): gRPC
 * `istio.v1.auth.IstioCertificateService/CreateCertificate` over TLS verified against the mesh root, a CSR for one
 * SPIFFE ID, `authorization: Bearer <projected token>`; an empty chain or a leaf naming another identity is refused.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ipFamily } from '../net/ip-syntax.ts';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PortcullisError } from '../errors/portcullis-error.ts';
import { createCsr } from './csr.ts';
import { spiffeIdentities } from './peer-identity.ts';
import { joinPem, splitCertificates } from './pem.ts';
import type { IssuedMaterial } from './renewing-source.ts';

/** istio/api `security/v1alpha1/ca.proto`, shipped with the package (Apache-2.0, see proto/README.md). */
export const CA_PROTO_FILE = fileURLToPath(new URL('../../proto/ca.proto', import.meta.url));
const CA_SERVICE = 'istio.v1.auth.IstioCertificateService';

/** istiod's certificate port in every Istio install (`CA_ADDRESS`'s default). */
export const DEFAULT_CA_ADDRESS = 'istiod.istio-system.svc:15012';
/** The DNS name in istiod's serving certificate (`istiod.<ns>.svc`). */
const ISTIOD_NAME = 'istiod.istio-system.svc';
/** Where ztunnel and istio-proxy find the mesh root (the `istio-ca-root-cert` ConfigMap). */
export const DEFAULT_CA_ROOT_CERT = '/var/run/secrets/istio/root-cert.pem';
/** The projected ServiceAccount token with audience `istio-ca`. */
export const DEFAULT_CA_TOKEN_FILE = '/var/run/secrets/tokens/istio-token';
/** Istio's default workload certificate lifetime. */
export const DEFAULT_CERT_TTL_MS = 24 * 3_600_000;

/** The wire shape of the two messages (proto-loader, camelCase). */
export interface CertificateRequestMessage {
  readonly csr: string;
  readonly validityDuration: number;
}
export interface CertificateResponseMessage {
  readonly certChain: readonly string[];
  readonly rootCert?: { readonly caCert: readonly string[] } | null;
}

const LOADER_OPTIONS: protoLoader.Options = { keepCase: false, longs: Number, defaults: true, oneofs: true };

/** The service definition from the shipped proto (the fake istiod in the tests serves the same one). */
export function loadCaService(): grpc.ServiceDefinition {
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(CA_PROTO_FILE, LOADER_OPTIONS)) as unknown as {
    istio: { v1: { auth: { IstioCertificateService: grpc.ServiceClientConstructor } } };
  };
  return pkg.istio.v1.auth.IstioCertificateService.service;
}

export interface IstiodClientOptions {
  /** `host:port` of istiod's certificate service. */
  readonly address: string;
  /** The mesh root istiod's serving certificate is verified against (re-read when it changes). */
  readonly rootCertFile: string;
  /** The bearer token (re-read for each request: projected tokens rotate). */
  readonly tokenFile: string;
  /** The name istiod's certificate is checked for; default the host of `address` (istiod.istio-system.svc for an IP). */
  readonly serverName?: string;
  /** Deadline of one request; default 10 s. */
  readonly timeoutMs?: number;
}

function failed(address: string, message: string, cause?: unknown): PortcullisError {
  return new PortcullisError('PCL_IDENTITY_ISTIOD_FAILED', `istiod at ${address}: ${message}`, { cause });
}

/**
 * Check an answer and turn it into TLS material: leaf first, the chain presented as given; the trust bundle is the
 * answer's `root_cert` when set, otherwise the configured mesh root. Pure: the tests feed it hostile answers.
 */
export function materialFromResponse(
  res: CertificateResponseMessage,
  asked: string,
  keyPem: string,
  meshRootPem: string,
  address: string,
): IssuedMaterial {
  const chain = (res.certChain ?? []).filter((c) => c.trim() !== '');
  if (chain.length === 0) {
    throw new PortcullisError(
      'PCL_IDENTITY_ISTIOD_EMPTY_CHAIN',
      `istiod at ${address} answered the request for ${asked} with an empty certificate chain`,
    );
  }
  const blocks = splitCertificates(joinPem(chain));
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(blocks[0] ?? '');
  } catch (err) {
    throw failed(address, `the first certificate of the answer for ${asked} cannot be parsed`, err);
  }
  const ids = spiffeIdentities(leaf.raw).map((i) => i.uri);
  if (ids[0] !== asked) {
    throw new PortcullisError(
      'PCL_IDENTITY_ISTIOD_WRONG_IDENTITY',
      `istiod at ${address} signed a certificate for ${ids.length === 0 ? 'no SPIFFE ID' : ids.join(', ')} when ${asked} was asked for`,
    );
  }
  const roots = (res.rootCert?.caCert ?? []).filter((c) => c.trim() !== '');
  const rootCertPem = roots.length > 0 ? joinPem(roots) : meshRootPem;
  return {
    certChainPem: joinPem(chain),
    keyPem,
    rootCertPem,
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
  };
}

/** One client per process; `requestCertificate` is the issuer a `RenewingCertificateSource` calls. */
export class IstiodClient {
  readonly #options: IstiodClientOptions;
  #client: grpc.Client | null = null;
  #rootPem = '';

  constructor(options: IstiodClientOptions) {
    this.#options = options;
  }

  get address(): string {
    return this.#options.address;
  }

  /** Ask istiod for a certificate for `spiffeId`, valid for `ttlMs` (istiod may shorten it). */
  async requestCertificate(spiffeId: string, ttlMs: number): Promise<IssuedMaterial> {
    const { address, tokenFile } = this.#options;
    let token: string;
    try {
      token = (await readFile(tokenFile, 'utf8')).trim();
    } catch (err) {
      throw new PortcullisError(
        'PCL_IDENTITY_TOKEN_UNREADABLE',
        `--ca-token-file ${tokenFile}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (token === '')
      throw new PortcullisError('PCL_IDENTITY_TOKEN_UNREADABLE', `--ca-token-file ${tokenFile} is empty`);
    const client = await this.#connect();
    const { csrPem, keyPem } = await createCsr(spiffeId);
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const request: CertificateRequestMessage = { csr: csrPem, validityDuration: Math.max(1, Math.round(ttlMs / 1000)) };
    const deadline = new Date(Date.now() + (this.#options.timeoutMs ?? 10_000));
    const res = await new Promise<CertificateResponseMessage>((resolve, reject) => {
      client.makeUnaryRequest<CertificateRequestMessage, CertificateResponseMessage>(
        `/${CA_SERVICE}/CreateCertificate`,
        (m) => this.#serialize(m),
        (b) => this.#deserialize(b),
        request,
        metadata,
        { deadline },
        (err, value) => {
          if (err !== null)
            reject(failed(address, `${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`, err));
          else if (value === undefined) reject(failed(address, 'no answer'));
          else resolve(value);
        },
      );
    });
    return materialFromResponse(res, spiffeId, keyPem, this.#rootPem, address);
  }

  close(): void {
    this.#client?.close();
    this.#client = null;
  }

  #types = protoLoader.loadSync(CA_PROTO_FILE, LOADER_OPTIONS);

  #serialize(m: CertificateRequestMessage): Buffer {
    const def = this.#types[CA_SERVICE] as protoLoader.ServiceDefinition;
    return def.CreateCertificate.requestSerialize(m);
  }

  #deserialize(b: Buffer): CertificateResponseMessage {
    const def = this.#types[CA_SERVICE] as protoLoader.ServiceDefinition;
    return def.CreateCertificate.responseDeserialize(b) as CertificateResponseMessage;
  }

  /** A channel verified against the current mesh root; a new one when the root file changed. */
  async #connect(): Promise<grpc.Client> {
    const { address, rootCertFile } = this.#options;
    let rootPem: string;
    try {
      rootPem = await readFile(rootCertFile, 'utf8');
    } catch (err) {
      throw failed(address, `cannot read the mesh root --ca-root-cert ${rootCertFile}: ${(err as Error).message}`, err);
    }
    if (splitCertificates(rootPem).length === 0)
      throw failed(address, `--ca-root-cert ${rootCertFile} holds no CERTIFICATE`);
    if (this.#client !== null && rootPem === this.#rootPem) return this.#client;
    this.close();
    this.#rootPem = rootPem;
    const host = address.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    // TLS forbids an IP as server name: an address given as an IP is checked for istiod's own DNS name.
    const serverName = this.#options.serverName ?? (ipFamily(host) === 0 ? host : ISTIOD_NAME);
    const options: grpc.ChannelOptions =
      serverName === host ? {} : { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName };
    this.#client = new grpc.Client(address, grpc.credentials.createSsl(Buffer.from(rootPem)), options);
    return this.#client;
  }
}
