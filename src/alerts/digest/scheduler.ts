/**
 * Sends each configured digest at its local time, once, and makes up for one that was not sent.
 *
 * Time comes only from the injected clock. A wait is never longer than maxWaitMs: on every wake-up the
 * scheduler reads now() again, so a laptop that slept through the run, or a clock set forward, is noticed
 * within a minute instead of when a month-long setTimeout would have fired.
 *
 * Nothing is skipped silently. Each kind remembers the end of the last period it sent (from report_access
 * at start, then in memory): a run covers everything since then (capped at MAX_SPAN_MS), so a digest that
 * failed, or was due while the proxy was down, is folded into the next one; and at start, a run whose time
 * has passed without a digest being recorded is sent at once, marked late. A failed send is retried with
 * the e-mail sink's back-off, a bounded number of times, each failure logged.
 *
 * Several nodes (PostgreSQL): every node runs the schedule, and each attempt first claims the digest (`claim`,
 * digest-claims.ts); the node that gets it sends, the others log that another node has it and send nothing.
 * Their memory of what was sent is read again from the shared record before each run, so a digest the
 * claimer never sent is folded into the next one, whichever node sends that.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { backoffDelay, PermanentDeliveryError, type RetryPolicy } from '../sinks/delivery.js';
import type { SchedulerClock } from './clock.js';
import { nextRunAt, periodOf, previousRunAt, type DigestKind, type DigestSchedule } from './schedule.js';

/** A run more than this after its time says it is late. */
export const LATE_AFTER_MS = 10 * 60_000;
/** The longest period one digest covers when earlier ones were not sent. */
export const MAX_SPAN_MS = 31 * 86_400_000;
const DEFAULT_MAX_WAIT_MS = 60_000;
/** How long stop() waits for a send in flight. */
const STOP_GRACE_MS = 5_000;

export interface DigestJob {
  kind: DigestKind;
  /** The scheduled time this digest stands for. */
  dueAt: number;
  /** The period it reports on: from inclusive, to exclusive. */
  fromMs: number;
  toMs: number;
  /** Sent well after dueAt: a catch-up at start, or a wake-up long after the time. */
  late: boolean;
}

/** What the last digest of a kind that went out covered, as recorded in report_access. */
export interface LastDigest {
  sentAt: number;
  toMs: number | null;
}

export interface DigestSchedulerDeps {
  schedules: readonly DigestSchedule[];
  timeZone: string;
  clock: SchedulerClock;
  /** One attempt: build and send. Rejects when not sent (PermanentDeliveryError: do not retry). */
  deliver(job: DigestJob, attempt: number): Promise<void>;
  /** After a send: records it (report_access). A failure is logged; the digest is never sent twice for it. */
  record(job: DigestJob, sentAt: number): Promise<void>;
  /** The last digest of this kind that was sent, or null. */
  lastSent(kind: DigestKind): Promise<LastDigest | null>;
  /** When the proxy first recorded anything (the oldest audit row), or null on a new install. */
  inServiceSince(): Promise<number | null>;
  /** Several nodes: true when this node sends the job (renewed before each attempt); absent: always. */
  claim?(job: DigestJob): Promise<boolean>;
  /** The claim marked sent, or released when this node gave up. */
  settle?(job: DigestJob, sent: boolean): Promise<void>;
  retry: Pick<RetryPolicy, 'maxAttempts' | 'initialBackoffMs' | 'maxBackoffMs'>;
  describe(err: unknown): string;
  logger: Logger;
  maxWaitMs?: number;
  random?: () => number;
}

export interface DigestEventMap {
  sent: [job: DigestJob, attempt: number];
  retry: [job: DigestJob, attempt: number, delayMs: number, error: string];
  'gave-up': [job: DigestJob, reason: string];
  /** Another node claimed it: not sent here. */
  elsewhere: [job: DigestJob];
}

interface Entry {
  schedule: DigestSchedule;
  /** The next scheduled time (epoch ms). */
  due: number;
  /** The end of the last period sent, null when unknown. */
  coveredTo: number | null;
  cancel: (() => void) | null;
}

