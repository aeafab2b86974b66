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
import { DailyTimer } from '../alerts/digest/daily-timer.js';
import { runWorkerOnce, workerScript } from '../worker-script.js';
import type { PurgeJob, PurgeReply } from './purge-worker.js';
import type { PurgeOptions, PurgeResult } from './purge.js';

/** The purge record's "by": what a technician reads in the purges table next to a CLI run's name. */
export const SCHEDULED_BY = 'scheduled';

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
  /**
   * Runs the purge instead of the SQLite worker (PostgreSQL: postgres/nightly.ts); null when another node's
   * purge was running, so this night's is left to it.
   */
  run?: (opts: PurgeOptions) => Promise<PurgeResult | null>;
}

interface NightlyEvents {
  purged: [PurgeResult];
  failed: [Error];
}

export class NightlyPurge extends EventEmitter<NightlyEvents> {
  private readonly timer: DailyTimer;
  private worker: Worker | null = null;
  private stopped = false;
  /** Runs started (tests: a run starts at the wake-up, synchronously). */
  runs = 0;

  constructor(private readonly deps: NightlyPurgeDeps) {
    super();
    this.timer = new DailyTimer({
      ...deps,
      run: async (now) => {
        const outcome = await this.runOnce(now);
        return () => {
          if (outcome instanceof Error) this.emit('failed', outcome);
          else if (outcome) this.emit('purged', outcome);
        };
      },
    });
  }

  /** The next run, epoch ms (status, tests). */
  get nextAt(): number | null {
    return this.timer.nextAt;
  }

  start(): void {
    this.timer.start();
  }

  /** Cancels the next run; a purge in progress is stopped between batches' transactions (each is atomic). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer.stop();
    await this.worker?.terminate();
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
      const { auditPath: _path, ...opts } = job;
      const result = this.deps.run ? await this.deps.run(opts) : await this.inWorker(job);
      if (result === null) {
        this.deps.logger.info('nightly purge: another node is purging the shared record; left to it');
        return null;
      }
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
