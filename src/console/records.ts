/**
 * The cases and holds the headteacher's pages read and change, and the record of each look at them, in the
 * store config.store names: the SQLite file, or the shared PostgreSQL database (every node's cases and
 * holds, the looks in its report_access). A look is recorded there before anything is read or changed and
 * refused (SG_AUDIT_UNAVAILABLE) when it cannot be: PostgreSQL down is a refusal, never a SQLite view.
 */
import type Database from 'better-sqlite3';
import { sqliteCaseStore, type CaseStore } from '../audit/case-store.js';
import type { CaseSubject } from '../audit/case-subjects.js';
import { sqliteHoldStore, type HoldStore } from '../audit/hold-store.js';
import type { PgReportStore } from '../audit/postgres/report-reads.js';
import type { ReadonlyConfig } from '../config/load.js';
import { isSchoolgateError, SchoolgateError } from '../errors.js';
import type { Refusal } from '../reports/access.js';
import { openAdmin } from '../reports/run.js';
import { unknownSubjectsRefusal } from '../reports/subjects.js';
import { authoriseLook, authoriseLookWith, type Look, type Looker } from './access.js';
import type { ConsoleContext } from './context.js';
import { latestSite } from './site-scope.js';

export interface ConsoleRecords {
  cases: CaseStore;
  holds: HoldStore;
  /** Checks and records one look; SG_REPORT_REFUSED (recorded) or SG_AUDIT_UNAVAILABLE (unrecordable). */
  authorise(who: Looker, look: Look, now: number): Promise<number>;
  /** For `case open` and `hold add`: null when every subject exists, else the refusal. */
  unknownSubjects(subjects: readonly CaseSubject[]): Promise<Refusal | null>;
  /** The site of each user's latest audit row (people without a users row: site-scope.ts). */
  latestSites(users: readonly string[]): Promise<Map<string, string | null>>;
}

/** Runs `fn` on the configured store's records, closed after it. */
export async function withRecords<T>(
  ctx: ConsoleContext,
  fn: (records: ConsoleRecords) => Promise<T>,
): Promise<T> {
  if (ctx.config.store === 'sqlite') {
    const db = openAdmin(ctx.config);
    try {
      return await fn(sqliteRecords(ctx.config, db));
    } finally {
      db.close();
    }
  }
  const { openPgReportStore } = await import('../audit/postgres/report-reads.js');
  const store = await openPgReportStore(ctx.config);
  try {
    return await fn(await pgRecords(ctx.config, store));
  } catch (err) {
    throw isSchoolgateError(err) ? err : unavailable(err);
  } finally {
    await store.close();
  }
}

function sqliteRecords(config: ReadonlyConfig, db: Database.Database): ConsoleRecords {
  return {
    cases: sqliteCaseStore(db),
    holds: sqliteHoldStore(db),
    authorise: async (who, look, now) => authoriseLook(db, config, who, look, now),
    unknownSubjects: async (subjects) => unknownSubjectsRefusal(config, db, subjects),
    latestSites: async (users) => new Map(users.map((u) => [u, latestSite(db, u)])),
  };
}

async function pgRecords(config: ReadonlyConfig, store: PgReportStore): Promise<ConsoleRecords> {
  const [{ pgHoldStore }, { pgLatestSites }, { pgSubjectsPrecheck }] = await Promise.all([
    import('../audit/postgres/holds.js'),
    import('../audit/postgres/latest-sites.js'),
    import('../cli/commands/pg-admin.js'),
  ]);
  return {
    cases: store.cases,
    holds: pgHoldStore(store.pool),
    authorise: async (who, look, now) => {
      // The case is where the console and `case open` keep it on this store (read first: decide is sync).
      const ref = look.caseRef ?? null;
      const underCase = ref ? ((await store.cases.get(ref)) ?? null) : null;
      return authoriseLookWith(store.recorder, (r) => (r === ref ? underCase : null), config, who, look, now);
    },
    unknownSubjects: async (subjects) => (await pgSubjectsPrecheck(config, store.pool, subjects))(null),
    latestSites: (users) => pgLatestSites(store.pool, users),
  };
}

/** A fault of PostgreSQL part-way through a page: refused, nothing shown from elsewhere. */
function unavailable(err: unknown): SchoolgateError {
  return new SchoolgateError(
    'SG_AUDIT_UNAVAILABLE',
    'The PostgreSQL audit store failed, so this page is refused.',
    {
      context: { detail: err instanceof Error ? err.message : String(err) },
      suggestion: 'Check that PostgreSQL is running and reachable (`schoolgate status`).',
      cause: err,
    },
  );
}
