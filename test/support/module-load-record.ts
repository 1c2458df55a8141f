/**
 * A `--import` hook for start-up tests: at exit, writes to $PORTCULLIS_MODULE_RECORD (JSON) the built-ins the process
 * loaded (`process.moduleLoadList`) and every `util`/`worker_threads` specifier a module of ours asked for.
 */
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const file = process.env.PORTCULLIS_MODULE_RECORD;
const requested: string[] = [];

// Resolve hooks see every import and require of user-land modules (Node's own built-ins load theirs without hooks),
// so this names the module that asked, which moduleLoadList cannot.
registerHooks({
  resolve(specifier, context, nextResolve) {
    if (/^(node:)?(util|worker_threads)(\/|$)/.test(specifier))
      requested.push(`${specifier} from ${context.parentURL}`);
    return nextResolve(specifier, context);
  },
});

process.on('exit', () => {
  // Undocumented but long-standing (Node's own tests read it); @types/node leaves it out.
  const { moduleLoadList } = process as unknown as { moduleLoadList: string[] };
  if (file) writeFileSync(file, JSON.stringify({ moduleLoadList, requested }));
});
