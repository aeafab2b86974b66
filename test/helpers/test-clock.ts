/**
 * A clock for the digest scheduler that moves only when a test says so: `advanceTo` walks time forward,
 * firing every timer due on the way in time order (each with now() at its own time), like the real clock
 * would, but at once.
 */
import type { SchedulerClock } from '../../src/alerts/digest/clock.js';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  live: boolean;
}

export class TestClock implements SchedulerClock {
  private nowMs: number;
  private seq = 0;
  private timers: Timer[] = [];

  constructor(start: Date | number) {
    this.nowMs = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.nowMs;
  }

  setTimer(ms: number, fn: () => void): () => void {
    const timer: Timer = { at: this.nowMs + Math.max(0, ms), seq: this.seq++, fn, live: true };
    this.timers.push(timer);
    return () => {
      timer.live = false;
    };
  }

  /** Times of the timers still waiting, soonest first. */
  pending(): number[] {
    return this.live().map((t) => t.at);
  }

  advanceTo(to: Date | number): void {
    const target = typeof to === 'number' ? to : to.getTime();
    if (target < this.nowMs) throw new Error('a test clock does not go backwards');
    for (;;) {
      const next = this.live()[0];
      if (!next || next.at > target) break;
      next.live = false;
      this.nowMs = Math.max(this.nowMs, next.at);
      next.fn();
    }
    this.nowMs = target;
  }

  /**
   * Jumps to `to` as a machine waking from sleep does: no timer fires on the way; those overdue then fire
   * at once, each seeing now() = `to`.
   */
  jumpTo(to: Date | number): void {
    const target = typeof to === 'number' ? to : to.getTime();
    if (target < this.nowMs) throw new Error('a test clock does not go backwards');
    this.nowMs = target;
    this.advanceTo(target);
  }

  advanceBy(ms: number): void {
    this.advanceTo(this.nowMs + ms);
  }

  private live(): Timer[] {
    this.timers = this.timers.filter((t) => t.live);
    return [...this.timers].sort((a, b) => a.at - b.at || a.seq - b.seq);
  }
}
