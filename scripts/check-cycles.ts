/**
 * Fails when the import graph of src/ has a cycle (grpc-js does the same in its test step), when an import points
 * up the layer order that ARCHITECTURE.md states, or when product code reaches into test/.
 * It reads every .ts file, follows relative imports (type-only imports included: a cycle of types is
 * still a cycle of concepts) and prints each cycle as a chain of files.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const srcDir = join(root, 'src');

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...listTs(full));
    else if (entry.endsWith('.ts') && !entry.endsWith('.test.ts') && !entry.endsWith('.bench.ts')) out.push(full);
  }
  return out;
}

/**
 * The layer order (ARCHITECTURE.md, "Dependencies point one way"): a folder may import only from folders of a lower
 * rank (or from itself). Folders of the same rank never import each other. A new folder must be given a rank here.
 */
export const LAYER_RANK: Record<string, number> = {
  errors: 0,
  net: 0,
  events: 1,
  config: 1,
  identity: 1,
  policy: 2,
  mesh: 3,
  hbone: 4,
  upstream: 4,
  learn: 4,
  waypoint: 5,
  dataplane: 6,
  telemetry: 7,
  admin: 7,
  kube: 7,
  gateway: 8,
  agent: 8,
  audit: 8,
  devtools: 8,
  install: 8,
  cli: 9,
};

const importRe = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]/g;
const files = listTs(srcDir);
const graph = new Map<string, string[]>();
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const deps: string[] = [];
  for (const m of text.matchAll(importRe)) deps.push(resolve(dirname(file), m[1]));
  graph.set(
    file,
    deps.filter((d) => graph.has(d) || files.includes(d)),
  );
}

const layerErrors: string[] = [];
const folderOf = (file: string): string => relative(srcDir, file).split('/')[0] ?? '';
for (const file of files) {
  const from = folderOf(file);
  if (!(from in LAYER_RANK)) layerErrors.push(`${relative(root, file)}: folder src/${from} has no rank in LAYER_RANK`);
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(importRe)) {
    const target = resolve(dirname(file), m[1]);
    if (!target.startsWith(srcDir + '/')) {
      layerErrors.push(
        `${relative(root, file)} imports ${m[1]}: product code never reaches outside src/ (test support lives in test/)`,
      );
      continue;
    }
    const to = folderOf(target);
    if (to === from) continue;
    if ((LAYER_RANK[to] ?? 99) >= (LAYER_RANK[from] ?? -1)) {
      layerErrors.push(
        `${relative(root, file)} imports ${relative(root, target)}: src/${from} (rank ${LAYER_RANK[from]}) may not import src/${to} (rank ${LAYER_RANK[to]})`,
      );
    }
  }
}

const state = new Map<string, 'visiting' | 'done'>();
const stack: string[] = [];
const cycles: string[][] = [];
function visit(node: string): void {
  state.set(node, 'visiting');
  stack.push(node);
  for (const dep of graph.get(node) ?? []) {
    const s = state.get(dep);
    if (s === 'visiting') cycles.push([...stack.slice(stack.indexOf(dep)), dep]);
    else if (s === undefined) visit(dep);
  }
  stack.pop();
  state.set(node, 'done');
}
for (const f of files) if (!state.has(f)) visit(f);

if (cycles.length > 0 || layerErrors.length > 0) {
  for (const c of cycles) console.error('import cycle: ' + c.map((f) => relative(root, f)).join(' -> '));
  for (const e of layerErrors) console.error('layer order: ' + e);
  process.exit(1);
}
console.log(`import graph: ${files.length} modules, no cycles, every import points down the layer order`);
