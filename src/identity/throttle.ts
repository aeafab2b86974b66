/**
 * Failed-login throttling for Basic proxy credentials, per client address and per claimed user name.
 *
 * - After `threshold` failures (forgotten `windowMs` after the last one) a key is blocked for
 *   `baseMs · 2^(failures − threshold)`, capped at `maxMs`. An attempt while blocked is refused without
 *   running scrypt and does not extend the block (so a user cannot be locked out indefinitely by retries
 *   alone); the first attempt after the block is checked again, and a further failure doubles it.
 * - Attempts still being verified count against the threshold, so a burst of concurrent guesses cannot
 *   slip past it: a key admits at most `threshold − failures` (at least one) verifications at a time, and
 *   the rest wait for those to finish and are then checked again.
 * - State is in memory, bounded (LRU), and lost on restart.
 */
import { LRUCache } from 'lru-cache';

export interface ThrottleSettings {
  /** Failures within the window before the back-off starts. */
  threshold: number;
  /** Failures are forgotten this long after the last one. */
  windowMs: number;
  /** The first back-off; each further failure doubles it. */
  baseMs: number;
  /** The longest back-off. */
  maxMs: number;
  /** Attempts that may wait for a key's verifications to finish; beyond that they are refused. */
  maxWaitingPerKey: number;
}

export const DEFAULT_THROTTLE: ThrottleSettings = {
  threshold: 5,
  windowMs: 15 * 60_000,
  baseMs: 1_000,
  maxMs: 15 * 60_000,
  maxWaitingPerKey: 64,
};

interface Track {
  failures: number;
  lastFailureAt: number;
  blockedUntil: number;
  inflight: number;
  waiters: (() => void)[];
}

export type Blocked = { key: string; retryAfterMs: number };

export interface BlockedEvent {
  key: string;
  failures: number;
  until: number;
}

export class LoginThrottle {
  private readonly tracks: LRUCache<string, Track>;

  constructor(
    private readonly settings: ThrottleSettings,
    private readonly now: () => number,
    private readonly onBlocked: (event: BlockedEvent) => void = () => {},
  ) {
    // Bounded: an evicted key starts again from zero (its in-flight releases still reach the old entry).
    this.tracks = new LRUCache<string, Track>({ max: 100_000 });
  }

  /** The first of `keys` that is blocked now, with how long it stays blocked. */
  blocked(keys: readonly string[]): Blocked | null {
    const now = this.now();
    for (const key of keys) {
      const t = this.fresh(key, now);
      if (t && now < t.blockedUntil) return { key, retryAfterMs: t.blockedUntil - now };
    }
    return null;
  }

  /**
   * Reserves one verification on every key, waiting while any of them has as many in flight as it may
   * admit. Resolves to a release function, or to the key that is blocked (now, or after waiting).
   */
  async admit(keys: readonly string[]): Promise<{ release: () => void } | { blocked: Blocked }> {
    for (;;) {
      const blocked = this.blocked(keys);
      if (blocked) return { blocked };
      const now = this.now();
      const tracks = keys.map((key) => this.track(key, now));
      const full = tracks.findIndex((t) => t.inflight >= Math.max(1, this.settings.threshold - t.failures));
      if (full < 0) {
        for (const t of tracks) t.inflight++;
        let released = false;
        return {
          release: () => {
            if (released) return;
            released = true;
            for (const t of tracks) {
              t.inflight--;
              t.waiters.splice(0).forEach((wake) => wake());
            }
          },
        };
      }
      const t = tracks[full]!;
      if (t.waiters.length >= this.settings.maxWaitingPerKey)
        return { blocked: { key: keys[full]!, retryAfterMs: this.settings.baseMs } };
      await new Promise<void>((resolve) => t.waiters.push(resolve));
    }
  }

  /** A failed verification: counts on every key, and starts or doubles the back-off at the threshold. */
  fail(keys: readonly string[]): void {
    const now = this.now();
    for (const key of keys) {
      const t = this.track(key, now);
      t.failures++;
      t.lastFailureAt = now;
      const over = t.failures - this.settings.threshold;
      if (over >= 0) {
        t.blockedUntil = now + Math.min(this.settings.maxMs, this.settings.baseMs * 2 ** Math.min(over, 40));
        this.onBlocked({ key, failures: t.failures, until: t.blockedUntil });
      }
    }
  }

  /** A successful login clears the key's failures (used for the user, never for a shared address). */
  succeed(key: string): void {
    const t = this.tracks.get(key);
    if (!t) return;
    t.failures = 0;
    t.blockedUntil = 0;
    if (t.inflight === 0 && t.waiters.length === 0) this.tracks.delete(key);
  }

  /** Keys blocked now (for status). */
  blockedKeys(): number {
    const now = this.now();
    let n = 0;
    for (const t of this.tracks.values()) if (now < t.blockedUntil) n++;
    return n;
  }

  private fresh(key: string, now: number): Track | undefined {
    const t = this.tracks.peek(key);
    if (t && t.failures > 0 && now >= t.blockedUntil && now - t.lastFailureAt > this.settings.windowMs) {
      t.failures = 0;
      t.blockedUntil = 0;
    }
    return t;
  }

  private track(key: string, now: number): Track {
    let t = this.fresh(key, now);
    if (!t) {
      t = { failures: 0, lastFailureAt: 0, blockedUntil: 0, inflight: 0, waiters: [] };
      this.tracks.set(key, t);
    } else this.tracks.get(key); // touch: recently used
    return t;
  }
}

/** A counting semaphore with a bounded queue: the global cap on concurrent scrypt verifications. */
export class Semaphore {
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    private readonly max: number,
    private readonly maxQueued: number,
  ) {}

  /** A release function, or null when the queue is full (the caller refuses instead of waiting). */
  async acquire(): Promise<(() => void) | null> {
    if (this.active >= this.max) {
      if (this.queue.length >= this.maxQueued) return null;
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    };
  }

  get waiting(): number {
    return this.queue.length;
  }
}