export class DigestScheduler extends EventEmitter<DigestEventMap> {
  private readonly entries: Entry[];
  private readonly running = new Set<Promise<void>>();
  private readonly sleepers = new Set<() => void>();
  private stopped = false;
  /** Resolves once the start-up catch-up checks are done and every kind has its timer. */
  ready: Promise<void> = Promise.resolve();

  constructor(private readonly deps: DigestSchedulerDeps) {
    super();
    this.entries = deps.schedules.map((schedule) => ({ schedule, due: 0, coveredTo: null, cancel: null }));
  }

  start(): void {
    this.ready = Promise.all(this.entries.map((e) => this.track(this.startEntry(e)))).then(() => undefined);
  }

  /** Cancels the timers, waits (bounded) for a send in flight; an unsent digest is caught up next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const e of this.entries) e.cancel?.();
    for (const wake of this.sleepers) wake();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.running]),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_GRACE_MS).unref())),
    ]);
    clearTimeout(timer);
  }

  /** The next scheduled time of each kind (status, tests). */
  nextRuns(): Record<string, number> {
    return Object.fromEntries(this.entries.map((e) => [e.schedule.kind, e.due]));
  }

  private async startEntry(entry: Entry): Promise<void> {
    const { kind } = entry.schedule;
    const now = this.deps.clock.now();
    entry.due = nextRunAt(new Date(now), entry.schedule, this.deps.timeZone).getTime();
    try {
      const last = await this.deps.lastSent(kind);
      entry.coveredTo = last?.toMs ?? null;
      const missed = previousRunAt(new Date(now), entry.schedule, this.deps.timeZone).getTime();
      const missedTo = periodOf(kind, missed, this.deps.timeZone).toMs;
      const wasMissed = last
        ? (last.toMs ?? last.sentAt) < missedTo
        : ((await this.deps.inServiceSince()) ?? Infinity) < missed;
      if (wasMissed && !this.stopped) {
        this.deps.logger.warn(
          { digest: kind, dueAt: new Date(missed).toISOString(), lastSentAt: last?.sentAt ?? null },
          'digest: the last scheduled digest was not sent (schoolgate was not running); sending it now, marked late',
        );
        await this.run(entry, this.jobFor(entry, missed, now, true));
      }
    } catch (err) {
      this.deps.logger.error(
        { digest: kind, err: this.deps.describe(err) },
        'digest: could not read when the last digest was sent; no catch-up, the schedule goes on',
      );
    }
    this.arm(entry);
  }

  private arm(entry: Entry): void {
    if (this.stopped) return;
    const wait = entry.due - this.deps.clock.now();
    if (wait <= 0) {
      void this.track(this.fire(entry));
      return;
    }
    const maxWait = this.deps.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    entry.cancel = this.deps.clock.setTimer(Math.min(wait, maxWait), () => {
      entry.cancel = null;
      this.arm(entry);
    });
  }

  private async fire(entry: Entry): Promise<void> {
    const now = this.deps.clock.now();
    // After a long sleep several times may have passed: one digest, for the latest, covering them all.
    const dueAt = Math.max(
      entry.due,
      previousRunAt(new Date(now), entry.schedule, this.deps.timeZone).getTime(),
    );
    entry.due = nextRunAt(new Date(Math.max(now, dueAt)), entry.schedule, this.deps.timeZone).getTime();
    if (this.deps.claim) await this.readCovered(entry);
    await this.run(entry, this.jobFor(entry, dueAt, now, now - dueAt > LATE_AFTER_MS));
    this.arm(entry);
  }

  /** Shared record: what any node last sent of this kind (a claimer that never sent is caught up). */
  private async readCovered(entry: Entry): Promise<void> {
    try {
      const last = await this.deps.lastSent(entry.schedule.kind);
      if (last?.toMs != null) entry.coveredTo = last.toMs;
    } catch (err) {
      this.deps.logger.warn(
        { digest: entry.schedule.kind, err: this.deps.describe(err) },
        'digest: could not read what the other nodes sent; going by this node’s memory',
      );
    }
  }

