/** The banner `check` and `audit` print when the configuration has errors: the count, and what fails closed. */
import type { InvalidResourceModel } from '../mesh/snapshot.ts';

/** The banner lines (none when the configuration has no error and no invalid resource decided). */
export function configBanner(errors: number, deciding: readonly InvalidResourceModel[]): string[] {
  if (errors === 0 && deciding.length === 0) return [];
  const lines = [
    `! configuration has ${errors} error(s): each invalid resource fails closed until fixed (portcullis status lists them)`,
  ];
  for (const inv of deciding) {
    lines.push(`!   decided by invalid ${inv.kind} ${inv.ref} (${inv.file}:${inv.line}) [${inv.code}] ${inv.message}`);
    lines.push(`!     fails closed: ${inv.effect}`);
  }
  return lines;
}
