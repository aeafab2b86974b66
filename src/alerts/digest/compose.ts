/**
 * A digest from the audit record (the SQLite file or PostgreSQL) to the two parts of its mail. Building it reads every flagged row of
 * the period (the flagged review's ranking): measured at 2–4 s for 50,000 flagged rows on a busy machine,
 * so the proxy runs it on a worker thread of its own (compose-worker.ts), never on its event loop.
 */
import type { PgConnectOptions } from '../../audit/postgres/connect.js';
import type { AuditReads } from '../../reports/audit-reads.js';
import type { CategoryInfo } from '../../reports/source.js';
import { renderText } from '../../reports/render-text.js';
import { openReadOnly } from '../../reports/source.js';
import { SqliteReads } from '../../reports/sqlite-reads.js';
import { LocalClock } from '../../reports/time.js';
import { runWorkerOnce, workerScript } from '../../worker-script.js';
import { buildDigest } from './build.js';
import { renderMailHtml } from './render-mail.js';
import type { DigestJob } from './scheduler.js';

/** Where the digest reads: the SQLite audit file, or PostgreSQL when config.store is postgres. */
export type DigestReadFrom =
  { auditPath: string; postgres?: undefined } | { postgres: PgConnectOptions; auditPath?: undefined };

export type DigestInput = DigestReadFrom & {
  timeZone: string;
  /** The send time shown in the mail. */
  now: number;
  categories: ReadonlyMap<string, CategoryInfo>;
  job: DigestJob;
  by: string;
  osUser: string;
};

export interface ComposedDigest {
  subject: string;
  text: string;
  html: string;
}

/** The reads of one digest, closed after it: a read-only SQLite connection or a one-connection pool. */
async function openReads(from: DigestReadFrom): Promise<{ reads: AuditReads; close(): Promise<void> }> {
  if (from.postgres) {
    const { pgPool } = await import('../../audit/postgres/connect.js');
    const { PgReads } = await import('../../audit/postgres/report-reads.js');
    const pool = pgPool({ ...from.postgres, max: 1 });
    return { reads: new PgReads(pool), close: () => pool.end() };
  }
  const db = openReadOnly(from.auditPath);
  return {
    reads: new SqliteReads(db),
    close: async () => {
      db.close();
    },
  };
}

/** Reads and renders, on the calling thread (short-lived reads, on either store). */
export async function composeDigest(input: DigestInput): Promise<ComposedDigest> {
  const { reads, close } = await openReads(input);
  try {
    const src = {
      reads,
      timeZone: input.timeZone,
      now: input.now,
      clock: new LocalClock(input.timeZone),
      categories: input.categories,
    };
    const alerts = await reads.alerts({ fromMs: input.job.fromMs, toMs: input.job.toMs });
    const digest = await buildDigest(src, input.job, alerts, {
      by: input.by,
      osUser: input.osUser,
      caseRef: null,
    });
    return { subject: digest.subject, text: renderText(digest.doc), html: renderMailHtml(digest.doc) };
  } finally {
    await close();
  }
}

export type ComposeReply = { ok: true; digest: ComposedDigest } | { ok: false; error: string };

/** composeDigest on a worker thread started for this one digest. */
export async function composeInWorker(input: DigestInput): Promise<ComposedDigest> {
  const script = workerScript(import.meta.url, 'compose-worker.js');
  if (!script.built) throw new Error(`the digest worker is not built: ${script.path} is missing`);
  // A plain Map crosses the thread boundary; the categories in force may be a frozen or custom one.
  const reply = await runWorkerOnce<ComposeReply>(script.path, {
    ...input,
    categories: new Map(input.categories),
  });
  return reply.digest;
}
