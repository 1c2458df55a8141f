/**
 * Declarative flags shared by every command: one table per command (name, type, default, description, example)
 * drives the parser, `--help` and the error hints. Unknown flags, missing values and out-of-set values are usage
 * errors (exit 2) that name the flag and suggest the closest valid spelling.
 */
import { didYouMean, editDistance } from '../config/did-you-mean.ts';
import { PortcullisError } from '../errors/portcullis-error.ts';
import { messageOf } from '../errors/message-of.ts';
import { argvValues, tokenizeArgv } from './argv-tokens.ts';

/** One row of a command's flag table. */
export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  /** Applied by the parser when the flag is absent (so the code never repeats it). */
  readonly default?: string | boolean;
  /** What --help shows as the default when there is no literal one ("the number of cores", "required"). */
  readonly defaultText?: string;
  /** The value's placeholder in --help (`DIR`, `IP:PORT`); derived from `choices` or `VALUE` when absent. */
  readonly value?: string;
  /** The only values accepted; a near miss gets a did-you-mean. */
  readonly choices?: readonly string[];
  /** One sentence: what the flag does. */
  readonly description: string;
  /** One working example of the flag, as typed (`--listen 0.0.0.0:15008`). */
  readonly example: string;
}

export type FlagTable = Readonly<Record<string, FlagSpec>>;

export interface Io {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
}

/** The `-h/--help` row every table carries. */
export const HELP_FLAG = {
  type: 'boolean',
  short: 'h',
  description: 'show this help and exit',
  example: '--help',
} as const;

/** The tables of the commands parsed so far, so `required` and the error renderer can quote a flag's example. */
const TABLES = new Map<string, { usage: string; table: FlagTable }>();

/** The flag table and usage line a command registered when it parsed its arguments. */
export function commandTable(command: string): { usage: string; table: FlagTable } | undefined {
  return TABLES.get(command);
}

type FlagValue<S extends FlagSpec> = S['type'] extends 'string' ? string : boolean;
type ValueOf<S extends FlagSpec> = S['multiple'] extends true ? FlagValue<S>[] : FlagValue<S>;
/** What parsing yields for table O (the shape @types/node gives strict parseArgs): a flag with a default is always set. */
type Values<O extends FlagTable> = { -readonly [K in keyof O]?: ValueOf<O[K]> } & {
  -readonly [K in keyof O as O[K]['default'] extends string | boolean ? K : never]: ValueOf<O[K]>;
} extends infer P
  ? { [K in keyof P]: P[K] }
  : never;

function display(name: string, spec: FlagSpec): string {
  return spec.short ? `-${spec.short}/--${name}` : `--${name}`;
}

function usageError(command: string, message: string, where: string, hint: string): PortcullisError {
  return new PortcullisError('PCL_CLI_USAGE', `portcullis ${command}: ${message}`, { where, hint });
}

/**
 * Parse `argv` against the command's flag table. Throws PortcullisError(PCL_CLI_USAGE) for an unknown flag (with
 * did-you-mean), a missing value, a stray argument, and PCL_CLI_BAD_VALUE for a value outside `choices`.
 */
