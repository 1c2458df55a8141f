/** Microbenchmark: decisions per second and p99 latency over 10,000 policies, 1,000 ServiceEntries, 100 gateways. */
import type { AuthorizationPolicy, AuthorizationPolicySpec } from '../config/api-types.ts';
import { compileAuthorizationPolicy, denyAllPolicy, type CompiledPolicy } from './compile.ts';
import { decideEgress, type LayerInput } from './engine.ts';
import type { AuthzRequest } from './request.ts';

export interface DecisionBenchResult {
  size: 'toy' | 'full';
  policies: number;
  serviceEntries: number;
  gateways: number;
  decisions: number;
  decisionsPerSecond: number;
  p50Micros: number;
  p99Micros: number;
  allowed: number;
}

function policyResource(namespace: string, name: string, spec: AuthorizationPolicySpec): AuthorizationPolicy {
  const source = { file: 'bench', line: 1, column: 1 };
  return {
    kind: 'AuthorizationPolicy',
    apiVersion: 'security.istio.io/v1',
    metadata: { name, namespace, labels: {}, annotations: {} },
    spec,
    raw: {},
    source,
    posOf: () => source,
    key: `AuthorizationPolicy/${namespace}/${name}`,
  };
}

const NAMESPACES = 50;
const SERVICE_ACCOUNTS = 5;

/** A small deterministic PRNG so runs are comparable. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 0x100000000;
  };
}

/** Gateway layer: default-deny plus 9 varied policies per gateway (10 each). */
function gatewayPolicies(g: number): CompiledPolicy[] {
  const ns = 'istio-system';
  const out: CompiledPolicy[] = [denyAllPolicy({ namespace: ns, name: `default-deny-${g}` }, 'l4')];
  for (let i = 0; i < 9; i++) {
    const spec: AuthorizationPolicySpec =
      i === 0
        ? { action: 'DENY', rules: [{ from: [{ source: { namespaces: ['default', `ns-${(g + 7) % NAMESPACES}`] } }] }] }
        : {
            action: 'ALLOW',
            rules: [
              {
                from: [
                  {
                    source: {
                      namespaces: [
                        `ns-${(g * 9 + i) % NAMESPACES}`,
                        `ns-${(g * 9 + i + 1) % NAMESPACES}`,
                        `ns-${(g * 3 + i * 5) % NAMESPACES}`,
                      ],
                    },
                  },
                ],
                to: [{ operation: { ports: ['443', '8443'] } }],
              },
            ],
          };
    out.push(compileAuthorizationPolicy(policyResource(ns, `gw-${g}-p${i}`, spec), 'l4'));
  }
  return out;
}

/** ServiceEntry layer: 9 policies per ServiceEntry, mixing principals, namespaces, ip blocks and a DENY. */
function serviceEntryPolicies(s: number): CompiledPolicy[] {
  const ns = `ns-${s % NAMESPACES}`;
  const out: CompiledPolicy[] = [];
  for (let i = 0; i < 9; i++) {
    let spec: AuthorizationPolicySpec;
    if (i === 0) {
      spec = { action: 'DENY', rules: [{ from: [{ source: { notIpBlocks: ['10.0.0.0/8'] } }] }] };
    } else if (i % 3 === 0) {
      spec = { action: 'ALLOW', rules: [{ from: [{ source: { namespaces: [`ns-${(s + i) % NAMESPACES}`] } }] }] };
    } else if (i % 3 === 1) {
      spec = {
        action: 'ALLOW',
        rules: [
          {
            from: [
              {
                source: {
                  principals: [`cluster.local/ns/ns-${(s * 7 + i) % NAMESPACES}/sa/sa-${i % SERVICE_ACCOUNTS}`],
                },
              },
            ],
          },
        ],
      };
    } else {
      spec = {
        action: 'ALLOW',
        rules: [
          {
            from: [
              { source: { serviceAccounts: [`ns-${(s + 3 * i) % NAMESPACES}/sa-${(s + i) % SERVICE_ACCOUNTS}`] } },
            ],
          },
          { when: [{ key: 'source.namespace', values: [`ns-${(s * 11 + i) % NAMESPACES}`] }] },
        ],
      };
    }
    out.push(compileAuthorizationPolicy(policyResource(ns, `se-${s}-p${i}`, spec), 'l4'));
  }
  return out;
}

