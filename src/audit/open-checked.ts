/**
 * How the audit writer opens its database: checked before it is trusted (start-check.ts), identified by a
 * random `database_id` in its meta table, and pinned by the head file (head-file.ts) as soon as it is open.
 * With `newDatabase` (serve --new-audit-database) a database that the checks refuse is set aside
 * (set-aside.ts) and a new one started, which records in its meta table what it replaced. A database
 * that passes its checks is never set aside: the option left in a service definition by mistake must not
 * start a new chain at every restart.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { SchoolgateError, isSchoolgateError } from '../errors.js';
import { READ_HEAD_SQL, parseHead } from './chain.js';
import { headFilePath, readHeadFile, writeHeadFile, type RecordedHead } from './head-file.js';
import { openWritableDatabase, OPEN_SUGGESTION } from './open-database.js';
import type { AuditLogger } from './sqlite-store.js';
import { setAsideDatabase, type SetAsideRecord } from './set-aside.js';
import { checkFiles, checkOpened, type IntegrityMode, type StartCheckReport } from './start-check.js';

export interface CheckedOpenOptions {
  busyTimeoutMs: number;
  /** 'quick' (PRAGMA quick_check, the default at every start) or 'full' (integrity_check). */
  integrity: IntegrityMode;
  /** Set a refused database aside and start a new one. */
  newDatabase: boolean;
  now?: () => number;
}

export interface AuditOpenReport {
  path: string;
  headFile: string;
  /** The checks run on an existing database; null when this start created the file. */
  check: StartCheckReport | null;
  /** This start created the database: it was 'missing' (or an empty file no head was recorded for). */
  created: 'missing' | 'zero-length' | null;
  /** This start set a refused database aside (--new-audit-database). */
  setAside: SetAsideRecord | null;
  /** What this database replaced, from its meta table: stays visible at every later start. */
  replaced: SetAsideRecord | null;
  /** --new-audit-database was given, but the database passed its checks: nothing was moved. */
  newDatabaseNotNeeded: boolean;
}

const REPLACED_KEY = 'replaced_database';

export function isAuditRefusal(err: unknown): err is SchoolgateError {
  return isSchoolgateError(err) && (err.code === 'SG_AUDIT_DAMAGED' || err.code === 'SG_AUDIT_REPLACED');
}

export function openCheckedAuditDatabase(
  pathArg: string,
  opts: CheckedOpenOptions,
): { db: Database.Database; report: AuditOpenReport } {
  const path = resolve(pathArg);
  const headFile = headFilePath(path);
  const now = opts.now ?? Date.now;
  const base = { path, headFile, setAside: null, newDatabaseNotNeeded: false };
  try {
    const opened = openAndCheck(path, headFile, opts.integrity, opts.busyTimeoutMs, now);
    const report = { ...base, ...opened.report, newDatabaseNotNeeded: opts.newDatabase };
    return { db: opened.db, report: { ...report, replaced: readReplaced(opened.db) } };
  } catch (err) {
    if (!opts.newDatabase || !isAuditRefusal(err)) throw err;
    const setAside = setAsideDatabase(
      path,
      headFile,
      { code: err.code, reason: String(err.context['reason'] ?? err.message) },
      now(),
    );
    const opened = openAndCheck(path, headFile, opts.integrity, opts.busyTimeoutMs, now);
    opened.db
      .prepare(`INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)`)
      .run(REPLACED_KEY, JSON.stringify(setAside));
    return { db: opened.db, report: { ...base, ...opened.report, setAside, replaced: setAside } };
  }
}

function openAndCheck(
  path: string,
  headFile: string,
  integrity: IntegrityMode,
  busyTimeoutMs: number,
  now: () => number,
): { db: Database.Database; report: Pick<AuditOpenReport, 'check' | 'created'> } {
  const head = readHeadFile(headFile);
  const found = checkFiles(path, headFile, head);
  let check: StartCheckReport | null = null;
  const db = openWritableDatabase(path, {
    busyTimeoutMs,
    ...(found
      ? {}
      : { beforeWrite: (conn) => void (check = checkOpened(conn, path, headFile, head, integrity)) }),
  });
  try {
    db.prepare(`INSERT OR IGNORE INTO meta (key, value) VALUES ('database_id', ?)`).run(
      randomBytes(16).toString('hex'),
    );
    writeHeadFile(headFile, currentHead(db, now()));
  } catch (err) {
    db.close();
    throw new SchoolgateError(
      'SG_AUDIT_UNAVAILABLE',
      `Cannot record the audit chain head in ${headFile} (${err instanceof Error ? err.message : String(err)}).`,
      { context: { path, headFile }, suggestion: OPEN_SUGGESTION, cause: err },
    );
  }
  return { db, report: { check, created: found ? found.kind : null } };
}

/** The head to record now: which database, which row. Read on the writer's connection. */
export function currentHead(db: Database.Database, nowMs: number): RecordedHead {
  const meta = db.prepare(`SELECT value FROM meta WHERE key = ?`).pluck();
  const head = parseHead(db.prepare(READ_HEAD_SQL).pluck().get() as string | undefined);
  const rowTime =
    head.seq === 0
      ? null
      : ((db.prepare(`SELECT time_ms FROM audit_events WHERE seq = ?`).pluck().get(head.seq) as
          number | undefined) ?? null);
  return {
    version: 1,
    database_id: String(meta.get('database_id')),
    created_ms: Number(meta.get('created_ms')),
    seq: head.seq,
    chain_hash: head.hash,
    row_time_ms: rowTime,
    written_ms: nowMs,
  };
}

/** Records the current head in the head file (clean close, and periodically from the writer thread). */
export function recordHead(db: Database.Database, headFile: string, nowMs: number): RecordedHead {
  const head = currentHead(db, nowMs);
  writeHeadFile(headFile, head);
  return head;
}

function readReplaced(db: Database.Database): SetAsideRecord | null {
  const value = db.prepare(`SELECT value FROM meta WHERE key = ?`).pluck().get(REPLACED_KEY) as
    string | undefined;
  if (value === undefined) return null;
  try {
    return JSON.parse(value) as SetAsideRecord;
  } catch {
    return null;
  }
}

/** One line per start saying what the check found; a set-aside database is an error-level event. */
export function logOpenReport(logger: AuditLogger | undefined, r: AuditOpenReport): void {
  if (r.setAside)
    logger?.error(
      {
        code: r.setAside.code,
        reason: r.setAside.reason,
        folder: r.setAside.folder,
        files: r.setAside.files,
      },
      `audit: --new-audit-database: the refused audit database was moved to ${r.setAside.folder}; a new audit database was started at ${r.path}`,
    );
  else if (r.newDatabaseNotNeeded)
    logger?.warn(
      { path: r.path },
      'audit: --new-audit-database was given but the audit database passed its checks: nothing was moved (remove the option)',
    );
  if (r.created === 'missing' && !r.setAside)
    logger?.info({ path: r.path }, 'audit: no audit database and no recorded head: created a new one');
  if (r.created === 'zero-length')
    logger?.warn(
      { path: r.path },
      'audit: the audit database file was empty and no head was recorded: started a new one',
    );
  if (r.check)
    logger?.info(
      { path: r.path, check: r.check.mode, checkMs: r.check.checkMs, headSeq: r.check.recorded?.seq ?? null },
      r.check.recorded
        ? `audit: database checked (${r.check.mode}_check ok, recorded head seq ${r.check.recorded.seq} found)`
        : `audit: database checked (${r.check.mode}_check ok; no head recorded before, recording one now)`,
    );
}
