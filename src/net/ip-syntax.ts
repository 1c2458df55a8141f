/**
 * IP and CIDR syntax checks with the strictness of Go's `net/netip` (`ParseAddr`/`ParsePrefix`), which Istio's
 * webhook uses (`security.ValidateIPs`, `agent.ValidateIPSubnet`): no leading zeros in IPv4 octets or
 * prefix lengths, IPv6 zones allowed on addresses but not on prefixes.
 */
import { parseIp } from './ip.ts';

/**
 * 4, 6 or 0, as `node:net` `isIP` answers, from our own parser: Node's IPv6 pattern costs about 15 ms to compile on
 * its first use, which every command that validates a settings file (`::/0` is common there) would pay at start-up.
 * As Go's `netip.ParseAddr`: no brackets, and a zone (`fe80::1%eth0`) must not be empty.
 */
export function ipFamily(text: string): 0 | 4 | 6 {
  if (text.length === 0 || text.charCodeAt(0) === 91 /* [ */) return 0;
  if (!text.includes(':')) return parseIp(text) === null ? 0 : 4;
  if (text.endsWith('%')) return 0;
  return parseIp(text) === null ? 0 : 6;
}

/** True when `text` is an IPv4 or IPv6 address (Go `netip.ParseAddr`). */
export function isIpAddress(text: string): boolean {
  return ipFamily(text) !== 0;
}

/** True when `text` is `address/bits` (Go `netip.ParsePrefix`; host bits may be set, as in Go). */
export function isCidr(text: string): boolean {
  const slash = text.indexOf('/');
  if (slash < 0 || slash !== text.lastIndexOf('/')) return false;
  const address = text.slice(0, slash);
  const bits = text.slice(slash + 1);
  if (address.includes('%')) return false;
  const family = ipFamily(address);
  if (family === 0) return false;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * Istio `security.ValidateIPs` for one value: a value with `/` must be a CIDR, anything else an address.
 * Returns Istio's error text, or undefined when the value is fine.
 */
export function checkIpOrCidr(text: string): string | undefined {
  if (text.includes('/')) return isCidr(text) ? undefined : `bad CIDR range (${text})`;
  return isIpAddress(text) ? undefined : `bad IP address (${text})`;
}

/** Istio `agent.ValidateIPSubnet` (ServiceEntry `addresses`): same split, with the webhook's wording. */
export function checkIpSubnet(text: string): string | undefined {
  if (text.split('/').length === 2) return isCidr(text) ? undefined : `${text} is not a valid CIDR block`;
  return isIpAddress(text) ? undefined : `${text} is not a valid IP`;
}

/** A settings check (`matchCidrs`, `allowedPrivateCidrs`, perimeter ranges): a CIDR or a bare address (one host). */
export function checkCidrOrAddress(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  return isCidr(value) || isIpAddress(value)
    ? undefined
    : 'must be an IP address or CIDR range such as "10.0.0.0/8" or "::/0"';
}