export function parseFlags<O extends FlagTable>(command: string, usage: string, argv: string[], table: O): Values<O> {
  TABLES.set(command, { usage, table });
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(table)) if (spec.short) byShort.set(spec.short, name);
  const help = `run 'portcullis ${command} --help' for every flag with an example`;
  // Tokens first, so every problem can be reported with the flag as typed; values only once the tokens pass.
  const tokens = tokenizeArgv(argv, table);
  for (const [i, token] of tokens.entries()) {
    if (token.kind === 'positional') {
      throw usageError(
        command,
        `unexpected argument "${token.value}"`,
        `argument ${token.index + 1}`,
        flagsLikelyMeant(token.value, table) ?? help,
      );
    }
    if (token.kind !== 'option') continue;
    const name = token.rawName.startsWith('--') ? token.name : (byShort.get(token.name) ?? token.name);
    // Own rows only: `--constructor` must not find Object.prototype's member and slip past as a known flag.
    const spec = Object.hasOwn(table, name) ? table[name] : undefined;
    if (!spec) {
      const candidates = Object.keys(table).map((n) => `--${n}`);
      const guess = didYouMean(token.rawName.startsWith('--') ? token.rawName : `--${token.name}`, candidates);
      throw usageError(
        command,
        `unknown flag ${token.rawName}`,
        token.rawName,
        guess ? `did you mean ${guess}? (${help})` : help,
      );
    }
    if (spec.type === 'string' && token.value === undefined) {
      throw usageError(command, `${display(name, spec)} needs a value`, token.rawName, `for example ${spec.example}`);
    }
    if (spec.type === 'string' && !token.inlineValue && token.value?.startsWith('-')) {
      throw usageError(
        command,
        `${display(name, spec)} is followed by "${token.value}", which looks like a flag, not a value`,
        token.rawName,
        `if you mean the value, write ${token.rawName}=${token.value}; otherwise give a value, e.g. ${spec.example}`,
      );
    }
    if (spec.type === 'boolean' && token.inlineValue) {
      throw usageError(
        command,
        `${token.rawName} takes no value (got "${token.value}")`,
        token.rawName,
        `write just ${token.rawName}`,
      );
    }
    if (spec.choices && token.value !== undefined && !spec.choices.includes(token.value)) {
      // Values are short words: only a one-letter slip (or a case difference) is a plausible typo.
      const guess = spec.choices.find((c) => editDistance(c.toLowerCase(), token.value!.toLowerCase()) <= 1);
      throw new PortcullisError(
        'PCL_CLI_BAD_VALUE',
        `portcullis ${command}: ${display(name, spec)} must be one of ${spec.choices.join(', ')} (got "${token.value}")`,
        {
          where: token.rawName,
          hint: guess ? `did you mean ${token.rawName} ${guess}?` : `for example ${spec.example}`,
        },
      );
    }
    if (!spec.multiple && tokens.some((t, j) => j < i && t.kind === 'option' && t.name === token.name)) {
      throw usageError(
        command,
        `${token.rawName} is given twice`,
        token.rawName,
        'give it once (only repeatable flags say so in --help)',
      );
    }
  }
  try {
    return argvValues(tokens, table) as Values<O>;
  } catch (err) {
    // Every case strict parsing rejects is caught above; this keeps any other one a usage error rather than a crash.
    throw usageError(command, messageOf(err).split('\n')[0], argv.join(' '), help);
  }
}

/** A stray word is most often a flag typed without its dashes (`status config x`): say so when one is close. */
function flagsLikelyMeant(word: string, table: FlagTable): string | undefined {
  const guess = didYouMean(
    `--${word}`,
    Object.keys(table).map((n) => `--${n}`),
  );
  return guess ? `did you mean ${guess}? Flags start with --` : undefined;
}

/** Require a flag; throws a usage error naming it, with the flag's example as the hint. */
export function required<T>(command: string, _usage: string, name: string, value: T | undefined): T {
  if (value === undefined || value === '') {
    const example = TABLES.get(command)?.table[name]?.example;
    throw new PortcullisError('PCL_CLI_USAGE', `portcullis ${command}: --${name} is required`, {
      where: `--${name}`,
      hint: example ? `add ${example}` : `run 'portcullis ${command} --help'`,
    });
  }
  return value;
}

/** A flag value of the wrong form: names the flag and quotes its example from the table as the hint. */
export function badValue(command: string, flag: string, message: string): PortcullisError {
  const example = TABLES.get(command)?.table[flag]?.example;
  return new PortcullisError('PCL_CLI_BAD_VALUE', `portcullis ${command}: ${message}`, {
    where: `--${flag}`,
    hint: example ? `for example ${example}` : undefined,
  });
}
