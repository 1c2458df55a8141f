/** IP address and CIDR syntax checks for settings (`matchCidrs`, `allowedPrivateCidrs`, perimeter ranges). */
import { isIP } from 'node:net';

/** True for `10.0.0.0/8`, `::/0`, and (as ztunnel's `matchCidrs` accepts) a bare address meaning a single host. */
export function isCidr(text: string): boolean {
  const slash = text.indexOf('/');
  if (slash < 0) return isIP(text) !== 0;
  const family = isIP(text.slice(0, slash));
  const bits = text.slice(slash + 1);
  if (family === 0 || !/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/** A check for the schema DSL: a message when `value` is not a CIDR. */
export function checkCidr(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  return isCidr(value) ? undefined : 'must be an IP address or CIDR range such as "10.0.0.0/8" or "::/0"';
}
