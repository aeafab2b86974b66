/**
 * The scheduled digests, put together for the running proxy: the schedule from `alerts.digest`, the mail
 * through the e-mail sink's SMTP transport to its recipients, the reading from the audit record, SQLite or
 * PostgreSQL (on a worker thread of its own, compose.ts), and each send recorded in report_access (store.ts:
 * SQLite's audit writer thread, or PostgreSQL) — command 'digest weekly' / 'digest daily', by
 * 'schoolgate' — so the DSL sees when monitoring information left the server. Recorded once the relay accepted the mail: the record is also
 * what the next start reads to know whether a digest was missed.
 */
import type { Logger } from 'pino';
import type { CategoryMeta } from '../../policy/types.js';
import { currentOsUser } from '../../reports/access.js';
import type { AlertsConfig } from '../config.js';
import { createSmtpTransport } from '../sinks/smtp-transport.js';
import { realClock, type SchedulerClock } from './clock.js';
import { composeInWorker } from './compose.js';
import { schedulesOf, type DigestKind } from './schedule.js';
import { DigestScheduler, type DigestJob } from './scheduler.js';
import type { DigestStore } from './store.js';

export { DigestScheduler, type DigestJob } from './scheduler.js';
export { realClock, type SchedulerClock } from './clock.js';
export { pgDigestStore, sqliteDigestStore, type DigestStore } from './store.js';

export const DIGEST_BY = 'schoolgate';
export const digestCommand = (kind: DigestKind): string => `digest ${kind}`;

export interface DigestDeps {
  settings: AlertsConfig;
  /** The school's time zone (config.timeZone): the schedule's and the mail's. */
  timeZone: string;
  /** The audit record the digests read and record their sends in: SQLite or PostgreSQL (store.ts). */
  openStore: () => DigestStore;
  /** The categories in force (titles, flags), read per digest: a reload changes them. */
  categories: () => ReadonlyMap<string, CategoryMeta>;
  logger: Logger;
  clock?: SchedulerClock;
  env?: NodeJS.ProcessEnv;
  random?: () => number;
}

export interface RunningDigests {
  /** null when no digest runs (none scheduled, or no e-mail sink). */
  scheduler: DigestScheduler | null;
  stop(): Promise<void>;
}

/** Starts the digests the config asks for; without `alerts.email` none starts, and the log says so once. */
export function startDigests(deps: DigestDeps): RunningDigests {
  const logger = deps.logger.child({ component: 'digest' });
  const schedules = schedulesOf(deps.settings.digest);
  const email = deps.settings.email;
  if (schedules.length === 0 || email === null) {
    if (schedules.length > 0)
      logger.info(
        { digests: schedules.map((s) => s.kind) },
        'digest: no e-mail sink configured (alerts.email), so no scheduled digest is sent',
      );
    return { scheduler: null, stop: async () => {} };
  }
  const clock = deps.clock ?? realClock;
  const smtp = createSmtpTransport(email, deps.env);
  const osUser = currentOsUser();
  const store = deps.openStore();

  const deliver = async (job: DigestJob): Promise<void> => {
    const digest = await composeInWorker({
      ...store.readFrom,
      timeZone: deps.timeZone,
      now: clock.now(),
      categories: deps.categories(),
      job,
      by: DIGEST_BY,
      osUser,
    });
    await smtp.send({ ...digest, headers: { 'X-Schoolgate-Digest': job.kind } });
  };

  const scheduler = new DigestScheduler({
    schedules,
    timeZone: deps.timeZone,
    clock,
    deliver,
    record: async (job, sentAt) => {
      await store.recordAccess({
        timeMs: sentAt,
        by: DIGEST_BY,
        osUser,
        command: digestCommand(job.kind),
        fromMs: job.fromMs,
        toMs: job.toMs,
        format: 'email',
        outcome: 'granted',
      });
    },
    lastSent: async (kind) => {
      const last = await store.lastGranted(digestCommand(kind));
      return last && { sentAt: last.timeMs, toMs: last.toMs };
    },
    inServiceSince: () => store.firstRecordAt(),
    ...(store.claim && store.settle
      ? {
          claim: (job: DigestJob) => store.claim!(job.kind, job.dueAt, clock.now()),
          settle: (job: DigestJob, sent: boolean) => store.settle!(job.kind, job.dueAt, sent, clock.now()),
        }
      : {}),
    retry: email,
    describe: smtp.describe,
    logger,
    ...(deps.random ? { random: deps.random } : {}),
  });
  scheduler.start();
  logger.info(
    { digests: schedules, timeZone: deps.timeZone, recipients: email.to.length },
    'digest: scheduled',
  );
  return {
    scheduler,
    async stop() {
      await scheduler.stop();
      smtp.close();
      await store.close();
    },
  };
}
