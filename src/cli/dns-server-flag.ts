/** The repeatable `--dns-server IP[:PORT]` flag of `serve` and `check`, read one way for both. */
import { parseDnsServer } from '../dataplane/resolver.ts';
import { PortcullisError } from '../errors/portcullis-error.ts';

/** Every `--dns-server` value as given, or PCL_CLI_BAD_VALUE naming the first that is not IP or IP:PORT. */
export function dnsServerFlags(texts: readonly string[] | undefined): string[] {
  return (texts ?? []).map((text) => {
    const server = parseDnsServer(text);
    if (server === null) {
      throw new PortcullisError(
        'PCL_CLI_BAD_VALUE',
        `--dns-server "${text}": expected IP or IP:PORT ([v6]:PORT for IPv6)`,
      );
    }
    return server;
  });
}
