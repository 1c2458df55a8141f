/**
 * Whether istiod auto-allocates VIPs for a ServiceEntry (`shouldV2AutoAllocateIPFromPieces`, istio/istio
 * pilot/pkg/networking/serviceentry/ip_autoallocation.go): read by the webhook's "addresses are required" warning
 * and by the VIP allocator, so both agree.
 */

/** istiod's `label.NetworkingEnableAutoallocateIp`. */
const AUTOALLOCATE_LABEL = 'networking.istio.io/enable-autoallocate-ip';

/**
 * Not for resolution NONE (the data plane could not honour the address), not when the opt-out label says `false`
 * (compared case-insensitively, Go's `strings.EqualFold`), not when the user gave `spec.addresses`.
 */
export function autoAllocates(
  resolution: string | undefined,
  labels: Readonly<Record<string, unknown>> | undefined,
  addresses: readonly unknown[] | undefined,
): boolean {
  if ((resolution ?? 'NONE') === 'NONE') return false;
  const optOut = labels?.[AUTOALLOCATE_LABEL];
  if (typeof optOut === 'string' && optOut.toLowerCase() === 'false') return false;
  return (addresses ?? []).length === 0;
}
