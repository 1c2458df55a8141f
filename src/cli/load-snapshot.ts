/** Load `--config` (a folder or one file) and `--settings` and compile them: the path every read-only command shares. */
import { loadConfigDir } from '../config/load.ts';
import { compileSnapshot } from '../mesh/compile.ts';
import type { Snapshot } from '../mesh/snapshot.ts';
import type { Io } from './args.ts';
import { checkConfigPath } from './config-path.ts';

export async function loadSnapshot(config: string, settingsFile: string | undefined, io: Io): Promise<Snapshot> {
  checkConfigPath(config, settingsFile, io);
  const load = await loadConfigDir(config, { settingsFile, env: process.env });
  return compileSnapshot(load);
}
