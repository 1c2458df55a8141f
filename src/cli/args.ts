/** Strict flag parsing shared by every command: unknown flags and missing values are usage errors (exit 2). */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { PortcullisError } from '../errors/catalogue.ts';

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Io {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
}

/** Parse `argv` with `options`; throws PortcullisError(PCL_CLI_USAGE) with the command's usage on any problem. */
export function parseFlags<O extends Options>(
  command: string,
  usage: string,
  argv: string[],
  options: O,
): ReturnType<typeof parseArgs<{ options: O; args: string[]; strict: true; allowPositionals: false }>>['values'] {
  try {
    const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
    return values;
  } catch (err) {
    const msg = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new PortcullisError('PCL_CLI_USAGE', `portcullis ${command}: ${msg}\n\nUsage: ${usage}`);
  }
}

/** Require a flag; throws a usage error naming it. */
export function required<T>(command: string, usage: string, name: string, value: T | undefined): T {
  if (value === undefined || value === '') {
    throw new PortcullisError('PCL_CLI_USAGE', `portcullis ${command}: --${name} is required\n\nUsage: ${usage}`);
  }
  return value;
}
