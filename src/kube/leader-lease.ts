/**
 * Leader election with a coordination.k8s.io/v1 Lease, as client-go's leaderelection does (LeaseLock): every
 * replica tries to acquire or renew; a holder that has not renewed for the lease duration, as observed on this
 * replica's own clock (never by comparing clocks across machines), is replaced; a replica that fails to renew within
 * the duration stops acting as leader; a replica shutting down releases the Lease so another takes over at once.
 * Only the leader writes status; every replica serves traffic.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { LEASE_RESOURCE } from './access.ts';
import { resourcePath, statusMessage, type KubeClient } from './kube-client.ts';

export interface LeaderLeaseOptions {
  readonly client: KubeClient;
  readonly namespace: string;
  /** Lease name; default `portcullis-status-writer`. */
  readonly name?: string;
  /** Default 15 s (client-go's and istiod's). */
  readonly durationMs?: number;
  /** This replica's identity; default `<hostname>_<random>`. */
  readonly identity?: string;
  readonly onChange?: (leader: boolean) => void;
  readonly log?: (line: string) => void;
}

interface LeaseObject {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** metav1.MicroTime: RFC 3339 with microseconds. */
function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderLease {
  readonly identity: string;
  readonly #opts: LeaderLeaseOptions;
  readonly #name: string;
  readonly #durationMs: number;
  #leader = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** The last record seen from another holder, and when (local monotonic clock) it was first seen. */
  #observed: { record: string; at: number } | null = null;
  #lastRenew = 0;
  #lastError: string | null = null;

  constructor(opts: LeaderLeaseOptions) {
    this.#opts = opts;
    this.#name = opts.name ?? 'portcullis-status-writer';
    this.#durationMs = opts.durationMs ?? 15_000;
    this.identity = opts.identity ?? `${hostname()}_${randomUUID().slice(0, 8)}`;
  }

  get leader(): boolean {
    return this.#leader;
  }

  get lease(): string {
    return `${this.#opts.namespace}/${this.#name}`;
  }

  start(): void {
    this.#stopped = false;
    void this.#tick();
  }

  /** Stop; a leader releases the Lease (holder emptied) so another replica takes over without waiting. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (!this.#leader) return;
    this.#setLeader(false);
    try {
      const current = await this.#get();
      if (current?.spec?.holderIdentity === this.identity) {
        await this.#opts.client.request('PUT', resourcePath(LEASE_RESOURCE, this.#opts.namespace, this.#name), {
          body: {
            ...current,
            spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime() },
          },
        });
      }
    } catch {
      // Shutting down: the Lease expires on its own.
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    // client-go: retryPeriod 2 s for a 15 s lease; renew a few times per duration.
    this.#timer = setTimeout(() => void this.#tick(), Math.max(100, Math.floor(this.#durationMs / 5)));
    this.#timer.unref();
  }

  #setLeader(leader: boolean): void {
    if (leader === this.#leader) return;
    this.#leader = leader;
    this.#opts.log?.(
      leader
        ? `became the status writer (Lease ${this.lease}, identity ${this.identity})`
        : `no longer the status writer (Lease ${this.lease})`,
    );
    this.#opts.onChange?.(leader);
  }

  async #get(): Promise<LeaseObject | null> {
    const res = await this.#opts.client.request('GET', resourcePath(LEASE_RESOURCE, this.#opts.namespace, this.#name));
    if (res.status === 404) return null;
    if (res.status !== 200) throw new Error(`get Lease ${this.lease}: ${statusMessage(res)}`);
    return res.body as unknown as LeaseObject;
  }

  async #tick(): Promise<void> {
    try {
      await this.#tryAcquireOrRenew();
      this.#lastError = null;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (message !== this.#lastError) this.#opts.log?.(`PCL_KUBE_LEASE_FAILED: ${message}`);
      this.#lastError = message;
    }
    // A leader that could not renew for a whole lease duration must assume another replica took over.
    if (this.#leader && performance.now() - this.#lastRenew > this.#durationMs) this.#setLeader(false);
    this.#schedule();
  }

  async #tryAcquireOrRenew(): Promise<void> {
    if (this.#stopped) return;
    const path = resourcePath(LEASE_RESOURCE, this.#opts.namespace);
    const seconds = Math.max(1, Math.round(this.#durationMs / 1000));
    const now = microTime();
    const current = await this.#get();
    if (this.#stopped) return;
    if (current === null) {
      const res = await this.#opts.client.request('POST', path, {
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.#name, namespace: this.#opts.namespace },
          spec: {
            holderIdentity: this.identity,
            leaseDurationSeconds: seconds,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        },
      });
      if (res.status === 201 || res.status === 200) return this.#renewed();
      if (res.status === 409) return; // another replica created it first
      throw new Error(`create Lease ${this.lease}: ${statusMessage(res)}`);
    }
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const mine = holder === this.identity;
    if (!mine && holder !== '') {
      const record = JSON.stringify(spec);
      if (this.#observed === null || this.#observed.record !== record)
        this.#observed = { record, at: performance.now() };
      const duration = (spec.leaseDurationSeconds ?? seconds) * 1000;
      if (performance.now() - this.#observed.at < duration) {
        this.#setLeader(false);
        return;
      }
    }
    const next: LeaseObject = {
      ...current,
      spec: {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: seconds,
        renewTime: now,
        ...(mine ? {} : { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
      },
    };
    // The resourceVersion makes this a compare-and-swap: two replicas taking over at once, one gets 409.
    const res = await this.#opts.client.request('PUT', resourcePath(LEASE_RESOURCE, this.#opts.namespace, this.#name), {
      body: next,
    });
    if (res.status === 200) return this.#renewed();
    if (res.status === 409) return;
    throw new Error(`update Lease ${this.lease}: ${statusMessage(res)}`);
  }

  #renewed(): void {
    this.#lastRenew = performance.now();
    this.#observed = null;
    this.#setLeader(true);
  }
}
