/**
 * A read-only view of the audit database for tests and the CLI. Each helper is one short statement (an
 * implicit read transaction that ends at once), so a reader never holds the WAL back from checkpointing.
 * Reports proper are a later issue; keep this small.
 */
import Database from 'better-sqlite3';
import { SchoolgateError } from '../errors.js';
import { rowToStored, type RawRow, type StoredAuditRow } from './row-mapping.js';

export interface AuditReader {
  countRows(): number;
  getRow(id: string): StoredAuditRow | undefined;
  /** Rows of one user with from <= time < to (epoch ms), oldest first. */
  rowsForUser(user: string, from: number, to: number): StoredAuditRow[];
  /** `PRAGMA integrity_check`: 'ok' or the problems found. */
  integrityCheck(): string;
  close(): void;
}

export function openAuditReader(path: string, opts: { busyTimeoutMs?: number } = {}): AuditReader {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 2000}`);
  } catch (err) {
    throw new SchoolgateError('SG_AUDIT_UNAVAILABLE', `Cannot open the audit database ${path} for reading.`, {
      context: { path, detail: err instanceof Error ? err.message : String(err) },
      suggestion: 'Check audit.path in the configuration and that the file exists and is readable.',
      cause: err,
    });
  }
  const count = db.prepare('SELECT count(*) FROM audit_events').pluck();
  const byId = db.prepare<[string], RawRow>('SELECT * FROM audit_events WHERE id = ?');
  const byUser = db.prepare<[string, number, number], RawRow>(
    'SELECT * FROM audit_events WHERE username = ? AND time_ms >= ? AND time_ms < ? ORDER BY time_ms, rowid',
  );
  return {
    countRows: () => count.get() as number,
    getRow: (id) => {
      const row = byId.get(id);
      return row ? rowToStored(row) : undefined;
    },
    rowsForUser: (user, from, to) => byUser.all(user, from, to).map(rowToStored),
    integrityCheck: () =>
      (db.pragma('integrity_check') as { integrity_check: string }[])
        .map((r) => r.integrity_check)
        .join('\n'),
    close: () => db.close(),
  };
}
