/**
 * Read a `--config` directory: every `*.yaml`, `*.yml` and `*.json` below it, sorted, skipping dot-entries.
 * Skipping dot-entries is also what makes a Kubernetes ConfigMap mount load correctly: kubelet writes the files
 * into a timestamped `..2024_...` directory, points `..data` at it, and exposes each key as `key -> ..data/key`;
 * following the top-level symlinks reads every file exactly once.
 */
import type { Dirent } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Diagnostic } from './types.ts';
import type { ConfigFile } from './yaml-documents.ts';
import { messageOf } from '../errors/message-of.ts';

/** The settings file name in the root of a --config directory. */
const SETTINGS_FILE_NAME = 'portcullis.yaml';

const MANIFEST = /\.(ya?ml|json)$/i;

export interface ConfigDirContents {
  readonly files: ConfigFile[];
  readonly settings: ConfigFile | null;
  readonly diagnostics: Diagnostic[];
}

function readFailed(
  file: string,
  err: unknown,
  code: 'PCL_CONFIG_READ_FAILED' | 'PCL_SETTINGS_READ_FAILED',
): Diagnostic {
  const message = messageOf(err);
  // Line 0 / column 0: the problem is the file as a whole, not a place in it.
  return { code, severity: 'error', file, line: 0, column: 0, message: `cannot read ${file}: ${message}` };
}

/** List manifest paths relative to `root`, with `/` separators, in a stable order. */
async function listManifestPaths(root: string, diagnostics: Diagnostic[] = []): Promise<string[]> {
  const out: string[] = [];
  const visited = new Set<string>();
  async function walk(dir: string, rel: string): Promise<void> {
    let real: string;
    try {
      real = await realpath(dir);
    } catch (err) {
      diagnostics.push(readFailed(rel || root, err, 'PCL_CONFIG_READ_FAILED'));
      return;
    }
    if (visited.has(real)) return; // a symlink loop
    visited.add(real);
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      diagnostics.push(readFailed(rel || root, err, 'PCL_CONFIG_READ_FAILED'));
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      const relPath = rel === '' ? entry.name : `${rel}/${entry.name}`;
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        try {
          const st = await stat(full);
          isDir = st.isDirectory();
          isFile = st.isFile();
        } catch (err) {
          // A dangling link (e.g. mid-swap of a ConfigMap's ..data): report it only if it names a manifest.
          if (MANIFEST.test(entry.name)) diagnostics.push(readFailed(relPath, err, 'PCL_CONFIG_READ_FAILED'));
          continue;
        }
      }
      if (isDir) await walk(full, relPath);
      else if (isFile && MANIFEST.test(entry.name)) out.push(relPath);
    }
  }
  await walk(root, '');
  return out;
}

/** Whether `--config` names one file (as `kubectl apply -f file.yaml` does) rather than a folder. */
export async function isConfigFile(config: string): Promise<boolean> {
  try {
    return (await stat(config)).isFile();
  } catch {
    return false;
  }
}

/**
 * Read the manifests and the settings file. `dir` is a folder, or one manifest file (then only --settings, never a
 * neighbouring portcullis.yaml, supplies settings). `settingsFile` (the --settings flag) wins over
 * `portcullis.yaml` in the directory root, which is never read as a manifest.
 */
export async function readConfigDir(dir: string, settingsFile?: string): Promise<ConfigDirContents> {
  const diagnostics: Diagnostic[] = [];
  if (await isConfigFile(dir)) return readConfigFile(dir, settingsFile, diagnostics);
  const paths = (await listManifestPaths(dir, diagnostics)).filter((p) => p !== SETTINGS_FILE_NAME);
  const files: ConfigFile[] = [];
  for (const rel of paths) {
    try {
      files.push({ path: rel, text: await readFile(path.join(dir, rel), 'utf8') });
    } catch (err) {
      diagnostics.push(readFailed(rel, err, 'PCL_CONFIG_READ_FAILED'));
    }
  }
  let settings: ConfigFile | null = null;
  if (settingsFile !== undefined) {
    settings = await readSettingsFile(settingsFile, diagnostics);
  } else {
    try {
      settings = { path: SETTINGS_FILE_NAME, text: await readFile(path.join(dir, SETTINGS_FILE_NAME), 'utf8') };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        diagnostics.push(readFailed(SETTINGS_FILE_NAME, err, 'PCL_SETTINGS_READ_FAILED'));
    }
  }
  return { files, settings, diagnostics };
}

/** One manifest file as the whole configuration; it is named by its base name, as a folder's files are by theirs. */
async function readConfigFile(
  file: string,
  settingsFile: string | undefined,
  diagnostics: Diagnostic[],
): Promise<ConfigDirContents> {
  const files: ConfigFile[] = [];
  const name = path.basename(file);
  try {
    files.push({ path: name, text: await readFile(file, 'utf8') });
  } catch (err) {
    diagnostics.push(readFailed(name, err, 'PCL_CONFIG_READ_FAILED'));
  }
  const settings = settingsFile === undefined ? null : await readSettingsFile(settingsFile, diagnostics);
  return { files, settings, diagnostics };
}

/** The --settings file, or null with a diagnostic when it cannot be read. */
async function readSettingsFile(settingsFile: string, diagnostics: Diagnostic[]): Promise<ConfigFile | null> {
  try {
    return { path: settingsFile, text: await readFile(settingsFile, 'utf8') };
  } catch (err) {
    diagnostics.push(readFailed(settingsFile, err, 'PCL_SETTINGS_READ_FAILED'));
    return null;
  }
}
