/**
 * The scheduled digests, put together for the running proxy: the schedule from `alerts.digest`, the mail
 * through the e-mail sink's SMTP transport to its recipients, the reading from the audit database (a
 * read-only connection on a worker thread of its own, compose.ts), and each send recorded in report_access
 * on the audit writer thread — command 'digest weekly' / 'digest daily', by 'schoolgate' — so the DSL sees
 * when monitoring information left the server. Recorded once the relay accepted the mail: the record is also
 * what the next start reads to know whether a digest was missed.
 */
import type { Logger } from 'pino';
import { lastGrantedAccess, type AccessEntry } from '../../audit/report-access.js';
import type { CategoryMeta } from '../../policy/types.js';
import { currentOsUser } from '../../reports/access.js';
import { openReadOnly } from '../../reports/source.js';
import type { AlertsConfig } from '../config.js';
import { createSmtpTransport } from '../sinks/smtp-transport.js';
import { realClock, type SchedulerClock } from './clock.js';
import { composeInWorker } from './compose.js';
import { schedulesOf, type DigestKind } from './schedule.js';
import { DigestScheduler, type DigestJob } from './scheduler.js';

export { DigestScheduler, type DigestJob } from './scheduler.js';
export { realClock, type SchedulerClock } from './clock.js';

export const DIGEST_BY = 'schoolgate';
export const digestCommand = (kind: DigestKind): string => `digest ${kind}`;

export interface DigestDeps {
  settings: AlertsConfig;
  /** The school's time zone (config.timeZone): the schedule's and the mail's. */
  timeZone: string;
  auditPath: string;
  /** The audit writer thread (WorkerAuditStore). */
  audit: { recordAccess(entry: AccessEntry): Promise<number> };
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

function withReadOnly<T>(auditPath: string, read: (db: ReturnType<typeof openReadOnly>) => T): T {
  const db = openReadOnly(auditPath);
  try {
    return read(db);
  } finally {
    db.close();
  }
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

  const deliver = async (job: DigestJob): Promise<void> => {
    const digest = await composeInWorker({
      auditPath: deps.auditPath,
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
      await deps.audit.recordAccess({
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
      const last = withReadOnly(deps.auditPath, (db) => lastGrantedAccess(db, digestCommand(kind)));
      return last && { sentAt: last.timeMs, toMs: last.toMs };
    },
    inServiceSince: async () =>
      withReadOnly(
        deps.auditPath,
        (db) =>
          (db.prepare('SELECT time_ms FROM audit_events ORDER BY rowid LIMIT 1').pluck().get() as
            number | undefined) ?? null,
      ),
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
    },
  };
}
