/** The manifests of an examples/ folder as API objects (what `kubectl apply -f` would create), for the fake API. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { EXAMPLES } from './cli.ts';
import type { KubeObject } from './fake-kube-api.ts';

/** Every document of `examples/<dir>/*.yaml` except portcullis.yaml and kinds the fake does not serve. */
export function exampleObjects(dir: string, kinds?: ReadonlySet<string>): KubeObject[] {
  const out: KubeObject[] = [];
  for (const f of readdirSync(join(EXAMPLES, dir)).sort()) {
    if (!f.endsWith('.yaml') || f === 'portcullis.yaml') continue;
    for (const doc of parseAllDocuments(readFileSync(join(EXAMPLES, dir, f), 'utf8'))) {
      const o = doc.toJS() as KubeObject | null;
      if (o === null || typeof o.kind !== 'string') continue;
      if (kinds && !kinds.has(o.kind)) continue;
      out.push(o);
    }
  }
  return out;
}
