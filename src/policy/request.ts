/** The small value an authorization decision is made over: who is calling, from where, to what. */

/**
 * One connection (L4) or one request (L7) to authorize, as the data plane sees it.
 * Mirrors ztunnel's `Connection` (src/rbac.rs): peer address, destination, and the verified peer identity.
 *
 * @example
 * const req: AuthzRequest = {
 *   principal: 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage',
 *   sourceIp: '10.0.0.7', destinationIp: '240.240.0.1', destinationPort: 443,
 * };
 */
export interface AuthzRequest {
  /** Full SPIFFE URI from the verified peer certificate; null when the peer has no identity. */
  principal: string | null;
  /** Peer address (IPv4, IPv6, or IPv4-mapped IPv6 as Node reports it). */
  sourceIp: string;
  /** The address the gateway will dial / the authority IP; '' when unknown. */
  destinationIp: string;
  /** The ServiceEntry (service) port. */
  destinationPort: number;
  /** `connection.sni`, where known. */
  sni?: string;
  /** L7 only. Header names are lower-case. */
  http?: {
    method: string;
    host: string;
    path: string;
    headers: Readonly<Record<string, string | undefined>>;
  };
}
