/**
 * A stand-in for istiod's certificate service, served from the shipped ca.proto over real TLS: checks the bearer
 * token, signs the CSR with the test CA (for the SAN the CSR asks for, as istiod does once it has checked the caller),
 * records every request, and can misbehave (empty chain, wrong SAN) or go down and come back on the same port.
 */
import * as grpc from '@grpc/grpc-js';
import { issueServerCert, issueWorkloadCert, type CertificateAuthority } from '../../src/identity/ca.ts';
import { parseCsr } from '../../src/identity/csr.ts';
import {
  loadCaService,
  type CertificateRequestMessage,
  type CertificateResponseMessage,
} from '../../src/identity/istiod-client.ts';

export type FakeIstiodMode = 'sign' | 'empty-chain' | 'wrong-san';

export interface RecordedRequest {
  readonly authorization: string | null;
  /** The URI SANs the CSR asked for. */
  readonly uris: readonly string[];
  readonly validitySeconds: number;
  readonly accepted: boolean;
}

export interface FakeIstiod {
  /** `127.0.0.1:port` */
  readonly address: string;
  readonly token: string;
  readonly requests: RecordedRequest[];
  mode: FakeIstiodMode;
  /** Upper bound on the lifetime it signs (istiod's MAX_WORKLOAD_CERT_TTL); default none. */
  maxTtlMs: number | null;
  /** Stop answering (the port closes). */
  stop(): Promise<void>;
  /** Serve again on the same port. */
  restart(): Promise<void>;
}

const WRONG_ID = 'spiffe://cluster.local/ns/other/sa/someone-else';

export async function startFakeIstiod(
  ca: CertificateAuthority,
  token = 'test-token-for-istio-ca',
): Promise<FakeIstiod> {
  const serving = await issueServerCert(ca, {
    dnsNames: ['istiod.istio-system.svc'],
    ipAddresses: ['127.0.0.1'],
    ttl: 3_600_000,
  });
  const requests: RecordedRequest[] = [];
  let port = 0;
  let server: grpc.Server | null = null;

  const state = {
    mode: 'sign' as FakeIstiodMode,
    maxTtlMs: null as number | null,
  };

  const createCertificate: grpc.handleUnaryCall<CertificateRequestMessage, CertificateResponseMessage> = (
    call,
    callback,
  ) => {
    const auth = call.metadata.get('authorization')[0];
    const authorization = typeof auth === 'string' ? auth : null;
    const validitySeconds = Number(call.request.validityDuration);
    void (async () => {
      let uris: readonly string[] = [];
      try {
        const csr = await parseCsr(call.request.csr);
        uris = csr.uris;
        if (authorization !== `Bearer ${token}`) {
          requests.push({ authorization, uris, validitySeconds, accepted: false });
          callback({ code: grpc.status.UNAUTHENTICATED, details: 'authenticate failure: token is not valid' });
          return;
        }
        requests.push({ authorization, uris, validitySeconds, accepted: true });
        if (state.mode === 'empty-chain') {
          callback(null, { certChain: [], rootCert: null });
          return;
        }
        const ttl = Math.min(validitySeconds * 1000, state.maxTtlMs ?? Infinity);
        const leaf = await issueWorkloadCert(ca, {
          spiffe: state.mode === 'wrong-san' ? WRONG_ID : [...uris],
          ttl,
          publicKey: csr.publicKey,
          notBefore: new Date(),
        });
        callback(null, { certChain: [leaf.certPem, ...ca.chainPems], rootCert: { caCert: [ca.rootCertPem] } });
      } catch (err) {
        requests.push({ authorization, uris, validitySeconds, accepted: false });
        callback({ code: grpc.status.INVALID_ARGUMENT, details: (err as Error).message });
      }
    })();
  };

  const bind = async (): Promise<void> => {
    const s = new grpc.Server();
    s.addService(loadCaService(), { CreateCertificate: createCertificate });
    const creds = grpc.ServerCredentials.createSsl(
      null,
      [{ cert_chain: Buffer.from(serving.certChainPem), private_key: Buffer.from(serving.keyPem) }],
      false,
    );
    port = await new Promise<number>((resolve, reject) =>
      s.bindAsync(`127.0.0.1:${port}`, creds, (err, p) => (err === null ? resolve(p) : reject(err))),
    );
    server = s;
  };
  await bind();

  return {
    get address() {
      return `127.0.0.1:${port}`;
    },
    token,
    requests,
    get mode() {
      return state.mode;
    },
    set mode(m: FakeIstiodMode) {
      state.mode = m;
    },
    get maxTtlMs() {
      return state.maxTtlMs;
    },
    set maxTtlMs(v: number | null) {
      state.maxTtlMs = v;
    },
    async stop() {
      const s = server;
      server = null;
      if (s !== null) s.forceShutdown();
    },
    async restart() {
      if (server === null) await bind();
    },
  };
}
