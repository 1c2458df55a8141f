/**
 * The `yaml` package, for the parser: from the one-file pack `npm ci` made of it (scripts/pack-yaml.mjs) when that
 * pack is there and was made from the installed version, else from the package as usual. Same code either way (the
 * pack is yaml's own files, unchanged); the pack only spares loading 74 modules (a fifth of `portcullis check`'s
 * start-up work).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

type Yaml = typeof import('yaml');

/** The pack format this loader reads (scripts/pack-yaml.mjs's PACK_FORMAT; a test checks they agree). */
export const YAML_PACK_FORMAT = 'pack-v1';

const require = createRequire(import.meta.url);

/** Where scripts/pack-yaml.mjs puts the pack of yaml `version` installed in `packageDir`. */
export function yamlPackPath(packageDir: string, version: string): string {
  return join(packageDir, '..', '.cache', 'portcullis', `yaml-${version}.${YAML_PACK_FORMAT}.cjs`);
}

export interface LoadedYaml {
  readonly yaml: Yaml;
  /** The pack's path, or 'package' when the package itself was loaded (and why, for `from`). */
  readonly from: string;
}

/**
 * Load yaml for the package whose `package.json` is `packageJson`: the pack when it is there and names the same
 * version and format, else the package (a missing pack is normal: `npm ci --ignore-scripts`, a production install).
 */
export function loadYaml(packageJson: string, requirePackage: () => Yaml): LoadedYaml {
  const version = (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
  const pack = yamlPackPath(dirname(packageJson), version);
  if (existsSync(pack)) {
    const packed = require(pack) as { packOf?: unknown; format?: unknown; yaml?: Yaml };
    if (packed.packOf === `yaml@${version}` && packed.format === YAML_PACK_FORMAT && packed.yaml !== undefined)
      return { yaml: packed.yaml, from: pack };
  }
  return { yaml: requirePackage(), from: 'package' };
}

let loaded: LoadedYaml | undefined;

/** The installed yaml package (loaded once). */
export function yamlPackage(): LoadedYaml {
  loaded ??= loadYaml(require.resolve('yaml/package.json'), () => require('yaml') as Yaml);
  return loaded;
}
