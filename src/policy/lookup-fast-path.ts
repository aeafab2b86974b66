/**
 * The switch for decide()'s lookup fast paths (the URL regex prefilter, regex-literals.ts). Always on when
 * serving; benchmarks turn it off to measure the slow path in the same run, and tests to check that both
 * paths give the same decision on every URL. A fast path may only skip work whose answer it knows.
 */
export const lookupFastPath = { enabled: true };
