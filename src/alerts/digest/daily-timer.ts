/**
 * Once a day at HH:MM school time, on a SchedulerClock: the nightly purge and the scheduled lists update
 * share it. It never waits longer than an hour at a time (the clock is re-read at every wake-up, so a
 * suspended machine or a clock change is caught), and arms the next day before the run's listeners hear of
 * this one.
 */
import type { SchedulerClock } from './clock.js';
import { nextRunAt } from './schedule.js';

const MAX_WAIT_MS = 3_600_000;

export interface DailyTimerOptions {
  /** HH:MM, school time zone. */
  at: string;
  timeZone: string;
  clock: SchedulerClock;
  /** The day's run; resolves with what to tell listeners once the next day is armed. Never rejects. */
  run: (now: number) => Promise<() => void>;
}

export class DailyTimer {
  private cancel: (() => void) | null = null;
  private stopped = false;
  /** The next run, epoch ms (status, tests). */
  nextAt: number | null = null;

  constructor(private readonly o: DailyTimerOptions) {}

  start(): void {
    this.arm(this.nextAfter(this.o.clock.now()));
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
  }

  private nextAfter(ms: number): number {
    return nextRunAt(new Date(ms), { kind: 'daily', time: this.o.at }, this.o.timeZone).getTime();
  }

  private arm(due: number): void {
    if (this.stopped) return;
    this.nextAt = due;
    const wait = Math.min(MAX_WAIT_MS, due - this.o.clock.now());
    this.cancel = this.o.clock.setTimer(wait, () => this.wake(due));
  }

  private wake(due: number): void {
    const now = this.o.clock.now();
    if (now < due) return this.arm(due);
    void this.o.run(now).then((tell) => {
      this.arm(this.nextAfter(Math.max(now, this.o.clock.now())));
      tell();
    });
  }
}
