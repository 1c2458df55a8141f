/**
 * The `yaml` package, for the parser: from the one-file pack `npm ci` made of it (scripts/pack-yaml.mjs) when that
 * pack is there and was made from the installed version in the format read here, else from the package as usual.
 * Same code either way (the pack is yaml's own files, unchanged); the pack spares loading 74 modules, and its code
 * cache (made after the pack parsed a sample) spares compiling the parser's functions at every start: together a
 * sixth of `portcullis check`'s start-up work.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

type Yaml = typeof import('yaml');

/** The pack format this loader reads (scripts/pack-yaml.mjs's PACK_FORMAT; a test checks they agree). */
export const YAML_PACK_FORMAT = 'pack-v2';

const require = createRequire(import.meta.url);

/** Where scripts/pack-yaml.mjs puts the pack of yaml `version` installed in `packageDir` (its code cache: + `.v8-cache`). */
export function yamlPackPath(packageDir: string, version: string): string {
  return join(packageDir, '..', '.cache', 'portcullis', `yaml-${version}.${YAML_PACK_FORMAT}.js`);
}

export interface LoadedYaml {
  readonly yaml: Yaml;
  /** The pack's path, or 'package' when the package itself was loaded. */
  readonly from: string;
  /** Whether V8 took the pack's code cache ('none': no cache file, or the package was loaded). */
  readonly codeCache: 'accepted' | 'rejected' | 'none';
}

/**
 * Load yaml for the package whose `package.json` is `packageJson`: the pack when it is there and names the same
 * version and format, else the package (a missing pack is normal: `npm ci --ignore-scripts`, a production install).
 * V8 refuses a code cache made by another V8, with other flags or for another source, and then compiles the pack
 * itself.
 */
export function loadYaml(packageJson: string, requirePackage: () => Yaml): LoadedYaml {
  const version = (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
  const pack = yamlPackPath(dirname(packageJson), version);
  if (existsSync(pack)) {
    try {
      const cacheFile = `${pack}.v8-cache`;
      const cachedData = existsSync(cacheFile) ? readFileSync(cacheFile) : undefined;
      const script = new Script(readFileSync(pack, 'utf8'), { filename: pack, cachedData });
      const made = script.runInThisContext() as unknown;
      if (typeof made === 'function') {
        const packed = made(createRequire(pack)) as { packOf?: unknown; format?: unknown; yaml?: Yaml } | undefined;
        if (packed?.packOf === `yaml@${version}` && packed.format === YAML_PACK_FORMAT && packed.yaml !== undefined) {
          const codeCache = cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted';
          return { yaml: packed.yaml, from: pack, codeCache };
        }
      }
    } catch {
      // A damaged pack (edited, or not written by the packer) is only a lost start-up aid: the package is the same
      // code, so load it instead of failing the command.
    }
  }
  return { yaml: requirePackage(), from: 'package', codeCache: 'none' };
}

let loaded: LoadedYaml | undefined;

/** The installed yaml package (loaded once). */
export function yamlPackage(): LoadedYaml {
  loaded ??= loadYaml(require.resolve('yaml/package.json'), () => require('yaml') as Yaml);
  return loaded;
}
