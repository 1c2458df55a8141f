/** The one entry point to `@peculiar/x509`: installs the Reflect shim first and wires node's WebCrypto in. */
import './reflect-shim.ts';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// @peculiar/x509 signs through WebCrypto; node's implementation is the one we trust, so set it explicitly
// rather than relying on whatever `globalThis.crypto` happens to be.
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
