/**
 * Retention applied by the running proxy (audit.purgeAt): once a night, at that wall-clock time in the
 * school's time zone, the same purge as `schoolgate audit purge` (purge.ts) — open cases keep their rows,
 * the run is recorded in purges / purge_days (by "scheduled") — on a worker thread with its own
 * connection, so its transactions never run on the proxy's event loop.
 *
 * Time comes from a SchedulerClock (tests move a test clock). The scheduler never waits more than an hour
 * at a time and re-reads now() on every wake-up, so a clock change or a sleeping machine delays a run by
 * at most that; a night the proxy was down is not caught up (the next night deletes the same rows).
 */
import { EventEmitter } from 'node:events';
import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { SchedulerClock } from '../alerts/digest/clock.js';
import { nextRunAt } from '../alerts/digest/schedule.js';
import { runWorkerOnce, workerScript } from '../worker-script.js';
import type { PurgeJob, PurgeReply } from './purge-worker.js';
import type { PurgeResult } from './purge.js';

/** The purge record's "by": what a technician reads in the purges table next to a CLI run's name. */
export const SCHEDULED_BY = 'scheduled';
const MAX_WAIT_MS = 3_600_000;

export interface NightlyPurgeDeps {
  /** HH:MM, school time zone. */
  at: string;
  timeZone: string;
  auditPath: string;
  /** Read at each run: a reload may change reports.retentionDays. */
  retentionDays: () => number;
  osUser: string;
  clock: SchedulerClock;
  logger: Logger;
}

interface NightlyEvents {
  purged: [PurgeResult];
  failed: [Error];
}

export class NightlyPurge extends EventEmitter<NightlyEvents> {
  private cancel: (() => void) | null = null;
  private worker: Worker | null = null;
  private stopped = false;
  /** The next run, epoch ms (status, tests). */
  nextAt: number | null = null;
  /** Runs started (tests: a run starts at the wake-up, synchronously). */
  runs = 0;

  constructor(private readonly deps: NightlyPurgeDeps) {
    super();
  }

  start(): void {
    this.arm(this.nextAfter(this.deps.clock.now()));
  }

  /** Cancels the next run; a purge in progress is stopped between batches' transactions (each is atomic). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancel?.();
    await this.worker?.terminate();
  }

  private nextAfter(ms: number): number {
    return nextRunAt(new Date(ms), { kind: 'daily', time: this.deps.at }, this.deps.timeZone).getTime();
  }

  private arm(due: number): void {
    if (this.stopped) return;
    this.nextAt = due;
    const wait = Math.min(MAX_WAIT_MS, due - this.deps.clock.now());
    this.cancel = this.deps.clock.setTimer(wait, () => this.wake(due));
  }

  private wake(due: number): void {
    const now = this.deps.clock.now();
    if (now < due) return this.arm(due);
    void this.runOnce(now).then((outcome) => {
      // The next night is armed before anyone hears of this one.
      this.arm(this.nextAfter(Math.max(now, this.deps.clock.now())));
      if (outcome instanceof Error) this.emit('failed', outcome);
      else if (outcome) this.emit('purged', outcome);
    });
  }

  /** The result, the error, or null when stopped meanwhile. Never rejects. */
  private async runOnce(now: number): Promise<PurgeResult | Error | null> {
    this.runs++;
    const job: PurgeJob = {
      auditPath: this.deps.auditPath,
      retentionDays: this.deps.retentionDays(),
      timeZone: this.deps.timeZone,
      osUser: this.deps.osUser,
      by: SCHEDULED_BY,
      reason: 'nightly retention run (audit.purgeAt)',
      now,
    };
    try {
      const result = await this.inWorker(job);
      this.deps.logger.info(
        { purgeId: result.purgeId, deleted: result.deleted, held: result.held, alerts: result.alertsDeleted },
        `nightly purge: deleted ${result.deleted} audit rows older than ${job.retentionDays} days`,
      );
      return result;
    } catch (err) {
      if (this.stopped) return null;
      const error = err instanceof Error ? err : new Error(String(err));
      this.deps.logger.error(
        { err: error.message },
        'nightly purge failed; rows past retention stay until the next night or `schoolgate audit purge`',
      );
      return error;
    }
  }

  private async inWorker(job: PurgeJob): Promise<PurgeResult> {
    const script = workerScript(import.meta.url, 'purge-worker.js');
    if (!script.built) throw new Error(`the purge worker is not built: ${script.path} is missing`);
    try {
      const reply = await runWorkerOnce<PurgeReply>(script.path, job, (w) => (this.worker = w));
      return reply.result;
    } finally {
      this.worker = null;
    }
  }
}
