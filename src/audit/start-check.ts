/**
 * The audit database is checked before it is trusted. Before the writer writes anything:
 * 1. the files: a missing or empty database (or a -wal without its database) where a head was recorded;
 * 2. SQLite's own check: `PRAGMA quick_check` (page and b-tree structure, O(pages)); `integrity_check`
 *    on request (also compares every index with its table: slower);
 * 3. the head recorded outside the database (head-file.ts) against the rows (head-verdict.ts).
 * Any failure throws SG_AUDIT_DAMAGED or SG_AUDIT_REPLACED, saying to keep the files as evidence and start
 * with `--new-audit-database` (new-database.ts).
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { SchoolgateError } from '../errors.js';
import { GENESIS_HASH, READ_HEAD_SQL, parseHead } from './chain.js';
import type { HeadFileRead, RecordedHead } from './head-file.js';
import { judgeHead, type DatabaseFacts, type NoDatabase } from './head-verdict.js';
import { sqliteCode } from './open-database.js';

export type IntegrityMode = 'quick' | 'full';

/** Schema version that added seq/chain_hash and the purge tables (migrations.ts). */
const CHAIN_SCHEMA = 3;
/** How many problems SQLite lists at most; the first few are enough to say "damaged". */
const MAX_PROBLEMS = 20;

export interface StartCheckReport {
  mode: IntegrityMode;
  /** How long the integrity check took (it reads every page: grows with the file). */
  checkMs: number;
  /** The head the database was compared with; null when none had been recorded yet. */
  recorded: { seq: number; writtenMs: number } | null;
}

