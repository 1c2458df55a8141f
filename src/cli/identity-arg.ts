/** Turn a `--from` argument (a SPIFFE URI or the `ns/sa` shorthand) into a SPIFFE identity, or a clear error. */
import { PortcullisError } from '../errors/portcullis-error.ts';
import { parseIdentityArg, type SpiffeId } from '../identity/spiffe-id.ts';

export function identityFromArg(arg: string, trustDomain: string): SpiffeId {
  const parsed = parseIdentityArg(arg, trustDomain);
  if (!parsed.ok) throw new PortcullisError('PCL_CLI_BAD_VALUE', `--from "${arg}": ${parsed.reason}`);
  return parsed.id;
}
