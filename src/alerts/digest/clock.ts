/**
 * The scheduler's only view of time, so tests move a test clock instead of waiting on the real one.
 */
export interface SchedulerClock {
  /** Epoch milliseconds. */
  now(): number;
  /** Calls `fn` once, `ms` from now; the returned function cancels it. */
  setTimer(ms: number, fn: () => void): () => void;
}

/**
 * setTimeout, unref'd so a pending digest never keeps the process alive. Long waits are the scheduler's
 * business: it never asks for more than its maxWaitMs and re-reads now() on every wake-up.
 */
export const realClock: SchedulerClock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const timer = setTimeout(fn, Math.max(0, ms));
    timer.unref();
    return () => clearTimeout(timer);
  },
};
