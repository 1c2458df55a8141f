/** Types of private-compile-cache.js (plain JavaScript: bin/portcullis.mjs runs it before any TypeScript loads). */
export declare function enablePrivateCompileCache(env?: NodeJS.ProcessEnv): {
  enabled: boolean;
  directory?: string;
  reason?: string;
};
