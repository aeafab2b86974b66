/**
 * The console's imports run as background jobs, one at a time: the POST that starts one answers at once
 * with a redirect to its progress page (the page has no script: it refreshes itself until the job is
 * done). Progress is what the real import reports (lines read, rows written) against the total counted in
 * the upload. Jobs live in memory: a restart forgets them, never their effect (lists and users are written
 * by the import itself, in one step, with their admin-changes rows).
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { SchoolgateError, isSchoolgateError } from '../errors.js';

export interface ImportJob {
  id: string;
  /** What is imported where, e.g. "domain list into gambling". */
  what: string;
  by: string;
  startedAt: number;
  unit: 'lines' | 'rows';
  done: number;
  /** 0 while not yet known (a users CSV is counted once it is read). */
  total: number;
  state: 'running' | 'done' | 'failed';
  summary: string[];
  error?: { code: string; message: string; suggestion?: string | undefined };
}

/** Reports progress; the job's page shows it. Awaited: the import yields to page requests there. */
export type Progress = (done: number, total: number) => Promise<void>;

const KEEP_JOBS = 20;

export class ImportJobs extends EventEmitter {
  private readonly jobs = new Map<string, ImportJob>();
  /** Awaited after each progress report when set: a test holds an import here to read its page mid-way. */
  hold: ((job: Readonly<ImportJob>) => Promise<void>) | null = null;

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {
    super();
  }

  get(id: string): Readonly<ImportJob> | undefined {
    return this.jobs.get(id);
  }

  running(): Readonly<ImportJob> | undefined {
    return [...this.jobs.values()].find((j) => j.state === 'running');
  }

  /** Newest first. */
  recent(): Readonly<ImportJob>[] {
    return [...this.jobs.values()].reverse();
  }

  /** SG_CONSOLE_IMPORT_REFUSED while another import runs (checked again by start). */
  assertFree(): void {
    const busy = this.running();
    if (busy)
      throw new SchoolgateError(
        'SG_CONSOLE_IMPORT_REFUSED',
        `another import is running (${busy.what}, started by ${busy.by}); one at a time`,
        { suggestion: `wait for it to finish (its page: /imports/${busy.id}), then send this one again` },
      );
  }

  /**
   * Starts `run` in the background unless another import is running (SG_CONSOLE_IMPORT_REFUSED). `run`
   * resolves with the summary lines; what it throws is the job's error, its SG code shown on the page.
   */
  start(
    init: Pick<ImportJob, 'what' | 'by' | 'unit' | 'total'>,
    run: (progress: Progress) => Promise<string[]>,
    cleanup: () => Promise<void> = async () => undefined,
  ): Readonly<ImportJob> {
    this.assertFree();
    const job: ImportJob = {
      ...init,
      id: randomUUID(),
      startedAt: this.now(),
      done: 0,
      state: 'running',
      summary: [],
    };
    this.jobs.set(job.id, job);
    for (const old of [...this.jobs.keys()].slice(0, Math.max(0, this.jobs.size - KEEP_JOBS)))
      this.jobs.delete(old);
    const progress: Progress = async (done, total) => {
      job.done = done;
      job.total = total;
      this.emit('progress', job);
      if (this.hold) await this.hold(job);
      // Let page requests in between blocks of a long import.
      else await new Promise<void>((resolve) => setImmediate(resolve));
    };
    void run(progress)
      .then((summary) => {
        job.summary = summary;
        job.state = 'done';
      })
      .catch((err: unknown) => {
        job.state = 'failed';
        job.error = isSchoolgateError(err)
          ? { code: err.code, message: err.message, suggestion: err.suggestion }
          : { code: '', message: 'the import failed unexpectedly; the error is in the log' };
        this.logger.error({ err: String(err), job: job.id, what: job.what }, 'console import failed');
      })
      .finally(() => {
        void cleanup()
          .catch((err: unknown) => this.logger.warn({ err: String(err) }, 'console import: cleanup failed'))
          .finally(() => this.emit('settled', job));
      });
    return job;
  }
}
