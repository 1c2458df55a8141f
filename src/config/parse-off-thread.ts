/**
 * Parse configuration files on a worker thread, so a hostile or huge file never stalls the thread that moves
 * tunnel bytes and answers SIGTERM. Each file is bounded by `configLimits` (size, documents, keys per mapping) and
 * by a timeout; a file that times out or crashes the worker is refused by name and the others still load.
 */
import { channel } from 'node:diagnostics_channel';
import { getCompileCacheDir } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { ErrorCode } from '../errors/catalogue.ts';
import type { ParseReply, ParseRequest } from './parse-worker.ts';
import { DEFAULT_CONFIG_LIMITS } from './settings.ts';
import { adoptParsedFile, hydrateParsedFile, type ConfigFile, type ParsedFile } from './yaml-documents.ts';

/** `diagnostics_channel` name: `{ phase: 'start' | 'end', files }` around each parse on the worker. */
export const CONFIG_PARSE_CHANNEL = 'portcullis:config:parse';
const parseChannel = channel(CONFIG_PARSE_CHANNEL);

export interface ConfigParseEvent {
  readonly phase: 'start' | 'end';
  /** Paths sent to the worker, as messages show them. */
  readonly files: readonly string[];
}

/** The worker's heap limit: a parse that needs more is stopped and its file refused (PCL_CONFIG_PARSE_FAILED). */
const WORKER_HEAP_MB = 1024;

type RunEnd =
  | { readonly kind: 'done' }
  | { readonly kind: 'closed' }
  | { readonly kind: 'failed'; readonly index: number; readonly code: ErrorCode; readonly message: string };

function refused(path: string, code: ErrorCode, message: string): ParsedFile {
  return { documents: [], errors: [{ file: path, line: 0, column: 0, code, message }] };
}

export class OffThreadParser {
  #worker: Worker | null = null;
  #texts = new Map<string, string>();
  #settingsText: string | null | undefined = undefined;
  #timeoutSeconds: number = DEFAULT_CONFIG_LIMITS.parseTimeoutSeconds;
  #stop: (() => void) | null = null;
  #closed = false;

  /**
   * Parse, on the worker, the files whose text changed since the last call (all of them when the settings
   * changed), and adopt the results so the loader's `parseYamlFile` uses them instead of parsing on this thread.
   */
  async prepare(files: readonly ConfigFile[], settings: ConfigFile | null): Promise<void> {
    const settingsChanged = (settings?.text ?? null) !== this.#settingsText;
    const todo = files.filter((f) => settingsChanged || this.#texts.get(f.path) !== f.text);
    if (todo.length === 0 && !settingsChanged) return;
    const paths = [...(settings ? [settings.path] : []), ...todo.map((f) => f.path)];
    parseChannel.publish({ phase: 'start', files: paths } satisfies ConfigParseEvent);
    try {
      let sendSettings = settings;
      let pending = todo;
      while (!this.#closed) {
        const end = await this.#run(sendSettings, pending);
        if (end.kind !== 'failed') break;
        // Refuse the file the parse stopped on, by name; the rest go to a fresh worker.
        const culprit = end.index === -1 ? settings! : pending[end.index];
        adoptParsedFile(culprit, refused(culprit.path, end.code, end.message));
        if (end.index === -1) sendSettings = null;
        pending = end.index === -1 ? pending : pending.slice(end.index + 1);
        if (pending.length === 0) break;
      }
    } finally {
      parseChannel.publish({ phase: 'end', files: paths } satisfies ConfigParseEvent);
    }
    if (this.#closed) return;
    this.#texts = new Map(files.map((f) => [f.path, f.text]));
    this.#settingsText = settings?.text ?? null;
  }

  /** Stop the worker (a parse in progress is abandoned) and refuse further work. */
  close(): void {
    this.#closed = true;
    this.#stop?.();
    void this.#worker?.terminate();
    this.#worker = null;
  }

  #spawn(): Worker {
    // A worker does not inherit `module.enableCompileCache()`: without the variable it would strip and compile its
    // modules (the `yaml` package's 72 among them) from scratch each time, about twice the work.
    const cache = getCompileCacheDir();
    const worker = new Worker(new URL('./parse-worker.ts', import.meta.url), {
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
      ...(cache === undefined ? {} : { env: { ...process.env, NODE_COMPILE_CACHE: cache } }),
    });
    // An idle worker never keeps the process alive; one with a parse in progress does (#run refs it).
    worker.unref();
    this.#worker = worker;
    return worker;
  }

  #run(settings: ConfigFile | null, files: readonly ConfigFile[]): Promise<RunEnd> {
    if (this.#closed) return Promise.resolve({ kind: 'closed' });
    const worker = this.#worker ?? this.#spawn();
    return new Promise<RunEnd>((resolve) => {
      let current = settings ? -1 : 0;
      let timer: NodeJS.Timeout | undefined;
      const pathOf = (index: number): string => (index === -1 ? settings!.path : files[index].path);
      const finish = (end: RunEnd): void => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        worker.unref();
        this.#stop = null;
        if (end.kind !== 'done') {
          // A stopped or broken worker is not reused.
          if (this.#worker === worker) this.#worker = null;
          void worker.terminate();
        }
        resolve(end);
      };
      const arm = (): void => {
        clearTimeout(timer);
        const seconds = this.#timeoutSeconds;
        timer = setTimeout(() => {
          finish({
            kind: 'failed',
            index: current,
            code: 'PCL_CONFIG_PARSE_TIMEOUT',
            message: `parsing ${pathOf(current)} took longer than the limit configLimits.parseTimeoutSeconds (${seconds} s); the parse was stopped and the file was not loaded`,
          });
        }, seconds * 1000);
        timer.unref();
      };
      const onMessage = (reply: ParseReply): void => {
        if (reply.type === 'limits') this.#timeoutSeconds = reply.timeoutSeconds;
        else if (reply.type === 'start') {
          current = reply.index;
          arm();
        } else if (reply.type === 'parsed') {
          const file = reply.index === -1 ? settings! : files[reply.index];
          adoptParsedFile(file, hydrateParsedFile(reply.file));
        } else finish({ kind: 'done' });
      };
      const onError = (err: Error): void => {
        const oom = (err as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
        const why = oom ? `the parser ran out of its ${WORKER_HEAP_MB} MB heap` : `the parser failed: ${err.message}`;
        finish({
          kind: 'failed',
          index: current,
          code: 'PCL_CONFIG_PARSE_FAILED',
          message: `${pathOf(current)} could not be parsed: ${why}; the file was not loaded`,
        });
      };
      const onExit = (code: number): void => {
        if (this.#closed) finish({ kind: 'closed' });
        else onError(new Error(`the parse worker exited with code ${code}`));
      };
      this.#stop = () => finish({ kind: 'closed' });
      worker.ref();
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      // The clock runs per file from its `start` (worker start-up is not the file's fault).
      worker.postMessage({ settings, files } satisfies ParseRequest);
    });
  }
}
