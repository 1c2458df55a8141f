/**
 * The one log format of `serve` and `agent`: pino JSON lines with an ISO-8601 `time` and the level's name
 * (`"level":"warn"`), so one parser reads both. Human-readable lines never go into this stream.
 */
import pino, { type DestinationStream, type Logger } from 'pino';

/** The pino options every Portcullis logger shares. */
export const LOG_FORMAT = {
  base: null,
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label: string) => ({ level: label }) },
} as const;

/** A logger in the shared format writing to `destination` (default: stdout, synchronously, so nothing is lost on exit). */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    { ...LOG_FORMAT, level: options.level ?? 'info' },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
