/**
 * Counts per label set kept as plain numbers between scrapes and handed to prom-client when it collects: a counter's
 * `inc` hashes and validates its labels on every call (several per tunnel), a tally adds to a Map entry keyed by the
 * label object, which the caller reuses per distinct label set (see `LabelSets`).
 */

export class Tally<L extends object> {
  #counts = new Map<L, number>();

  add(labels: L, n = 1): void {
    this.#counts.set(labels, (this.#counts.get(labels) ?? 0) + n);
  }

  /** Hand every count to `apply` and start again from nothing (called from a metric's `collect`). */
  drain(apply: (labels: L, n: number) => void): void {
    if (this.#counts.size === 0) return;
    const counts = this.#counts;
    this.#counts = new Map();
    for (const [labels, n] of counts) apply(labels, n);
  }
}

/**
 * One frozen label object per distinct key, made once (`make`) and reused, so tallies and prom-client see the same
 * object for the same labels. Bounded: emptied when it reaches `max` keys (the next use of a key makes it again).
 */
export class LabelSets<L extends object> {
  readonly #sets = new Map<string, L>();
  readonly #max: number;

  constructor(max = 4096) {
    this.#max = max;
  }

  get(key: string, make: () => L): L {
    let labels = this.#sets.get(key);
    if (labels === undefined) {
      labels = Object.freeze(make());
      if (this.#sets.size >= this.#max) this.#sets.clear();
      this.#sets.set(key, labels);
    }
    return labels;
  }
}
