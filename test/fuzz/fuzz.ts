/**
 * How the fuzz properties run: a bounded number of runs (never a time budget), so CI costs the same on a
 * quiet machine and a busy one. A new random seed each run lets CI explore; a failure prints its seed and
 * path, and the shrunk input is then kept as a table case in the property's file.
 *
 *   FUZZ_RUNS=200000   runs per property instead of the CI count (see test/fuzz/README.md)
 *   FUZZ_SEED=1234     replay a failure with the seed it printed
 */
import fc from 'fast-check';

export function fuzzRuns(ciRuns: number): number {
  const asked = Number(process.env.FUZZ_RUNS);
  return Number.isInteger(asked) && asked > 0 ? asked : ciRuns;
}

/** fc.assert parameters: the run count above, the seed when one is given. */
export function fuzzParams<T>(ciRuns: number): fc.Parameters<T> {
  const seed = Number(process.env.FUZZ_SEED);
  return {
    numRuns: fuzzRuns(ciRuns),
    ...(process.env.FUZZ_SEED !== undefined && Number.isInteger(seed) ? { seed } : {}),
  };
}

/** A long local run (FUZZ_RUNS) may take minutes: no per-test timeout then; CI keeps the configured one. */
export const FUZZ_TIMEOUT = process.env.FUZZ_RUNS ? 0 : undefined;

/** Calls fn; returns what it returned, or the error it threw. For "only our typed errors" properties. */
export function outcome<T>(fn: () => T): { ok: true; value: T } | { ok: false; error: unknown } {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error };
  }
}
