/**
 * The command line split into option, positional and `--` tokens, then into values, exactly as Node's
 * `util.parseArgs` does in strict mode (lib/internal/util/parse_args/parse_args.js and utils.js): same tokens, same
 * accept/reject, same error codes and messages. Our own copy of the algorithm because importing `node:util` from an
 * ES module builds its whole facade, which loads worker_threads, util's diff and colours (~18 M instructions at
 * start-up) for one function; argv-tokens.test.ts runs both over generated argv and asserts they agree.
 */

/** One option as the parser sees it (the subset of a FlagSpec that changes parsing). */
export interface ArgvOption {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  readonly default?: string | boolean | readonly string[] | readonly boolean[];
}

export type ArgvOptions = Readonly<Record<string, ArgvOption>>;

/** An option as typed: `rawName` is `--name` or `-x`; `value` is set for string options (inline or the next word). */
export type ArgvOptionToken =
  | { kind: 'option'; index: number; name: string; rawName: string; value: string; inlineValue: boolean }
  | { kind: 'option'; index: number; name: string; rawName: string; value: undefined; inlineValue: undefined };

export type ArgvToken =
  | ArgvOptionToken
  | { kind: 'positional'; index: number; value: string }
  | { kind: 'option-terminator'; index: number };

export type ArgvValues = Record<string, string | boolean | (string | boolean)[] | readonly (string | boolean)[]>;

