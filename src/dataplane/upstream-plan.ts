/** The data plane's name for the shared upstream planning (src/upstream/plan.ts), which L4 and L7 both use. */
export * from '../upstream/plan.ts';
