/** The data plane's name for the private-address guard (src/upstream/private-address-guard.ts), shared with L7. */
export * from '../upstream/private-address-guard.ts';