function fileSize(file: string): number | null {
  try {
    return statSync(file).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** The database file before SQLite opens (and would create) it. */
export function inspectFiles(dbPath: string): NoDatabase | { kind: 'present' } {
  const size = fileSize(dbPath);
  if (size !== null && size > 0) return { kind: 'present' };
  const strayWal = (fileSize(`${dbPath}-wal`) ?? 0) > 0;
  return size === null ? { kind: 'missing', strayWal } : { kind: 'zero-length', strayWal };
}

/** Throws the refusal for a missing or empty database file where one was expected. */
export function checkFiles(dbPath: string, headFile: string, head: HeadFileRead): NoDatabase | null {
  const found = inspectFiles(dbPath);
  if (found.kind === 'present') return null;
  const verdict = judgeHead(head, found);
  if (!verdict.ok) throw refusal(verdict.code, dbPath, headFile, verdict.reason);
  return found;
}

/** Runs on the opened connection before any write: SQLite's check, then the recorded head. */
export function checkOpened(
  db: Database.Database,
  dbPath: string,
  headFile: string,
  head: HeadFileRead,
  mode: IntegrityMode,
): StartCheckReport {
  const started = performance.now();
  const problems = guarded(dbPath, headFile, `${mode}_check failed`, () =>
    (db.pragma(`${mode === 'full' ? 'integrity_check' : 'quick_check'}(${MAX_PROBLEMS})`) as object[]).map(
      (row) => String(Object.values(row)[0]),
    ),
  );
  const checkMs = Math.round(performance.now() - started);
  if (problems.length !== 1 || problems[0] !== 'ok') {
    const shown = problems.slice(0, 3).join('; ');
    throw refusal('SG_AUDIT_DAMAGED', dbPath, headFile, `${mode}_check found: ${shown}`, { problems });
  }
  const verdict = judgeHead(head, {
    kind: 'database',
    facts: guarded(dbPath, headFile, 'reading its chain failed', () =>
      databaseFacts(db, head.kind === 'ok' ? head.head : null),
    ),
  });
  if (!verdict.ok) throw refusal(verdict.code, dbPath, headFile, verdict.reason);
  return {
    mode,
    checkMs,
    recorded: verdict.recorded && { seq: verdict.recorded.seq, writtenMs: verdict.recorded.written_ms },
  };
}

/** SQLite reporting the file as corrupt or not a database while checking is damage, not unavailability. */
function guarded<T>(dbPath: string, headFile: string, step: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    const code = sqliteCode(err) ?? '';
    if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB')
      throw refusal('SG_AUDIT_DAMAGED', dbPath, headFile, `${step}: ${code} (${(err as Error).message})`);
    throw err;
  }
}

function metaValue(db: Database.Database, key: string): string | null {
  const v = db.prepare(`SELECT value FROM meta WHERE key = ?`).pluck().get(key) as string | undefined;
  return v ?? null;
}

function databaseFacts(db: Database.Database, recorded: RecordedHead | null): DatabaseFacts {
  const schemaVersion = db.pragma('user_version', { simple: true }) as number;
  const facts: DatabaseFacts = {
    schemaVersion,
    databaseId: null,
    createdMs: null,
    headSeq: 0,
    hashAtRecordedSeq: null,
    purgeExplainsMissingRow: false,
  };
  if (schemaVersion === 0) return facts;
  facts.databaseId = metaValue(db, 'database_id');
  const created = Number(metaValue(db, 'created_ms'));
  facts.createdMs = Number.isSafeInteger(created) ? created : null;
  if (schemaVersion < CHAIN_SCHEMA || !recorded) return facts;
  facts.headSeq = parseHead(db.prepare(READ_HEAD_SQL).pluck().get() as string | undefined).seq;
  facts.hashAtRecordedSeq =
    recorded.seq === 0
      ? GENESIS_HASH
      : ((db.prepare(`SELECT chain_hash FROM audit_events WHERE seq = ?`).pluck().get(recorded.seq) as
          string | undefined) ?? null);
  if (facts.hashAtRecordedSeq === null)
    facts.purgeExplainsMissingRow = purgeExplains(db, recorded, facts.headSeq);
  return facts;
}

/**
 * A purge may delete the recorded row (it only deletes rows older than retention). It then leaves an anchor
 * in chain_gaps at the first row after the deleted run (or at the next seq to come): the anchor holds the
 * recorded row's hash when the run ended there, else a purge with a cutoff after the row's time (or after
 * the head was written, when the row was already gone then) is on record. Rows deleted by hand leave neither.
 */
function purgeExplains(db: Database.Database, recorded: RecordedHead, headSeq: number): boolean {
  const next = db.prepare(`SELECT min(seq) FROM audit_events WHERE seq > ?`).pluck().get(recorded.seq) as
    number | null;
  const at = next ?? headSeq + 1;
  const anchor = db.prepare(`SELECT prev_hash FROM chain_gaps WHERE seq = ?`).pluck().get(at) as
    string | undefined;
  if (anchor === undefined) return false;
  if (at === recorded.seq + 1) return anchor === recorded.chain_hash;
  const rowTime = recorded.row_time_ms ?? recorded.written_ms;
  return db.prepare(`SELECT 1 FROM purges WHERE cutoff_ms > ? LIMIT 1`).pluck().get(rowTime) !== undefined;
}

export function refusal(
  code: 'SG_AUDIT_DAMAGED' | 'SG_AUDIT_REPLACED',
  dbPath: string,
  headFile: string,
  reason: string,
  extra: Record<string, unknown> = {},
): SchoolgateError {
  const name = path.basename(dbPath);
  const message =
    code === 'SG_AUDIT_DAMAGED'
      ? `The audit database ${dbPath} is damaged: ${reason}. Schoolgate does not write into a damaged audit database.`
      : `The audit database ${dbPath} is not the one schoolgate last wrote: ${reason}.`;
  return new SchoolgateError(code, message, {
    context: { path: dbPath, headFile, reason, ...extra },
    suggestion:
      `Keep the files as evidence; do not delete or edit them. If the database was moved or restored by ` +
      `mistake, put the right file back. Otherwise start with \`schoolgate serve --new-audit-database\`: it ` +
      `moves ${name}, ${name}-wal, ${name}-shm and ${path.basename(headFile)} into a folder ` +
      `${path.dirname(dbPath)}/${setAsideStem(dbPath)}-<time>/ and starts a new database, recording the move.` +
      (code === 'SG_AUDIT_DAMAGED' ? ' Rows may be rescued from a copy with `sqlite3 <copy> .recover`.' : ''),
  });
}

/** `audit.sqlite` → `audit-set-aside`: the folder name's prefix (new-database.ts adds the time). */
export function setAsideStem(dbPath: string): string {
  return `${path.basename(dbPath).replace(/\.sqlite$/, '')}-set-aside`;
}
