/**
 * The one way every command reports a problem: `error[CODE]: message`, then where it is (the flag as typed, or
 * file:line), then a hint specific to this error (falling back to the catalogue's advice for the code).
 */
import { describe } from '../errors/catalogue.ts';
import { PortcullisError } from '../errors/portcullis-error.ts';
import { renderDiagnostic } from './render-diagnostic.ts';
import { messageOf } from '../errors/message-of.ts';
import { commandTable } from './args.ts';

export interface Rendered {
  readonly text: string;
  /** 2 for anything the user can fix (usage, values, configuration), 1 for the unexpected. */
  readonly exitCode: number;
}

/**
 * Listen failures (`EADDRINUSE`, `EACCES`, `EADDRNOTAVAIL`) carry the address; turn them into a catalogued error
 * that names the address, the flag that chose it (when the caller knows) and what to do.
 */
export function listenFailure(err: unknown, flag?: string): PortcullisError | null {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (!(err instanceof Error) || (e.syscall !== 'listen' && e.syscall !== 'bind')) return null;
  const at =
    e.address === undefined
      ? 'the requested address'
      : `${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port ?? '?'}`;
  const where = flag ? `${flag} ${at}` : at;
  const another = flag
    ? `give ${flag} another address`
    : "choose another address with the command's --listen or --admin flag";
  const reasons: Record<string, [string, string]> = {
    EADDRINUSE: [
      'the address is already in use',
      `another process holds it (\`ss -ltnp 'sport = :${e.port ?? 'PORT'}'\` names it; a quickstart still running is a common one): stop it, or ${another}`,
    ],
    EACCES: [
      'permission denied',
      `ports below 1024 need root or CAP_NET_BIND_SERVICE: run with that privilege, or ${another}`,
    ],
    EADDRNOTAVAIL: [
      'no interface on this machine has that address',
      `listen on an address this machine owns (127.0.0.1, 0.0.0.0, or one \`ip addr\` lists): ${another}`,
    ],
  };
  const reason = reasons[e.code ?? ''];
  if (!reason) return null;
  return new PortcullisError('PCL_CLI_LISTEN_FAILED', `cannot listen on ${at}: ${reason[0]}`, {
    where,
    hint: reason[1],
    cause: err,
  });
}

function stripCommand(message: string): string {
  return message.replace(/^portcullis [a-z]+(?: [a-z]+)?: /, '');
}

/** `error[CODE]: message`, `  --> where`, `  hint: ...` for a catalogued error; the stack only for the unexpected. */
export function renderError(err: unknown, command?: string): Rendered {
  const known = err instanceof PortcullisError ? err : listenFailure(err);
  if (!known) {
    const stack = err instanceof Error && err.stack ? err.stack.split('\n').slice(1).join('\n') : '';
    return {
      text: `error: ${messageOf(err)}\n${stack ? stack + '\n' : ''}  hint: this is a bug in Portcullis; please report it with the command line\n`,
      exitCode: 1,
    };
  }
  const message = stripCommand(known.message);
  const where = known.where ?? /^(--?[a-z][a-z0-9-]*)/.exec(message)?.[1];
  // A value error on a flag: the flag's own example says more than the code's general advice.
  const example =
    where?.startsWith('--') && command ? commandTable(command)?.table[where.slice(2)]?.example : undefined;
  const hint =
    known.hint ?? (example && known.code === 'PCL_CLI_BAD_VALUE' ? `for example ${example}` : describe(known.code).fix);
  return {
    text: renderDiagnostic('error', known.code, message, where, hint),
    exitCode: known.code === 'PCL_CLI_LISTEN_FAILED' ? 1 : 2,
  };
}
