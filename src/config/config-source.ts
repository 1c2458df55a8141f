/**
 * A live configuration: watches a --config directory (recursively, including a Kubernetes ConfigMap mount whose
 * `..data` symlink kubelet swaps atomically), debounces bursts of file events, reloads with the last result as
 * `previous` (so an invalid edit keeps the last good version), and emits `update` with each new LoadResult.
 */
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import path from 'node:path';
import { isConfigFile, readConfigDir } from './config-dir.ts';
import { loadConfigTexts } from './load.ts';
import { OffThreadParser } from './parse-off-thread.ts';
import type { LoadResult } from './load.ts';
import type { ConfigDirContents } from './config-dir.ts';

export interface ConfigSourceOptions {
  /** The --config directory. */
  readonly dir: string;
  /** The --settings file, when not `portcullis.yaml` in `dir`. */
  readonly settingsFile?: string;
  readonly env?: Record<string, string | undefined>;
  /** Quiet time after the last file event before reloading. Default 100 ms. */
  readonly debounceMs?: number;
}

interface ConfigSourceEvents {
  update: [LoadResult];
  error: [Error];
}

/** What every configuration source (this folder watcher, the Kubernetes informers) emits, and how to subscribe. */
export class ConfigEmitter extends EventEmitter<ConfigSourceEvents> {
  /** Subscribe to new configurations; returns the unsubscribe function. */
  onUpdate(listener: (result: LoadResult) => void): () => void {
    this.on('update', listener);
    return () => this.off('update', listener);
  }

  /** Subscribe to failures (the directory vanished, too many watches, a lost API server...). */
  onError(listener: (error: Error) => void): () => void {
    this.on('error', listener);
    return () => this.off('error', listener);
  }
}

/** Fingerprint of everything a load reads, so events that change nothing (a touch, a swap to equal data) are quiet. */
function fingerprint(contents: ConfigDirContents): string {
  const hash = createHash('sha256');
  for (const f of contents.files) hash.update(`${f.path}\0${f.text}\0`);
  hash.update(`settings\0${contents.settings?.path ?? ''}\0${contents.settings?.text ?? ''}\0`);
  for (const d of contents.diagnostics) hash.update(`${d.code}\0${d.file}\0${d.message}\0`);
  return hash.digest('hex');
}

export class ConfigSource extends ConfigEmitter {
  readonly #dir: string;
  readonly #settingsFile: string | undefined;
  readonly #env: Record<string, string | undefined>;
  readonly #debounceMs: number;
  #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;
  #current: LoadResult | undefined;
  #lastFingerprint: string | undefined;
  #reloading: Promise<void> | undefined;
  #again = false;
  #closed = false;
  /** Parses changed files on a worker thread, so a huge or hostile file never stalls the data plane. */
  readonly #parser = new OffThreadParser();

  constructor(opts: ConfigSourceOptions) {
    super();
    this.#dir = opts.dir;
    this.#settingsFile = opts.settingsFile;
    this.#env = opts.env ?? process.env;
    this.#debounceMs = opts.debounceMs ?? 100;
  }

  /** The last loaded configuration, or undefined before start(). */
  get current(): LoadResult | undefined {
    return this.#current;
  }

  /** Load once, emit it, then watch. Resolves with the first result. */
  async start(): Promise<LoadResult> {
    if (this.#closed) throw new Error('ConfigSource is closed');
    // A single manifest file: watch its folder, since editors replace a file rather than write it in place.
    if (await isConfigFile(this.#dir)) this.#watch(path.dirname(this.#dir), false);
    else this.#watch(this.#dir, true);
    if (this.#settingsFile !== undefined && !this.#isInsideDir(this.#settingsFile)) {
      // Watch the settings file's directory: editors and kubelet replace files rather than write them in place.
      this.#watch(path.dirname(this.#settingsFile), false);
    }
    await this.reload();
    return this.#current as LoadResult;
  }

  /** Reload now (also what a debounced file event does). Concurrent calls coalesce into one more reload. */
  async reload(): Promise<void> {
    if (this.#reloading) {
      this.#again = true;
      return this.#reloading;
    }
    this.#reloading = (async () => {
      do {
        this.#again = false;
        await this.#loadOnce();
      } while (this.#again && !this.#closed);
    })().finally(() => {
      this.#reloading = undefined;
    });
    return this.#reloading;
  }

  /** Stop watching; no update is emitted after this returns. */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
    this.#parser.close();
  }

  async #loadOnce(): Promise<void> {
    const contents = await readConfigDir(this.#dir, this.#settingsFile);
    if (this.#closed) return;
    const print = fingerprint(contents);
    if (print === this.#lastFingerprint) return;
    this.#lastFingerprint = print;
    await this.#parser.prepare(contents.files, contents.settings);
    if (this.#closed) return;
    const result = loadConfigTexts(contents.files, {
      settings: contents.settings,
      env: this.#env,
      previous: this.#current,
    });
    result.diagnostics.unshift(...contents.diagnostics);
    this.#current = result;
    this.emit('update', result);
  }

  #isInsideDir(file: string): boolean {
    const rel = path.relative(path.resolve(this.#dir), path.resolve(file));
    return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
  }

  #watch(target: string, recursive: boolean): void {
    try {
      const watcher = watch(target, { recursive, persistent: true }, () => this.#schedule());
      watcher.on('error', (err) => this.#fail(err));
      this.#watchers.push(watcher);
    } catch (err) {
      this.#fail(err);
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.reload().catch((err: unknown) => this.#fail(err));
    }, this.#debounceMs);
  }

  #fail(err: unknown): void {
    if (this.#closed) return;
    const error = err instanceof Error ? err : new Error(String(err));
    // EventEmitter throws on an unhandled 'error'; only emit when someone listens.
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}