  /** Several nodes: whether this node sends the job now; false (and logged) when it does not. */
  private async claimed(entry: Entry, job: DigestJob, attempt: number): Promise<boolean> {
    if (!this.deps.claim) return true;
    let mine: boolean;
    try {
      mine = await this.deps.claim(job);
    } catch (err) {
      // Not knowing whether another node sends it, none is sent from here: the next digest covers it.
      entry.coveredTo ??= job.fromMs;
      this.giveUp(job, `could not claim it in the shared record: ${this.deps.describe(err)}`);
      return false;
    }
    if (mine) return true;
    entry.coveredTo = Math.max(entry.coveredTo ?? job.toMs, job.toMs);
    this.deps.logger.info(
      { digest: job.kind, dueAt: new Date(job.dueAt).toISOString(), attempt },
      attempt === 1
        ? 'digest: another node has claimed it; not sent from this node'
        : 'digest: another node took over the claim; this node stops sending it',
    );
    this.emit('elsewhere', job);
    return false;
  }

  private async settle(job: DigestJob, sent: boolean): Promise<void> {
    try {
      await this.deps.settle?.(job, sent);
    } catch (err) {
      this.deps.logger.warn(
        { digest: job.kind, err: this.deps.describe(err) },
        sent
          ? 'digest: sent and recorded, but its claim could not be marked sent'
          : 'digest: its claim could not be released; another node takes it over when it is stale',
      );
    }
  }

  private jobFor(entry: Entry, dueAt: number, now: number, late: boolean): DigestJob {
    const kind = entry.schedule.kind;
    const period = periodOf(kind, dueAt, this.deps.timeZone);
    const from =
      entry.coveredTo !== null && entry.coveredTo < period.fromMs
        ? Math.max(entry.coveredTo, period.toMs - MAX_SPAN_MS)
        : period.fromMs;
    return { kind, dueAt, fromMs: from, toMs: period.toMs, late: late || now - dueAt > LATE_AFTER_MS };
  }

  /** Sends with bounded retries; never throws. */
  private async run(entry: Entry, job: DigestJob): Promise<void> {
    const { logger, retry } = this.deps;
    const fields = { digest: job.kind, dueAt: new Date(job.dueAt).toISOString(), late: job.late };
    for (let attempt = 1; ; attempt++) {
      if (this.stopped) return this.giveUp(job, 'schoolgate stopped before it was sent');
      if (!(await this.claimed(entry, job, attempt))) return;
      try {
        await this.deps.deliver(job, attempt);
      } catch (err) {
        const reason = this.deps.describe(err);
        if (err instanceof PermanentDeliveryError || attempt >= retry.maxAttempts) {
          entry.coveredTo ??= job.fromMs; // the next digest reports this period too
          await this.settle(job, false);
          return this.giveUp(job, `${attempt} attempt(s) failed, last: ${reason}`);
        }
        const delayMs = backoffDelay(attempt, { ...retry, queueLimit: 1 }, this.deps.random);
        logger.warn(
          { ...fields, attempt, maxAttempts: retry.maxAttempts, retryInMs: delayMs, err: reason },
          'digest: not sent; will retry',
        );
        this.emit('retry', job, attempt, delayMs, reason);
        await this.sleep(delayMs);
        continue;
      }
      const sentAt = this.deps.clock.now();
      entry.coveredTo = Math.max(entry.coveredTo ?? job.toMs, job.toMs);
      try {
        await this.deps.record(job, sentAt);
      } catch (err) {
        logger.error(
          { ...fields, err: this.deps.describe(err) },
          'digest: sent, but the send could not be recorded in report_access',
        );
      }
      await this.settle(job, true);
      logger.info({ ...fields, attempt, from: job.fromMs, to: job.toMs }, 'digest: sent');
      this.emit('sent', job, attempt);
      return;
    }
  }

  private giveUp(job: DigestJob, reason: string): void {
    this.deps.logger.error(
      { digest: job.kind, dueAt: new Date(job.dueAt).toISOString(), reason },
      'digest: NOT sent; the next digest covers its period',
    );
    this.emit('gave-up', job, reason);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.sleepers.delete(wake);
        cancel();
        resolve();
      };
      const cancel = this.deps.clock.setTimer(ms, wake);
      this.sleepers.add(wake);
    });
  }

  private track(p: Promise<void>): Promise<void> {
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
    return p;
  }
}
