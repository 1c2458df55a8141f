/**
 * Node's module compile cache, in a folder only this user can write. Plain JavaScript (with private-compile-cache.d.ts
 * beside it) because bin/portcullis.mjs runs it before any TypeScript is loaded, so that the TypeScript comes from the
 * cache.
 *
 * Node's default folder is `$TMPDIR/node-compile-cache/<version>-<arch>-<flags>-<uid>`: a name anyone on the machine
 * can create first, and what is in it becomes code that runs as the user who runs Portcullis (Node checks that an
 * entry matches its source, which an attacker who knows the source can satisfy). So the cache lives in the user's own
 * cache folder (`$XDG_CACHE_HOME`, else `$HOME/.cache`) under `portcullis/node-compile-cache`, made with mode 0700,
 * and is used only when that folder belongs to this user and no one else can write to it. `NODE_COMPILE_CACHE`, when
 * set, is the user's own choice and Node has already enabled it. Without a usable folder, commands run uncached.
 */
import { mkdirSync, statSync } from 'node:fs';
import { enableCompileCache, getCompileCacheDir } from 'node:module';

/**
 * Enable the cache as described above. Returns where it went, or why it did not (never throws: a command runs the
 * same without a cache, only slower).
 * @param {NodeJS.ProcessEnv} env
 * @returns {{ enabled: boolean, directory?: string, reason?: string }}
 */
export function enablePrivateCompileCache(env = process.env) {
  // Already on in this process (bin/portcullis.mjs enabled it before src/cli/main.ts asks again): nothing to redo.
  const current = getCompileCacheDir();
  if (current !== undefined) return { enabled: true, directory: current };
  if (env.NODE_COMPILE_CACHE) {
    // Node read the variable at start-up: this only reports the folder it chose.
    const r = enableCompileCache();
    return { enabled: r.directory !== undefined, directory: r.directory, reason: 'NODE_COMPILE_CACHE' };
  }
  const base = env.XDG_CACHE_HOME?.startsWith('/')
    ? env.XDG_CACHE_HOME
    : env.HOME?.startsWith('/')
      ? `${env.HOME}/.cache`
      : undefined;
  if (base === undefined) return { enabled: false, reason: 'neither XDG_CACHE_HOME nor HOME is an absolute path' };
  const dir = `${base}/portcullis/node-compile-cache`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = statSync(dir);
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) return { enabled: false, reason: `${dir} belongs to uid ${st.uid}` };
    if ((st.mode & 0o022) !== 0) return { enabled: false, reason: `${dir} is writable by others` };
  } catch (err) {
    return { enabled: false, reason: `${dir}: ${err instanceof Error ? err.message : String(err)}` };
  }
  const r = enableCompileCache(dir);
  return r.directory === undefined
    ? { enabled: false, reason: r.message ?? `status ${r.status}` }
    : { enabled: true, directory: r.directory };
}
