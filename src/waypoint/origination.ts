/**
 * How the waypoint talks to a backend: plain HTTP, or TLS origination from the backend host's DestinationRule
 * (`trafficPolicy.tls`, port-level settings first) with Istio's defaults: SNI from the endpoint's hostname, SANs
 * from the DestinationRule or else the ServiceEntry, the credential Secret in the proxy's namespace unless the
 * gateway is permitted cross-namespace access (Solo's PERMIT_CROSS_NAMESPACE_RESOURCE_ACCESS,
 * pilot/pkg/features/solo.go of Solo's Istio fork, commit 6f2834d5ee "mTLS Waypoint Egress").
 * Pure: reads the snapshot only.
 */
import { ipFamily } from '../net/ip-syntax.ts';
import type { ClientTLSSettings } from '../config/api-types.ts';
import type { WaypointCode } from '../errors/waypoint-codes.ts';
import { parseCredentialName } from '../mesh/host-match.ts';
import type { DestinationRuleModel, GatewayModel, Snapshot } from '../mesh/snapshot.ts';
import type { BackendTarget } from './routing/backend.ts';

export interface TlsPlan {
  readonly mode: 'SIMPLE' | 'MUTUAL';
  /** The Secret named by credentialName, already checked for permission. */
  readonly credential: { readonly namespace: string; readonly name: string } | null;
  readonly sni: string;
  /** Any of these must be a DNS or URI SAN of the server certificate; empty = check the SNI as a hostname. */
  readonly subjectAltNames: readonly string[];
  readonly insecureSkipVerify: boolean;
  /** `caCertificates` as written: a file path (Istio) or, as a convenience, inline PEM. */
  readonly caCertificates: string | null;
  /** `clientCertificate` / `privateKey` file paths (MUTUAL without credentialName). */
  readonly clientCertificate: string | null;
  readonly privateKey: string | null;
}

export type OriginationPlan =
  | { readonly ok: true; readonly destinationRule: string | null; readonly tls: TlsPlan | null }
  | {
      readonly ok: false;
      readonly code: WaypointCode;
      readonly reason: string;
      readonly destinationRule: string | null;
    };

/** The TLS settings that apply to one port of a DestinationRule (port-level settings win, as in Istio). */
function tlsSettingsFor(dr: DestinationRuleModel, port: number): ClientTLSSettings | undefined {
  const tp = dr.resource.spec.trafficPolicy;
  const pl = tp?.portLevelSettings?.find((p) => p.port?.number === port);
  return pl?.tls ?? tp?.tls;
}

/**
 * Plan the upstream connection for a backend. `endpointHost` is the endpoint address when it is a hostname (the
 * seed's `my-nginx.foo.bar`); `servicePort` is the ServiceEntry port the DestinationRule's port-level settings
 * are keyed by.
 */
export function planOrigination(
  snap: Snapshot,
  gateway: GatewayModel,
  target: BackendTarget,
  endpointHost: string | null,
): OriginationPlan {
  // An invalid DestinationRule with TLS settings fails closed: 503, never plain text nor another credential.
  const invalidDr = snap.invalidDestinationRuleFor(target.host);
  if (invalidDr !== null)
    return { ok: false, code: 'PCL_WAYPOINT_INVALID_DESTINATION_RULE', reason: invalidDr, destinationRule: null };
  const dr = snap.destinationRuleFor(target.host, [gateway.namespace, target.serviceEntry.namespace]);
  if (!dr) return { ok: true, destinationRule: null, tls: null };
  const drRef = `${dr.resource.metadata.namespace}/${dr.resource.metadata.name}`;
  const tls = tlsSettingsFor(dr, target.port.number);
  const mode = tls?.mode ?? 'DISABLE';
  if (!tls || mode === 'DISABLE') return { ok: true, destinationRule: drRef, tls: null };
  const fail = (code: WaypointCode, reason: string): OriginationPlan => ({
    ok: false,
    code,
    reason,
    destinationRule: drRef,
  });
  if (mode === 'ISTIO_MUTUAL') {
    return fail(
      'PCL_WAYPOINT_TLS_UNSUPPORTED',
      `DestinationRule ${drRef}: mode ISTIO_MUTUAL presents the mesh identity, which an external host does not trust; use SIMPLE or MUTUAL`,
    );
  }
  let credential: TlsPlan['credential'] = null;
  if (tls.credentialName) {
    // A bare name means the proxy's own namespace (`credentialName`: "must exist in the namespace of the proxy").
    const parsed = parseCredentialName(tls.credentialName, gateway.namespace);
    if ('error' in parsed) return fail('PCL_WAYPOINT_TLS_UNSUPPORTED', `DestinationRule ${drRef}: ${parsed.error}`);
    const permitted = snap.settings.permitCrossNamespaceResourceAccess.includes(`${gateway.namespace}/${gateway.name}`);
    if (parsed.namespace !== gateway.namespace && !permitted) {
      return fail(
        'PCL_WAYPOINT_CREDENTIAL_NOT_PERMITTED',
        dr.credentialError ??
          `DestinationRule ${drRef}: Secret ${parsed.namespace}/${parsed.name} is in another namespace than waypoint ` +
            `${gateway.ref}; cross-namespace secret reference requires permission: add "${gateway.namespace}/${gateway.name}" ` +
            'to permitCrossNamespaceResourceAccess (or PERMIT_CROSS_NAMESPACE_RESOURCE_ACCESS)',
      );
    }
    credential = parsed;
  } else if (mode === 'MUTUAL' && (!tls.clientCertificate || !tls.privateKey)) {
    return fail(
      'PCL_WAYPOINT_TLS_UNSUPPORTED',
      `DestinationRule ${drRef}: mode MUTUAL needs credentialName, or clientCertificate and privateKey`,
    );
  }
  const sniDefault = endpointHost !== null && ipFamily(endpointHost) === 0 ? endpointHost : target.host;
  return {
    ok: true,
    destinationRule: drRef,
    tls: {
      mode,
      credential,
      sni: tls.sni ?? sniDefault,
      subjectAltNames: tls.subjectAltNames ?? target.serviceEntry.resource.spec.subjectAltNames ?? [],
      insecureSkipVerify: tls.insecureSkipVerify === true,
      caCertificates: tls.caCertificates ?? null,
      clientCertificate: credential ? null : (tls.clientCertificate ?? null),
      privateKey: credential ? null : (tls.privateKey ?? null),
    },
  };
}
