/** Certificate sources: the current cert chain, key and trust bundle, reloaded from files without a restart. */
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { basename, dirname, join } from 'node:path';
import { PortcullisError } from '../errors/portcullis-error.ts';
import { ISSUED_FILES } from './ca.ts';
import { messageOf } from '../errors/message-of.ts';

/** PEM material for one TLS identity. */
export interface TlsMaterial {
  /** Leaf followed by its CA chain. */
  readonly certChainPem: string;
  readonly keyPem: string;
  /** The trust bundle peers are verified against. */
  readonly rootCertPem: string;
}

/** The `cert`/`key`/`ca` part of `tls.createSecureContext` options. */
export interface SecureContextMaterial {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/**
 * Where a TLS endpoint gets its identity. Modelled on grpc-js's `CertificateProvider`: the consumer reads
 * `current()` once and listens for `'update'` (with the new material) to swap its secure context.
 */
export interface CertificateSource {
  current(): TlsMaterial;
  on(event: 'update', listener: (material: TlsMaterial) => void): this;
  off(event: 'update', listener: (material: TlsMaterial) => void): this;
}

/** `cert`/`key`/`ca` options for node's TLS from a material. */
function secureContextMaterial(material: TlsMaterial): SecureContextMaterial {
  return { cert: material.certChainPem, key: material.keyPem, ca: material.rootCertPem };
}

/** Throws when the key does not match the certificate or any PEM is unreadable (node's own check). */
export function validateMaterial(material: TlsMaterial): void {
  createSecureContext(secureContextMaterial(material));
}

/** A fixed identity (tests, or material produced in memory). `update()` swaps it and notifies listeners. */
export class StaticCertificateSource extends EventEmitter implements CertificateSource {
  #material: TlsMaterial;

  constructor(material: TlsMaterial) {
    super();
    validateMaterial(material);
    this.#material = material;
  }

  current(): TlsMaterial {
    return this.#material;
  }

  update(material: TlsMaterial): void {
    validateMaterial(material);
    this.#material = material;
    this.emit('update', material);
  }
}

export interface FileCertificateSourceOptions {
  readonly certChainFile: string;
  readonly keyFile: string;
  readonly rootCertFile: string;
  /** Watch the files' folders and reload on change (default true). */
  readonly watch?: boolean;
  /** Wait this long after the last change before reloading, so a multi-file rotation is read once (default 100 ms). */
  readonly debounceMs?: number;
}

/**
 * Loads cert-chain.pem / key.pem / root-cert.pem and follows them. The folders are watched rather than the files,
 * because rotations replace files by rename (and Kubernetes Secret volumes swap a `..data` symlink), which a
 * per-file watch would miss. A reload that fails (half-written rotation, key not matching the certificate) keeps the
 * previous material and emits `'error'`; the next change retries.
 *
 * Events: `'update'` (TlsMaterial) after a successful reload that changed something; `'error'` (PortcullisError).
 */
export class FileCertificateSource extends EventEmitter implements CertificateSource {
  readonly #options: FileCertificateSourceOptions;
  #material: TlsMaterial | null = null;
  #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | null = null;
  #reloading: Promise<boolean> | null = null;
  #again = false;

  constructor(options: FileCertificateSourceOptions) {
    super();
    this.#options = options;
  }

  /** A source for a folder written by `writeIssued` / `portcullis ca issue`. */
  static fromDir(dir: string, options: { watch?: boolean; debounceMs?: number } = {}): FileCertificateSource {
    return new FileCertificateSource({
      certChainFile: join(dir, ISSUED_FILES.certChain),
      keyFile: join(dir, ISSUED_FILES.key),
      rootCertFile: join(dir, ISSUED_FILES.rootCert),
      ...options,
    });
  }

  /** Load the files (throws PCL_IDENTITY_CERT_LOAD_FAILED when they are unusable) and start watching. */
  async start(): Promise<this> {
    this.#material = await this.#read();
    if (this.#options.watch !== false) this.#watch();
    return this;
  }

  current(): TlsMaterial {
    if (this.#material === null) throw new Error('FileCertificateSource.current() called before start()');
    return this.#material;
  }

  /**
   * Re-read the files now. Resolves true when the material changed (and `'update'` was emitted), false when it was
   * unchanged or unusable (then `'error'` was emitted and the old material stays).
   */
  reload(): Promise<boolean> {
    if (this.#reloading !== null) {
      this.#again = true;
      return this.#reloading;
    }
    this.#reloading = (async () => {
      let changed = false;
      do {
        this.#again = false;
        changed = (await this.#reloadOnce()) || changed;
      } while (this.#again);
      return changed;
    })().finally(() => {
      this.#reloading = null;
    });
    return this.#reloading;
  }

  close(): void {
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  async #reloadOnce(): Promise<boolean> {
    let next: TlsMaterial;
    try {
      next = await this.#read();
    } catch (err) {
      if (this.listenerCount('error') > 0) this.emit('error', err);
      return false;
    }
    const prev = this.#material;
    if (
      prev !== null &&
      prev.certChainPem === next.certChainPem &&
      prev.keyPem === next.keyPem &&
      prev.rootCertPem === next.rootCertPem
    ) {
      return false;
    }
    this.#material = next;
    this.emit('update', next);
    return true;
  }

  async #read(): Promise<TlsMaterial> {
    const { certChainFile, keyFile, rootCertFile } = this.#options;
    let material: TlsMaterial;
    try {
      const [certChainPem, keyPem, rootCertPem] = await Promise.all([
        readFile(certChainFile, 'utf8'),
        readFile(keyFile, 'utf8'),
        readFile(rootCertFile, 'utf8'),
      ]);
      material = { certChainPem, keyPem, rootCertPem };
    } catch (err) {
      throw new PortcullisError('PCL_IDENTITY_CERT_LOAD_FAILED', `cannot read certificate files: ${messageOf(err)}`, {
        cause: err,
      });
    }
    try {
      validateMaterial(material);
    } catch (err) {
      throw new PortcullisError(
        'PCL_IDENTITY_CERT_LOAD_FAILED',
        `${certChainFile} / ${keyFile} / ${rootCertFile} are not a usable TLS identity: ${messageOf(err)}`,
        { cause: err },
      );
    }
    return material;
  }

  #watch(): void {
    const { certChainFile, keyFile, rootCertFile } = this.#options;
    const byDir = new Map<string, Set<string>>();
    for (const file of [certChainFile, keyFile, rootCertFile]) {
      const dir = dirname(file);
      if (!byDir.has(dir)) byDir.set(dir, new Set());
      byDir.get(dir)!.add(basename(file));
    }
    for (const dir of byDir.keys()) {
      const watcher = watch(dir, { persistent: false }, () => this.#schedule());
      // A folder that disappears (volume unmounted) is reported and otherwise ignored; the old material stays.
      watcher.on('error', (err) => {
        if (this.listenerCount('error') > 0) {
          this.emit(
            'error',
            new PortcullisError('PCL_IDENTITY_CERT_LOAD_FAILED', `watching ${dir} failed: ${err.message}`, {
              cause: err,
            }),
          );
        }
      });
      this.#watchers.push(watcher);
    }
  }

  #schedule(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.reload();
    }, this.#options.debounceMs ?? 100);
    this.#timer.unref();
  }
}
