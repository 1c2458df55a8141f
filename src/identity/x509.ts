/** The one entry point to `@peculiar/x509`: loads the Reflect metadata polyfill it needs, then wires node's WebCrypto in. */
// @peculiar/x509 v2 registers its algorithm providers through tsyringe, which refuses to load without
// `Reflect.getMetadata`: `reflect-metadata` is the polyfill tsyringe documents, so it is a dependency for that reason.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// @peculiar/x509 signs through WebCrypto; node's implementation is the one we trust, so set it explicitly
// rather than relying on whatever `globalThis.crypto` happens to be.
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
