/** The metadata headers ztunnel sends on a CONNECT: `baggage`, `forwarded`, `traceparent` (src/proxy/outbound.rs). */
import { randomBytes } from 'node:crypto';
import { formatAuthority } from '../net/authority.ts';

/** `for="<ip:port>"`, with `;host=<hostname>` when the intended service is known (ztunnel `build_forwarded`). */
export function buildForwarded(address: string, port: number, host?: string): string {
  const forwarded = `for="${formatAuthority(address, port)}"`;
  return host === undefined ? forwarded : `${forwarded};host=${host}`;
}

/** A random W3C traceparent `00-<32 hex>-<16 hex>-00`, one per outbound connection. */
export function newTraceparent(): string {
  let trace = randomBytes(16).toString('hex');
  let parent = randomBytes(8).toString('hex');
  // All-zero IDs are invalid (W3C Trace Context §3.2.2.3); astronomically unlikely, but cheap to rule out.
  if (/^0+$/.test(trace)) trace = `${trace.slice(0, -1)}1`;
  if (/^0+$/.test(parent)) parent = `${parent.slice(0, -1)}1`;
  return `00-${trace}-${parent}-00`;
}

/** `k=v` pairs joined with `,`, only the present keys (ztunnel `baggage_header_val`). */
export function buildBaggage(values: Readonly<Record<string, string | undefined>>): string {
  return Object.entries(values)
    .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '')
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** The `for=` address of a `forwarded` header, or null (used to record the original client address). */
export function parseForwardedFor(value: string): string | null {
  const match = /(?:^|[;,\s])for=(?:"([^"]*)"|([^;,\s]*))/i.exec(value);
  return match ? (match[1] ?? match[2]) : null;
}
