/**
 * The one renewing certificate source: asks an issuer (the development CA, or istiod) for a certificate, renews it at
 * half its lifetime, keeps serving the old one until the new one is in hand, retries failures with backoff, and
 * reports when a certificate expires without renewal. istio-agent and ztunnel do the same
 * (ztunnel `src/identity/manager.rs`: refresh at half the lifetime, backoff on error, keep the old certificate).
 */
import { EventEmitter } from 'node:events';
import { PortcullisError } from '../errors/portcullis-error.ts';
import { validateMaterial, type CertificateSource, type TlsMaterial } from './cert-store.ts';

/** What an issuer returns: the material and the leaf's validity window. */
export interface IssuedMaterial extends TlsMaterial {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** A function that produces a fresh certificate (a new key each time). */
export type Issuer = () => Promise<IssuedMaterial>;

export interface RenewingSourceOptions {
  readonly issue: Issuer;
  /** Fraction of the lifetime after which to renew (default 0.5, as istio-agent and ztunnel). */
  readonly renewFraction?: number;
  /** First retry delay after a failed renewal (default 1 s); doubles up to `maxBackoffMs`. */
  readonly minBackoffMs?: number;
  /** Longest wait between retries (default 60 s). */
  readonly maxBackoffMs?: number;
}

/** Whether the source can serve: false once the certificate expired without a renewal. */
export interface SourceHealth {
  readonly ok: boolean;
  readonly why: string;
}

// setTimeout's delay is a signed 32-bit number of milliseconds.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** When to renew a certificate valid from `notBefore` to `notAfter` (epoch ms). */
export function renewalTime(notBefore: Date, notAfter: Date, fraction = 0.5): number {
  return notBefore.getTime() + (notAfter.getTime() - notBefore.getTime()) * fraction;
}

/** The wait before retry number `attempt` (1-based): exponential, capped. */
export function backoffDelay(attempt: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
}

/**
 * Events: `'update'` (TlsMaterial) after each renewal; `'error'` (PortcullisError) after each failed attempt (the old
 * certificate stays); `'expired'` (PortcullisError) when the certificate in use expires without a renewal;
 * `'recovered'` when a certificate is in hand again after that.
 */
export class RenewingCertificateSource extends EventEmitter implements CertificateSource {
  readonly #options: RenewingSourceOptions;
  #material: IssuedMaterial;
  #renewTimer: NodeJS.Timeout | null = null;
  #expiryTimer: NodeJS.Timeout | null = null;
  #failures = 0;
  #lastError: string | null = null;
  #expired = false;
  #closed = false;
  #renewing: Promise<boolean> | null = null;

  private constructor(options: RenewingSourceOptions, first: IssuedMaterial) {
    super();
    this.#options = options;
    this.#material = first;
    this.#armExpiry();
    this.#scheduleRenewal();
  }

  /** Issue the first certificate (throws when that fails: nothing to serve yet) and start renewing. */
  static async start(options: RenewingSourceOptions): Promise<RenewingCertificateSource> {
    const first = await options.issue();
    validateMaterial(first);
    return new RenewingCertificateSource(options, first);
  }

  current(): TlsMaterial {
    return this.#material;
  }

  /** The validity window of the certificate in use. */
  validity(): { readonly notBefore: Date; readonly notAfter: Date } {
    return { notBefore: this.#material.notBefore, notAfter: this.#material.notAfter };
  }

  health(): SourceHealth {
    if (this.#expired) {
      return {
        ok: false,
        why: `certificate expired at ${this.#material.notAfter.toISOString()} without renewal${this.#lastError === null ? '' : ` (last attempt: ${this.#lastError})`}`,
      };
    }
    return { ok: true, why: `certificate valid until ${this.#material.notAfter.toISOString()}` };
  }

  /**
   * Ask for a new certificate now (the identities changed, or a test). Resolves true when a new certificate is in
   * use; on failure emits `'error'`, keeps the old one and schedules a retry with backoff.
   */
  renewNow(): Promise<boolean> {
    this.#renewing ??= this.#renew().finally(() => {
      this.#renewing = null;
    });
    return this.#renewing;
  }

  close(): void {
    this.#closed = true;
    if (this.#renewTimer !== null) clearTimeout(this.#renewTimer);
    if (this.#expiryTimer !== null) clearTimeout(this.#expiryTimer);
    this.#renewTimer = null;
    this.#expiryTimer = null;
  }

  async #renew(): Promise<boolean> {
    if (this.#closed) return false;
    let next: IssuedMaterial;
    try {
      next = await this.#options.issue();
      validateMaterial(next);
    } catch (err) {
      if (this.#closed) return false;
      this.#failures++;
      this.#lastError = err instanceof Error ? err.message : String(err);
      const delay = backoffDelay(
        this.#failures,
        this.#options.minBackoffMs ?? 1000,
        this.#options.maxBackoffMs ?? 60_000,
      );
      this.#setRenewTimer(delay);
      if (this.listenerCount('error') > 0) {
        const wrapped =
          err instanceof PortcullisError
            ? err
            : new PortcullisError('PCL_IDENTITY_CERT_LOAD_FAILED', this.#lastError, { cause: err });
        this.emit('error', wrapped);
      }
      return false;
    }
    if (this.#closed) return false;
    const wasExpired = this.#expired;
    this.#material = next;
    this.#failures = 0;
    this.#lastError = null;
    this.#expired = false;
    this.#armExpiry();
    this.#scheduleRenewal();
    this.emit('update', next);
    if (wasExpired) this.emit('recovered');
    return true;
  }

  #scheduleRenewal(): void {
    const at = renewalTime(this.#material.notBefore, this.#material.notAfter, this.#options.renewFraction ?? 0.5);
    this.#setRenewTimer(Math.max(0, at - Date.now()));
  }

  #setRenewTimer(delay: number): void {
    if (this.#closed) return;
    if (this.#renewTimer !== null) clearTimeout(this.#renewTimer);
    this.#renewTimer = setTimeout(
      () => {
        this.#renewTimer = null;
        void this.renewNow();
      },
      Math.min(delay, MAX_TIMER_MS),
    );
    this.#renewTimer.unref();
  }

  #armExpiry(): void {
    if (this.#expiryTimer !== null) clearTimeout(this.#expiryTimer);
    const check = (): void => {
      const left = this.#material.notAfter.getTime() - Date.now();
      if (left > 0) {
        this.#expiryTimer = setTimeout(check, Math.min(left, MAX_TIMER_MS));
        this.#expiryTimer.unref();
        return;
      }
      this.#expiryTimer = null;
      this.#expired = true;
      this.emit('expired', new PortcullisError('PCL_IDENTITY_CERT_EXPIRED', this.health().why));
    };
    check();
  }
}
