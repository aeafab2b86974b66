/**
 * Opens the audit database for writing, with the durability settings the audit contract depends on, or
 * fails with SG_AUDIT_UNAVAILABLE naming the path and what to do.
 */
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { createPrivateFile, makePrivateDir } from '../app/file-modes.js';
import { SchoolgateError } from '../errors.js';
import { registerChainFunctions } from './chain.js';
import { registerLedgerFunctions } from './ledger.js';
import { migrate } from './migrations.js';

export const OPEN_SUGGESTION =
  'Check that the file and its folder are writable by the user schoolgate runs as (SQLite also creates ' +
  '<file>-wal and <file>-shm beside it), that the disk is not full or mounted read-only, and that no other ' +
  'program holds a write lock on it; or set audit.path to a writable location.';

/** SQLITE_* code of a better-sqlite3 error, if it is one. */
export function sqliteCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

function unavailable(path: string, what: string, cause: unknown): SchoolgateError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new SchoolgateError(
    'SG_AUDIT_UNAVAILABLE',
    `Cannot open the audit database ${path} for writing: ${what}${detail ? ` (${detail})` : ''}.`,
    {
      context: { path, sqliteCode: sqliteCode(cause) },
      suggestion: OPEN_SUGGESTION,
      cause,
    },
  );
}

/**
 * Root bypasses permission bits, so SQLite alone would happily write a file a technician marked read-only.
 * Honour the marking explicitly: an existing file, or its folder, with no write bit for anyone is refused.
 */
function refuseReadOnlyMarking(path: string): void {
  const dir = dirname(path);
  const dirStat = statSync(dir);
  if ((dirStat.mode & 0o222) === 0) throw unavailable(path, `the folder ${dir} is read-only`, '');
  let fileMode: number | undefined;
  try {
    fileMode = statSync(path).mode;
  } catch {
    return; // does not exist yet: it will be created
  }
  if ((fileMode & 0o222) === 0) throw unavailable(path, 'the file is read-only', '');
}

export interface OpenOptions {
  busyTimeoutMs: number;
  /** Runs on the new connection before anything is written (start-check.ts); may throw a SchoolgateError. */
  beforeWrite?: (db: Database.Database) => void;
}

export function openWritableDatabase(pathArg: string, opts: OpenOptions): Database.Database {
  const path = resolve(pathArg);
  try {
    makePrivateDir(dirname(path));
  } catch (err) {
    throw unavailable(path, `its folder ${dirname(path)} cannot be created`, err);
  }
  refuseReadOnlyMarking(path);

  let db: Database.Database;
  try {
    createPrivateFile(path); // owner-only before SQLite makes it 0644; -wal and -shm copy its mode
    db = new Database(path);
  } catch (err) {
    throw unavailable(path, 'SQLite could not open it', err);
  }
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(opts.busyTimeoutMs))}`);
    opts.beforeWrite?.(db);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new Error(`journal_mode is ${String(mode)}, expected wal`);
    // better-sqlite3 is built with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1 (NORMAL): a commit could roll back on power
    // loss. FULL syncs the WAL on every commit; group commit is what makes that affordable.
    db.pragma('synchronous = FULL');
    const sync = db.pragma('synchronous', { simple: true });
    if (sync !== 2) throw new Error(`PRAGMA synchronous is ${String(sync)}, expected 2 (FULL)`);
    // Before the migrations: the chain and ledger triggers call these on every write.
    registerChainFunctions(db);
    registerLedgerFunctions(db);
    migrate(db, path);
    // Write probe: a read-only file (non-root) opens "successfully" in read-only mode and only fails here.
    db.prepare(`INSERT OR REPLACE INTO meta (key, value) VALUES ('last_opened_ms', ?)`).run(
      String(Date.now()),
    );
  } catch (err) {
    db.close();
    if (err instanceof SchoolgateError) throw err;
    throw unavailable(path, 'it is not writable or not a usable audit database', err);
  }
  return db;
}
