/**
 * Fails when the import graph of src/ has a cycle (grpc-js does the same in its test step).
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

const importRe = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]/g;
const files = listTs(srcDir);
const graph = new Map<string, string[]>();
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const deps: string[] = [];
  for (const m of text.matchAll(importRe)) deps.push(resolve(dirname(file), m[1]));
  graph.set(file, deps.filter((d) => graph.has(d) || files.includes(d)));
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

if (cycles.length > 0) {
  for (const c of cycles) console.error('import cycle: ' + c.map((f) => relative(root, f)).join(' -> '));
  process.exit(1);
}
console.log(`import graph: ${files.length} modules, no cycles`);
