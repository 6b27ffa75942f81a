/**
 * PGlite rejects with Emscripten file-system errors, which are not Errors: keep what they say.
 * Self-contained on purpose: `DESCRIBE_FAILURE_SOURCE` carries it into the programs run with
 * `eval` (PGlite's thread, the child process that creates the cluster).
 */
export function describeFailure(error: unknown): string {
  if (error instanceof Error) return error.message;
  const { name = 'error', errno = '' } = (error ?? {}) as { name?: string; errno?: number | string };
  return `${name} ${errno}`.trim();
}

/**
 * `describeFailure` as JavaScript source (its compiled text), for a program run with `eval`;
 * bound to the name by a `const`, which holds even if a bundler renamed the function.
 */
export const DESCRIBE_FAILURE_SOURCE = `const describeFailure = ${describeFailure.toString()};`;
