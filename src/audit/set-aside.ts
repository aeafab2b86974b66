/**
 * `serve --new-audit-database`: a refused audit database is moved aside, never deleted; it is evidence.
 * Its files keep their names inside a new folder beside it (`data/audit-set-aside-<time>/audit.sqlite`,
 * `-wal`, `-shm`, `audit.head`), so SQLite still pairs the WAL with its database when someone examines it,
 * and a NOTE.txt there says when and why.
 *
 * The database file moves first: if the move stops half way, the head file still beside it (or the -wal
 * left behind, see head-verdict.ts) makes the next start refuse again instead of starting empty.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { syncFolder } from './head-file.js';
import { setAsideStem } from './start-check.js';

export interface SetAsideRecord {
  /** The folder the files were moved into. */
  folder: string;
  /** The files moved (their names before the move). */
  files: string[];
  /** The refusal that made it necessary. */
  code: string;
  reason: string;
  atMs: number;
}

function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/:/g, '-');
}

function makeFolder(dbPath: string, atMs: number): string {
  const base = path.join(path.dirname(dbPath), `${setAsideStem(dbPath)}-${stamp(atMs)}`);
  for (let n = 1; ; n++) {
    const folder = n === 1 ? base : `${base}-${n}`;
    try {
      mkdirSync(folder, { mode: 0o700 }); // evidence of personal data: owner-only
      return folder;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** Moves the database, its -wal and -shm and its head file into a new folder; returns what was moved. */
export function setAsideDatabase(
  dbPath: string,
  headFile: string,
  refusal: { code: string; reason: string },
  atMs: number,
): SetAsideRecord {
  const folder = makeFolder(dbPath, atMs);
  const files: string[] = [];
  for (const file of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`, headFile]) {
    try {
      renameSync(file, path.join(folder, path.basename(file)));
      files.push(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  const record: SetAsideRecord = { folder, files, ...refusal, atMs };
  writeFileSync(
    path.join(folder, 'NOTE.txt'),
    `Moved here by \`schoolgate serve --new-audit-database\` at ${new Date(atMs).toISOString()}.\n` +
      `Why: ${refusal.code}: ${refusal.reason}\n` +
      `Files: ${files.map((f) => path.basename(f)).join(', ') || 'none'}\n` +
      'Keep them: they are the audit record from before. Examine a COPY (sqlite3, schoolgate audit verify).\n',
    { mode: 0o600 },
  );
  syncFolder(folder);
  syncFolder(path.dirname(dbPath));
  return record;
}
