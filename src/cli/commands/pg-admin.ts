/**
 * The investigation commands (hold, audit purge, case) when the record is on PostgreSQL (store: { postgres }):
 * one short-lived pool to the shared database, its schema brought up to date first (a CLI may run before
 * any node of this version has served). The access gate (admin-access.ts) records in PostgreSQL's
 * report_access, chained by the ledger (postgres/ledger.ts), or refuses the command.
 */
import { mkdirSync } from 'node:fs';
import type Database from 'better-sqlite3';
import type pg from 'pg';
import type { CaseSubject } from '../../audit/case-subjects.js';
import type { StoredAccessEntry } from '../../audit/report-access.js';
import type { PostgresConfig } from '../../audit/postgres/config.js';
import type { PgConnectOptions } from '../../audit/postgres/connect.js';
import type { ReadonlyConfig } from '../../config/load.js';
import { SchoolgateError } from '../../errors.js';
import type { AccessPolicy, AccessRequest, Refusal } from '../../reports/access.js';
import type { Reports } from './admin-access.js';
import { pgUnavailable } from '../../audit/postgres/unavailable.js';

/** The configured PostgreSQL store, or null on SQLite. */
export function pgStoreOf(config: ReadonlyConfig): PostgresConfig | null {
  return typeof config.store === 'object' ? (config.store as { postgres: PostgresConfig }).postgres : null;
}

/** The connection options of the configured store (reads the password file). */
export async function pgConnectOf(pg: PostgresConfig): Promise<PgConnectOptions> {
  const { connectOptions } = await import('../../audit/postgres/config.js');
  return connectOptions(pg);
}

/** Runs `run` on a migrated pool; a database that cannot be reached is SG_AUDIT_UNAVAILABLE. */
export async function withPgPool<T>(
  pgConfig: PostgresConfig,
  run: (pool: pg.Pool) => Promise<T>,
): Promise<T> {
  const [{ pgPool }, { migratePg }] = await Promise.all([
    import('../../audit/postgres/connect.js'),
    import('../../audit/postgres/schema.js'),
  ]);
  const pool = pgPool({ ...(await pgConnectOf(pgConfig)), max: 2 });
  try {
    const client = await pool.connect().catch((err: unknown) => {
      throw unavailable(err);
    });
    try {
      await migratePg(client);
    } finally {
      client.release();
    }
    return await run(pool);
  } catch (err) {
    throw err instanceof SchoolgateError ? err : unavailable(err);
  } finally {
    await pool.end();
  }
}

const unavailable = (err: unknown) => pgUnavailable(err, 'cannot use the PostgreSQL audit store');

/**
 * The access gate on PostgreSQL: the request decided and recorded (granted or refused) in report_access before
 * the command runs; SG_AUDIT_UNAVAILABLE, and nothing run, when it cannot be recorded.
 */
export async function authoriseOnPostgres(
  config: ReadonlyConfig,
  req: AccessRequest,
  policy: AccessPolicy,
): Promise<number> {
  const [{ authoriseWith }, { PgAccessRecorder }] = await Promise.all([
    import('../../reports/access.js'),
    import('../../audit/postgres/report-access.js'),
  ]);
  // These commands never need a case to be open first (needsCase is false): no case lookup.
  return withPgPool(pgStoreOf(config)!, (pool) =>
    authoriseWith(new PgAccessRecorder(pool), () => null, req, policy),
  );
}

/** The access entries under a case, from PostgreSQL's report_access (`case show`), oldest first. */
export async function pgCaseAccess(config: ReadonlyConfig, ref: string): Promise<StoredAccessEntry[]> {
  const { pgCaseLooks } = await import('../../audit/postgres/case-looks.js');
  return withPgPool(pgStoreOf(config)!, (pool) => pgCaseLooks(pool, ref, 10_000));
}

/**
 * This node's SQLite file for the subject lookups, made when the node has only ever recorded on PostgreSQL
 * (openAdmin refuses a missing file, rightly on SQLite: there it means a wrong --data).
 */
export async function openAccessRecord(config: ReadonlyConfig): Promise<Database.Database> {
  const [{ openWritableDatabase }, { auditPathOf }] = await Promise.all([
    import('../../audit/open-database.js'),
    import('../../reports/run.js'),
  ]);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  return openWritableDatabase(auditPathOf(config), { busyTimeoutMs: 5000 });
}

/** Users among `subjects` with rows in the shared record (a user removed since still has a record). */
export async function pgUsersWithRows(pool: pg.Pool, subjects: readonly CaseSubject[]): Promise<Set<string>> {
  const names = subjects.filter((s) => s.kind === 'user').map((s) => s.value);
  if (names.length === 0) return new Set();
  const { rows } = await pool.query<{ username: string }>(
    `SELECT u AS username FROM unnest($1::text[]) u
     WHERE EXISTS (SELECT 1 FROM audit_events WHERE username = u)`,
    [names],
  );
  return new Set(rows.map((r) => r.username));
}

/** The precheck of `hold add` / `case open` on PostgreSQL: known users and devices, or users with rows. */
export async function pgSubjectsPrecheck(
  config: ReadonlyConfig,
  pool: pg.Pool,
  subjects: readonly CaseSubject[],
): Promise<(db: Database.Database | null) => Refusal | null> {
  const [withRows, { withSubjectLookup, subjectRefusal, unknownSubjects }] = await Promise.all([
    pgUsersWithRows(pool, subjects),
    import('../../reports/subjects.js'),
  ]);
  return (db) =>
    withSubjectLookup(config, db, (lookup) => {
      const both = { ...lookup, userExists: (n: string) => withRows.has(n) || lookup.userExists(n) };
      return subjectRefusal(both, unknownSubjects(both, subjects));
    });
}

/** A store of the investigation's records (holds, cases) as a command sees it, on either engine. */
export interface AdminBackend<S> {
  /** The check of the subjects (`hold add`, `case open`), run inside the access gate. */
  precheck(subjects: readonly CaseSubject[]): Promise<(r: Reports, db: Database.Database) => Refusal | null>;
  /** The store, given the access gate's reports module and SQLite connection (where SQLite keeps it). */
  at(r: Reports, db: Database.Database): S;
}

/** Runs `run` with the configured store's backend: config.store picks SQLite or PostgreSQL. */
export async function withAdminBackend<S, T>(
  config: ReadonlyConfig,
  sqlite: (r: Reports, db: Database.Database) => S,
  postgres: (pool: pg.Pool) => Promise<S>,
  run: (backend: AdminBackend<S>) => Promise<T>,
): Promise<T> {
  const pgConfig = pgStoreOf(config);
  if (!pgConfig)
    return run({
      precheck: async (subjects) => (r, db) => r.unknownSubjectsRefusal(config, db, subjects),
      at: sqlite,
    });
  return withPgPool(pgConfig, async (pool) => {
    const store = await postgres(pool);
    return run({
      precheck: async (subjects) => {
        const check = await pgSubjectsPrecheck(config, pool, subjects);
        return (_r, db) => check(db);
      },
      at: () => store,
    });
  });
}
