/**
 * Load `--config` (a folder or one file) and `--settings` and compile them: the path every read-only command shares.
 * The files are parsed on a worker thread within `configLimits`, as `serve` parses them, while this thread loads the
 * validators and the compiler: the two overlap, and a hostile file is bounded here as it is in the gateway.
 */
import { readConfigDir } from '../config/config-dir.ts';
import { OffThreadParser } from '../config/parse-off-thread.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import type { Io } from './args.ts';
import { checkConfigPath } from './config-path.ts';

export async function loadSnapshot(config: string, settingsFile: string | undefined, io: Io): Promise<Snapshot> {
  checkConfigPath(config, settingsFile, io);
  const contents = await readConfigDir(config, settingsFile);
  const parser = new OffThreadParser();
  try {
    const [{ loadConfigTexts }, { compileSnapshot }] = await Promise.all([
      import('../config/load.ts'),
      import('../mesh/compile.ts'),
      parser.prepare(contents.files, contents.settings),
    ]);
    const result = loadConfigTexts(contents.files, { settings: contents.settings, env: process.env });
    result.diagnostics.unshift(...contents.diagnostics);
    return compileSnapshot(result);
  } finally {
    parser.close();
  }
}
