/** Load `--config DIR` (and `--settings FILE`) and compile it: the one path every read-only command shares. */
import { statSync } from 'node:fs';
import { loadConfigDir } from '../config/load.ts';
import { PortcullisError } from '../errors/catalogue.ts';
import { compileSnapshot } from '../mesh/compile.ts';
import type { Snapshot } from '../mesh/snapshot.ts';

export async function loadSnapshot(dir: string, settingsFile?: string): Promise<Snapshot> {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw new PortcullisError('PCL_CLI_CONFIG_MISSING', `--config ${dir}: no such folder`);
  if (settingsFile !== undefined) {
    try {
      statSync(settingsFile);
    } catch {
      throw new PortcullisError('PCL_CLI_CONFIG_MISSING', `--settings ${settingsFile}: no such file`);
    }
  }
  const load = await loadConfigDir(dir, { settingsFile, env: process.env });
  return compileSnapshot(load);
}
