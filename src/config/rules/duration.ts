/**
 * Parses durations the way CEL's `duration()` does (Go `time.ParseDuration` syntax: `300s`, `1.5h`, `1h2m`,
 * `100ms`), so the CRDs' `duration(self) >= duration('1ms')` rules can be checked.
 */

const UNIT_NANOS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const TERM = /([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)/y;

/** Duration in nanoseconds, or undefined when `text` is not a Go duration. */
export function parseDuration(text: string): number | undefined {
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest.startsWith('-')) sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  TERM.lastIndex = 0;
  while (TERM.lastIndex < rest.length) {
    const at = TERM.lastIndex;
    const m = TERM.exec(rest);
    if (m === null || m.index !== at) return undefined;
    const digits = m[1];
    if (digits === '' || digits === '.') return undefined;
    total += Number(digits) * UNIT_NANOS[m[2]];
  }
  return sign * total;
}

/** One millisecond in nanoseconds: the floor of the Istio CRDs' duration rules. */
export const ONE_MILLISECOND = 1e6;
