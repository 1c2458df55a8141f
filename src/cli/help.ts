/** The one `--help` renderer: a command's summary, its usage line, then every flag with its default and an example. */
import type { FlagSpec, FlagTable } from './args.ts';

function flagTitle(name: string, spec: FlagSpec): string {
  const names = spec.short ? `-${spec.short}, --${name}` : `    --${name}`;
  if (spec.type === 'boolean') return names;
  return `${names} ${spec.value ?? (spec.choices ? spec.choices.join('|') : 'VALUE')}`;
}

/** The default as --help states it: the literal default, else the row's own words, else "none". */
export function defaultOf(spec: FlagSpec): string {
  if (spec.defaultText !== undefined) return spec.defaultText;
  if (spec.default !== undefined) return String(spec.default);
  if (spec.type === 'boolean') return 'off';
  return 'none';
}

/** Render `portcullis <command> --help`. `usage` may span lines; `notes` follow the flags (exit codes, etc.). */
export function renderHelp(command: string, summary: string, usage: string, table: FlagTable, notes = ''): string {
  const lines = [`portcullis ${command}: ${summary}`, '', `Usage: ${usage}`, '', 'Flags:'];
  for (const [name, spec] of Object.entries(table)) {
    lines.push(`  ${flagTitle(name, spec)}${spec.multiple ? '  (repeatable)' : ''}`);
    lines.push(`        ${spec.description}`);
    lines.push(`        default: ${defaultOf(spec)}    example: ${spec.example}`);
  }
  if (notes) lines.push('', notes.trimEnd());
  return lines.join('\n') + '\n';
}
