/** Read a JSON-lines access log as it is being written. */
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export function readLogLines(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Wait (bounded) until a line matches; the log is written asynchronously, so tests poll rather than sleep. */
export async function waitForLogLine(
  file: string,
  pred: (line: Record<string, unknown>) => boolean,
  what: string,
): Promise<Record<string, unknown>> {
  for (let i = 0; i < 400; i++) {
    const hit = readLogLines(file).find(pred);
    if (hit) return hit;
    await sleep(25);
  }
  throw new Error(
    `no log line for ${what}; log:\n${readLogLines(file)
      .map((l) => JSON.stringify(l))
      .join('\n')}`,
  );
}
