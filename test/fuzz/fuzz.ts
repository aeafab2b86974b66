/**
 * How the fuzz properties run: a bounded number of runs (never a time budget), so CI costs the same on a
 * quiet machine and a busy one. The seed is fixed unless FUZZ_SEED says otherwise, so CI replays the same
 * inputs; a failure prints its seed and path, and the shrunk input is then kept as a table case in the
 * property's file.
 *
 *   FUZZ_RUNS=200000   runs per property instead of the CI count (see test/fuzz/README.md)
 *   FUZZ_SEED=1234     replay a failure with the seed it printed
 *   FUZZ_SEED=random   a new seed each run, to explore
 */
import fc from 'fast-check';

export function fuzzRuns(ciRuns: number): number {
  const asked = Number(process.env.FUZZ_RUNS);
  return Number.isInteger(asked) && asked > 0 ? asked : ciRuns;
}

/**
 * The seed when none is given. CI must not fail at random on a case nobody changed code for, so a plain
 * run replays the same inputs; `FUZZ_SEED=random` (or a number) explores, in a long local run.
 */
const FIXED_SEED = 20261202;

/** fc.assert parameters: the run count above, and the fixed seed unless another is asked for. */
export function fuzzParams<T>(ciRuns: number): fc.Parameters<T> {
  const asked = process.env.FUZZ_SEED;
  if (asked === 'random') return { numRuns: fuzzRuns(ciRuns) };
  const seed = Number(asked);
  return {
    numRuns: fuzzRuns(ciRuns),
    seed: asked !== undefined && Number.isInteger(seed) ? seed : FIXED_SEED,
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