/**
 * Build the policy set, then measure: one timed pass for throughput and one per-decision pass for percentiles.
 * `toy` is a quick smoke run; `full` is the target size (≥ 300,000 decisions/s, p99 < 10 µs on one core).
 */
export function runDecisionBench(size: 'toy' | 'full'): DecisionBenchResult {
  const gateways = size === 'full' ? 100 : 2;
  const serviceEntries = size === 'full' ? 1000 : 10;
  const decisions = size === 'full' ? 200_000 : 10_000;

  const gatewayLayers: LayerInput[] = [];
  for (let g = 0; g < gateways; g++) {
    gatewayLayers.push({ layer: 'gateway', target: `Gateway istio-system/gw-${g}`, policies: gatewayPolicies(g) });
  }
  const seLayers: LayerInput[] = [];
  for (let s = 0; s < serviceEntries; s++) {
    seLayers.push({
      layer: 'serviceentry',
      target: `ServiceEntry ns-${s % NAMESPACES}/se-${s}`,
      policies: serviceEntryPolicies(s),
    });
  }
  let policies = 0;
  for (const l of gatewayLayers) policies += l.policies.length;
  for (const l of seLayers) policies += l.policies.length;

  const rand = prng(42);
  const work: { layers: LayerInput[]; req: AuthzRequest }[] = [];
  for (let i = 0; i < 4096; i++) {
    const s = Math.floor(rand() * serviceEntries);
    const ns = Math.floor(rand() * NAMESPACES);
    const sa = Math.floor(rand() * SERVICE_ACCOUNTS);
    work.push({
      layers: [gatewayLayers[s % gateways], seLayers[s]],
      req: {
        principal: `spiffe://cluster.local/ns/ns-${ns}/sa/sa-${sa}`,
        sourceIp: rand() < 0.95 ? `10.${ns}.${sa}.${Math.floor(rand() * 250) + 1}` : '192.168.0.9',
        destinationIp: `240.240.${Math.floor(s / 250)}.${s % 250}`,
        destinationPort: rand() < 0.8 ? 443 : 80,
      },
    });
  }

  // Warm up the JIT before measuring.
  let allowed = 0;
  for (let i = 0; i < 20_000; i++) {
    const w = work[i & 4095];
    if (decideEgress(w.layers, w.req).decision === 'allow') allowed++;
  }

  allowed = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < decisions; i++) {
    const w = work[i & 4095];
    if (decideEgress(w.layers, w.req).decision === 'allow') allowed++;
  }
  const elapsedNs = Number(process.hrtime.bigint() - t0);

  const samples = new Float64Array(Math.min(decisions, 100_000));
  for (let i = 0; i < samples.length; i++) {
    const w = work[i & 4095];
    const s0 = process.hrtime.bigint();
    decideEgress(w.layers, w.req);
    samples[i] = Number(process.hrtime.bigint() - s0) / 1000;
  }
  samples.sort();
  const pct = (p: number): number => samples[Math.min(samples.length - 1, Math.floor(samples.length * p))];

  return {
    size,
    policies,
    serviceEntries,
    gateways,
    decisions,
    decisionsPerSecond: Math.round(decisions / (elapsedNs / 1e9)),
    p50Micros: Number(pct(0.5).toFixed(2)),
    p99Micros: Number(pct(0.99).toFixed(2)),
    allowed,
  };
}

if (import.meta.main) {
  const size = process.argv[2] === 'toy' ? 'toy' : 'full';
  const r = runDecisionBench(size);
  console.log(
    `policy decisions [${r.size}]: ${r.policies} policies, ${r.serviceEntries} ServiceEntries, ${r.gateways} gateways: ` +
      `${r.decisionsPerSecond.toLocaleString('en-US')} decisions/s, p50 ${r.p50Micros} µs, p99 ${r.p99Micros} µs ` +
      `(${r.allowed}/${r.decisions} allowed)`,
  );
}
