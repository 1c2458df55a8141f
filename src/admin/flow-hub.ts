/**
 * The flow map's server side: one FlowMap fed by every worker's feed, the merged gateway status, and the browsers
 * watching over server-sent events. Each watcher gets its own filtered, bounded view, at most once per
 * `minIntervalMs` and only when something changed, so a flood of decisions never floods a browser.
 */
import type { ServerResponse } from 'node:http';
import { buildView, FlowMap, type FlowFilter, type FlowMapLimits, type FlowView } from '../learn/flow-map.ts';
import type { ObservedFlow } from '../learn/observed-flow.ts';
import type { FlowSink, GatewayStatusView } from './flow-feed.ts';

export interface FlowHubOptions {
  readonly limits?: Partial<FlowMapLimits>;
  /** Least time between two updates to one browser. */
  readonly minIntervalMs?: number;
  /** Browsers watching at once; more are refused (503). */
  readonly maxWatchers?: number;
  readonly heartbeatMs?: number;
}

export interface FlowSnapshot {
  readonly now: number;
  readonly status: GatewayStatusView | null;
  /** Decisions a feed could not queue (a burst beyond its bound). */
  readonly droppedEvents: number;
  readonly view: FlowView;
}

interface Watcher {
  readonly res: ServerResponse;
  readonly filter: FlowFilter;
}

export class FlowHub {
  readonly map: FlowMap;
  readonly #statuses = new Map<string, GatewayStatusView>();
  readonly #watchers = new Set<Watcher>();
  readonly #maxWatchers: number;
  readonly #timer: NodeJS.Timeout;
  readonly #heartbeat: NodeJS.Timeout;
  #dirty = false;
  #droppedEvents = 0;

  constructor(opts: FlowHubOptions = {}) {
    this.map = new FlowMap(opts.limits);
    this.#maxWatchers = opts.maxWatchers ?? 16;
    this.#timer = setInterval(() => this.#push(), opts.minIntervalMs ?? 500);
    this.#timer.unref();
    this.#heartbeat = setInterval(() => {
      for (const w of this.#watchers) w.res.write(': keep-alive\n\n');
    }, opts.heartbeatMs ?? 15_000);
    this.#heartbeat.unref();
  }

  /** The sink one feed (this process's gateway, or one worker) reports to. */
  sink(feedId: string): FlowSink {
    return {
      flows: (batch, dropped) => this.addFlows(batch, dropped),
      status: (s) => this.setStatus(feedId, s),
    };
  }

  addFlows(batch: readonly ObservedFlow[], dropped = 0): void {
    for (const f of batch) this.map.add(f);
    this.#droppedEvents += dropped;
    if (batch.length > 0 || dropped > 0) this.#dirty = true;
  }

  setStatus(feedId: string, s: GatewayStatusView): void {
    this.#statuses.set(feedId, s);
    this.#dirty = true;
  }

  /** Forget a feed that is gone (a worker that exited). */
  dropFeed(feedId: string): void {
    if (this.#statuses.delete(feedId)) this.#dirty = true;
  }

  /** Every feed's status merged: any learning feed makes the gateway learning, errors and problems are united. */
  status(): GatewayStatusView | null {
    const all = [...this.#statuses.values()];
    if (all.length === 0) return null;
    const newest = all.reduce((a, b) => (b.generation > a.generation ? b : a));
    return {
      gateways: [...new Set(all.flatMap((s) => s.gateways))].sort(),
      generation: newest.generation,
      startedMs: Math.min(...all.map((s) => s.startedMs)),
      learn: all.some((s) => s.learn),
      configErrors: newest.configErrors,
      configErrorCount: newest.configErrorCount,
      warnings: newest.warnings,
      problems: all
        .flatMap((s) => s.problems)
        .sort((a, b) => b.t - a.t)
        .slice(0, 20),
      failClosed: [...new Set(all.flatMap((s) => s.failClosed))].sort(),
    };
  }

  snapshot(filter: FlowFilter = {}): FlowSnapshot {
    return {
      now: Date.now(),
      status: this.status(),
      droppedEvents: this.#droppedEvents,
      view: buildView(this.map, filter),
    };
  }

  /** Start streaming to a browser; false when too many are watching already. */
  watch(res: ServerResponse, filter: FlowFilter): boolean {
    if (this.#watchers.size >= this.#maxWatchers) return false;
    const w: Watcher = { res, filter };
    this.#watchers.add(w);
    res.on('close', () => this.#watchers.delete(w));
    this.#send(w);
    return true;
  }

  hasRoom(): boolean {
    return this.#watchers.size < this.#maxWatchers;
  }

  watchers(): number {
    return this.#watchers.size;
  }

  close(): void {
    clearInterval(this.#timer);
    clearInterval(this.#heartbeat);
    for (const w of this.#watchers) w.res.end();
    this.#watchers.clear();
  }

  #send(w: Watcher): void {
    w.res.write(`event: flows\ndata: ${JSON.stringify(this.snapshot(w.filter))}\n\n`);
  }

  #push(): void {
    if (!this.#dirty) return;
    this.#dirty = false;
    for (const w of this.#watchers) this.#send(w);
  }
}
