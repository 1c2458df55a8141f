/** Check `--config` (a folder or one file, as `kubectl -f` takes) and `--settings` before loading; warn when empty. */
import { type Dirent, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { PortcullisError } from '../errors/portcullis-error.ts';
import type { Io } from './args.ts';
import { renderDiagnostic } from './render-diagnostic.ts';

const MANIFEST = /\.(ya?ml|json)$/i;

function kindOf(p: string): 'file' | 'dir' | null {
  try {
    const st = statSync(p);
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : null;
  } catch {
    return null;
  }
}

/** Whether a folder holds at least one manifest below it (dot-entries skipped, as the loader does). */
function hasManifest(dir: string): boolean {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true, recursive: true });
  } catch {
    return true; // unreadable: the loader reports it with the file's name
  }
  return entries.some((e) => {
    const rel = path.relative(dir, path.join(e.parentPath, e.name));
    return (
      !rel.split(path.sep).some((part) => part.startsWith('.')) && MANIFEST.test(e.name) && e.name !== 'portcullis.yaml'
    );
  });
}

/** Whether a file has no YAML content at all (empty, blank, comments and `---` only). */
function isBlankYaml(file: string): boolean {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .every((l) => /^\s*(#.*)?$/.test(l) || /^---\s*$/.test(l) || /^\.\.\.\s*$/.test(l));
  } catch {
    return false;
  }
}

/**
 * Throw PCL_CLI_CONFIG_MISSING when `--config` or `--settings` does not exist; write a PCL_CLI_CONFIG_EMPTY warning
 * to stderr when --config holds nothing (Portcullis then denies everything, which is safe but rarely meant).
 */
export function checkConfigPath(config: string, settingsFile: string | undefined, io: Io): void {
  const kind = kindOf(config);
  if (kind === null) {
    throw new PortcullisError('PCL_CLI_CONFIG_MISSING', `--config ${config}: no such file or folder`, {
      where: '--config',
      hint: 'point --config at a folder of manifests or one manifest file, e.g. --config examples/quickstart',
    });
  }
  if (settingsFile !== undefined && kindOf(settingsFile) !== 'file') {
    throw new PortcullisError('PCL_CLI_CONFIG_MISSING', `--settings ${settingsFile}: no such file`, {
      where: '--settings',
      hint: 'point --settings at a portcullis.yaml, e.g. --settings examples/quickstart/portcullis.yaml',
    });
  }
  const empty = kind === 'dir' ? !hasManifest(config) : isBlankYaml(config);
  if (empty) {
    io.stderr.write(
      renderDiagnostic(
        'warning',
        'PCL_CLI_CONFIG_EMPTY',
        `--config ${config} holds no manifests (*.yaml, *.yml, *.json): every connection will be denied`,
        '--config',
        'point --config at the folder or file with your ServiceEntry, Gateway and policy manifests, e.g. --config examples/quickstart',
      ),
    );
  }
}
