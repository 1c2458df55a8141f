/**
 * The parse worker (a `node:worker_threads` entry): parses manifests off the data-plane thread, within the
 * `configLimits` of the settings file it is sent, and posts back plain data one file at a time (parse-off-thread.ts).
 */
import { parentPort } from 'node:worker_threads';
import { parseSettings } from './settings.ts';
import {
  adoptParsedFile,
  DEFAULT_PARSE_LIMITS,
  hydrateParsedFile,
  type ConfigFile,
  type ParseLimits,
  type PortableParsedFile,
} from './yaml-documents.ts';
import { parseYamlPortable } from './yaml-parse.ts';

/** What the thread that owns the data plane asks for. */
export interface ParseRequest {
  readonly settings: ConfigFile | null;
  readonly files: readonly ConfigFile[];
}

/** What the worker answers, in this order: `limits`, then `start`/`parsed` per file, then `done`. */
export type ParseReply =
  | { readonly type: 'limits'; readonly limits: ParseLimits; readonly timeoutSeconds: number }
  | { readonly type: 'start'; readonly index: number }
  | { readonly type: 'parsed'; readonly index: number; readonly file: PortableParsedFile }
  | { readonly type: 'done' };

/** `index` -1 is the settings file; 0.. are `files`. */
function handle(req: ParseRequest, post: (reply: ParseReply) => void): void {
  let limits: ParseLimits = DEFAULT_PARSE_LIMITS;
  let timeoutSeconds: number | undefined;
  if (req.settings !== null) {
    post({ type: 'start', index: -1 });
    const parsed = parseYamlPortable(req.settings, DEFAULT_PARSE_LIMITS);
    post({ type: 'parsed', index: -1, file: parsed });
    // The limits for the manifests come from the settings file, itself parsed within the default limits.
    const file = { ...req.settings };
    adoptParsedFile(file, hydrateParsedFile(parsed));
    const { configLimits } = parseSettings(file, {}).settings;
    limits = configLimits;
    timeoutSeconds = configLimits.parseTimeoutSeconds;
  }
  if (timeoutSeconds !== undefined) post({ type: 'limits', limits, timeoutSeconds });
  req.files.forEach((f, index) => {
    post({ type: 'start', index });
    post({ type: 'parsed', index, file: parseYamlPortable(f, limits) });
  });
  post({ type: 'done' });
}

const port = parentPort;
if (port !== null) port.on('message', (req: ParseRequest) => handle(req, (reply) => port.postMessage(reply)));