/** A strict-mode rejection; `code` and `message` are the ones `util.parseArgs` gives for the same argv. */
export class ArgvError extends TypeError {
  readonly code:
    | 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
    | 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
    | 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL';
  constructor(code: ArgvError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

/** Only own properties count, so `--constructor` or `--toString` never finds Object.prototype's members. */
function optionOf(options: ArgvOptions, name: string): ArgvOption | undefined {
  return Object.hasOwn(options, name) ? options[name] : undefined;
}

/** The long name whose `short` is `letter`, else the letter itself (so `-x` names option `x`, known or not). */
function longNameOf(letter: string, options: ArgvOptions): string {
  for (const [name, option] of Object.entries(options)) if (option.short === letter) return name;
  return letter;
}

function takesValue(name: string, options: ArgvOptions): boolean {
  return optionOf(options, name)?.type === 'string';
}

/**
 * Split `argv` into tokens. Word shapes, checked in this order (as parseArgs checks them): `--` ends options (every
 * later word is positional); `-x` is a short option; `-abc` whose first letter is not a string option is a group,
 * re-read as `-a -b -c` (a string option inside it takes the rest of the word: `-abfFILE` is `-a -b -fFILE`);
 * `-fVALUE` is a string option with its value; `--name` and `--name=value` (an `=` only right after the dashes does
 * not count, so `--=x` is an option named `=x`); anything else, `-` included, is positional. A string option written
 * without `=` takes the next word whatever it is, even `--` or `-x`: strict checking rejects that later.
 */
export function tokenizeArgv(argv: readonly string[], options: ArgvOptions): ArgvToken[] {
  const tokens: ArgvToken[] = [];
  const queue = [...argv];
  let index = -1;
  // Words a short group expanded into still carry the group's index.
  let expandedLeft = 0;
  while (queue.length > 0) {
    const word = queue.shift() as string;
    if (expandedLeft > 0) expandedLeft--;
    else index++;
    if (word === '--') {
      tokens.push({ kind: 'option-terminator', index });
      for (const rest of queue) tokens.push({ kind: 'positional', index: ++index, value: rest });
      break;
    }
    const short = word.length >= 2 && word[0] === '-' && word[1] !== '-';
    if (short && word.length === 2) {
      const name = longNameOf(word[1], options);
      if (takesValue(name, options) && queue.length > 0) {
        tokens.push({ kind: 'option', index, name, rawName: word, value: queue.shift() as string, inlineValue: false });
        index++;
      } else {
        tokens.push({ kind: 'option', index, name, rawName: word, value: undefined, inlineValue: undefined });
      }
      continue;
    }
    if (short) {
      const name = longNameOf(word[1], options);
      if (!takesValue(name, options)) {
        const words = expandGroup(word, options);
        queue.unshift(...words);
        expandedLeft = words.length;
        continue;
      }
      tokens.push({ kind: 'option', index, name, rawName: `-${word[1]}`, value: word.slice(2), inlineValue: true });
      continue;
    }
    if (word.length > 2 && word.startsWith('--')) {
      if (!word.includes('=', 3)) {
        const name = word.slice(2);
        if (takesValue(name, options) && queue.length > 0) {
          tokens.push({
            kind: 'option',
            index,
            name,
            rawName: word,
            value: queue.shift() as string,
            inlineValue: false,
          });
          index++;
        } else {
          tokens.push({ kind: 'option', index, name, rawName: word, value: undefined, inlineValue: undefined });
        }
      } else {
        // Like parseArgs: an '=' past index 2 makes it `--name=value`, but the split is at the first '=', so
        // `--=a=b` is the option named '' (raw `--`) with value `a=b`.
        const eq = word.indexOf('=');
        const name = word.slice(2, eq);
        tokens.push({
          kind: 'option',
          index,
          name,
          rawName: `--${name}`,
          value: word.slice(eq + 1),
          inlineValue: true,
        });
      }
      continue;
    }
    tokens.push({ kind: 'positional', index, value: word });
  }
  return tokens;
}

/** `-abc` as the words `-a -b -c`; a string option stops the expansion and keeps the rest of the word as its value. */
function expandGroup(word: string, options: ArgvOptions): string[] {
  const words: string[] = [];
  for (let i = 1; i < word.length; i++) {
    // Last in the group, `-${word.slice(i)}` is just `-${word[i]}`, which then takes the next word as its value.
    if (takesValue(longNameOf(word[i], options), options)) {
      words.push(`-${word.slice(i)}`);
      break;
    }
    words.push(`-${word[i]}`);
  }
  return words;
}

/**
 * The values strict parseArgs returns for these tokens, or its error: an unknown option, a string option with no
 * value, a boolean given one, a separate value that looks like a flag (`--config -x`: write `--config=-x`), or a
 * positional when `allowPositionals` is false. The first problem in argv order wins. Repeats of a `multiple`
 * option collect in order; otherwise the last one wins. Defaults fill what argv left out. The object has no
 * prototype, like parseArgs's.
 */
export function argvValues(tokens: readonly ArgvToken[], options: ArgvOptions, allowPositionals = false): ArgvValues {
  const values: ArgvValues = Object.create(null);
  for (const token of tokens) {
    if (token.kind === 'positional') {
      if (!allowPositionals) {
        throw new ArgvError(
          'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL',
          `Unexpected argument '${token.value}'. This command does not take positional arguments`,
        );
      }
      continue;
    }
    if (token.kind !== 'option') continue;
    checkOption(token, options, allowPositionals);
    // parseArgs never stores under __proto__, even for an option of that name.
    if (token.name === '__proto__') continue;
    const value = token.value ?? true;
    if (optionOf(options, token.name)?.multiple) {
      const list = values[token.name];
      if (Array.isArray(list)) list.push(value);
      else values[token.name] = [value];
    } else {
      values[token.name] = value;
    }
  }
  for (const [name, option] of Object.entries(options)) {
    if (option.default !== undefined && values[name] === undefined && name !== '__proto__') {
      values[name] = option.default;
    }
  }
  return values;
}

function checkOption(token: ArgvOptionToken, options: ArgvOptions, allowPositionals: boolean): void {
  const option = optionOf(options, token.name);
  if (!option) {
    const dashDash = allowPositionals
      ? `. To specify a positional argument starting with a '-', place it at the end of the command after '--', ` +
        `as in '-- ${JSON.stringify(token.rawName)}`
      : '';
    throw new ArgvError('ERR_PARSE_ARGS_UNKNOWN_OPTION', `Unknown option '${token.rawName}'${dashDash}`);
  }
  const shown = `${option.short ? `-${option.short}, ` : ''}--${token.name}`;
  if (option.type === 'string' && token.value === undefined) {
    throw new ArgvError('ERR_PARSE_ARGS_INVALID_OPTION_VALUE', `Option '${shown} <value>' argument missing`);
  }
  if (option.type === 'boolean' && token.value !== undefined) {
    throw new ArgvError('ERR_PARSE_ARGS_INVALID_OPTION_VALUE', `Option '${shown}' does not take an argument`);
  }
  if (!token.inlineValue && token.value !== undefined && token.value.length > 1 && token.value[0] === '-') {
    const example = token.rawName.startsWith('--')
      ? `'${token.rawName}=-XYZ'`
      : `'--${token.name}=-XYZ' or '${token.rawName}-XYZ'`;
    throw new ArgvError(
      'ERR_PARSE_ARGS_INVALID_OPTION_VALUE',
      `Option '${token.rawName}' argument is ambiguous.\n` +
        `Did you forget to specify the option argument for '${token.rawName}'?\n` +
        `To specify an option argument starting with a dash use ${example}.`,
    );
  }
}
