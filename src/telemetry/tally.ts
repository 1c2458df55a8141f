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
 * One frozen label object per distinct key tuple, made once (`make`) and reused, so tallies and prom-client see the
 * same object for the same labels. Keys are looked up level by level in nested Maps (no key string is built per
 * lookup). Bounded: emptied when it holds `max` label sets (the next use of a key makes it again).
 */
export class LabelSets<L extends object> {
  #root = new Map<string, Map<string, Map<string, Map<string, L>>>>();
  #size = 0;
  readonly #max: number;

  constructor(max = 4096) {
    this.#max = max;
  }

  /** The label set of (k1, k2, k3, k4); pass '' for levels a caller does not use. */
  get(k1: string, k2: string, k3: string, k4: string, make: () => L): L {
    let m1 = this.#root.get(k1);
    if (m1 === undefined) this.#root.set(k1, (m1 = new Map()));
    let m2 = m1.get(k2);
    if (m2 === undefined) m1.set(k2, (m2 = new Map()));
    let m3 = m2.get(k3);
    if (m3 === undefined) m2.set(k3, (m3 = new Map()));
    let labels = m3.get(k4);
    if (labels === undefined) {
      labels = Object.freeze(make());
      if (this.#size >= this.#max) {
        this.#root = new Map();
        this.#size = 0;
        return labels;
      }
      m3.set(k4, labels);
      this.#size++;
    }
    return labels;
  }
}
