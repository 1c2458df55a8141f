/** Certificate lifetimes (and other durations) written as Go-style durations: `30m`, `24h`, `7d`, `1h30m`. */
import { PortcullisError } from '../errors/portcullis-error.ts';

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const TTL_RE = /^(?:\d+(?:ms|s|m|h|d))+$/;
const PART_RE = /(\d+)(ms|s|m|h|d)/g;

/** Parse a duration into milliseconds; `null` when the text is not a positive duration. */
export function parseTtl(text: string): number | null {
  const trimmed = text.trim();
  if (!TTL_RE.test(trimmed)) return null;
  let total = 0;
  for (const match of trimmed.matchAll(PART_RE)) total += Number(match[1]) * UNIT_MS[match[2]];
  return total > 0 && Number.isSafeInteger(total) ? total : null;
}

/** Render milliseconds the way `parseTtl` reads them (largest whole unit), for messages. */
export function formatTtl(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * An optional duration flag: `undefined` when not given, else its milliseconds. Anything that is not a duration of at
 * least `minMs` is refused with `--<flag> "<text>": expected <expected>` (PCL_CLI_BAD_VALUE, or the error `fail` makes).
 */
export function durationFlag(
  flag: string,
  text: string | undefined,
  expected: string,
  options: { minMs?: number; fail?: (message: string) => Error } = {},
): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseTtl(text);
  if (ms !== null && ms >= (options.minMs ?? 1)) return ms;
  const message = `--${flag} "${text}": expected ${expected}`;
  throw options.fail?.(message) ?? new PortcullisError('PCL_CLI_BAD_VALUE', message);
}
