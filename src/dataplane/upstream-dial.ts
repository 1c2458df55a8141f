/** The data plane's name for the shared upstream dialling (src/upstream/dial.ts), which L4 and L7 both use. */
export * from '../upstream/dial.ts';
