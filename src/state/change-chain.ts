/**
 * The admin-changes record as a hash chain, as the audit ledger is (src/audit/ledger.ts): each row's
 * chain_hash = sha256(previous row's chain_hash \n the row as JSON), set by a trigger that calls
 * `sg_change_hash`, a function only schoolgate's own connections register. A plain `sqlite3` insert,
 * update or delete fails; one that drops the triggers first leaves a row whose hash no longer follows,
 * which `verifyChanges` names. Not covered: deleting the newest rows (nothing outside the file records
 * the head yet).
 */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';

const GENESIS = '0'.repeat(64);

const COLUMNS = ['id', 'at', 'os_user', 'by_name', 'action', 'target', 'before_json', 'after_json', 'reason'];

/** The row as the chain hashes it: JSON of its columns in a fixed order (`row`: NEW, or none for a SELECT). */
function stateSql(row: 'NEW.' | ''): string {
  return `json_object(${COLUMNS.map((c) => `'${c}', ${row}${c}`).join(', ')})`;
}

export function changeHash(prev: string | null, state: string): string {
  return createHash('sha256')
    .update(`${prev ?? GENESIS}\n${state}`, 'utf8')
    .digest('hex');
}

/** On every writable connection to the state database, before its migrations run. */
export function registerChangeChain(db: Database.Database): void {
  db.function('sg_change_hash', { deterministic: true }, (prev, state) =>
    changeHash(typeof prev === 'string' ? prev : null, String(state)),
  );
}

/**
 * The state migration: the column, every existing row chained in id order, then the triggers that chain
 * each new row and refuse edits and deletions.
 */
export function chainAdminChanges(db: Database.Database): void {
  db.exec(`ALTER TABLE admin_changes ADD COLUMN chain_hash TEXT`);
  const rows = db.prepare(`SELECT id, ${stateSql('')} AS state FROM admin_changes ORDER BY id`).all() as {
    id: number;
    state: string;
  }[];
  const set = db.prepare(`UPDATE admin_changes SET chain_hash = ? WHERE id = ?`);
  let prev: string | null = null;
  for (const r of rows) {
    prev = changeHash(prev, r.state);
    set.run(prev, r.id);
  }
  db.exec(`
    CREATE TRIGGER admin_changes_chain AFTER INSERT ON admin_changes BEGIN
      UPDATE admin_changes SET chain_hash = sg_change_hash(
        (SELECT chain_hash FROM admin_changes WHERE id < NEW.id ORDER BY id DESC LIMIT 1), ${stateSql('NEW.')})
      WHERE id = NEW.id;
    END;
    CREATE TRIGGER admin_changes_no_update BEFORE UPDATE ON admin_changes WHEN OLD.chain_hash IS NOT NULL
    BEGIN
      SELECT RAISE(ABORT, 'the admin-changes record is append-only');
    END;
    CREATE TRIGGER admin_changes_no_delete BEFORE DELETE ON admin_changes BEGIN
      SELECT RAISE(ABORT, 'the admin-changes record is append-only');
    END;
  `);
}

export interface ChangeChainResult {
  ok: boolean;
  rows: number;
  head: { id: number; hash: string } | null;
  /** The first row whose hash does not follow from the one before it (edited, inserted or deleted before it). */
  firstBreak: { id: number; reason: string } | null;
}

/** Walks the chain; read-only, needs no registered function. */
export function verifyChanges(db: Database.Database): ChangeChainResult {
  const hasColumn = (
    db.prepare(`SELECT name FROM pragma_table_info('admin_changes')`).pluck().all() as string[]
  ).includes('chain_hash');
  if (!hasColumn) return { ok: true, rows: 0, head: null, firstBreak: null };
  let prev: string | null = null;
  let rows = 0;
  let head: ChangeChainResult['head'] = null;
  const all = db
    .prepare(`SELECT id, chain_hash AS hash, ${stateSql('')} AS state FROM admin_changes ORDER BY id`)
    .iterate() as IterableIterator<{ id: number; hash: string | null; state: string }>;
  for (const r of all) {
    const expected = changeHash(prev, r.state);
    if (r.hash !== expected) {
      const reason =
        r.hash === null
          ? 'a change the chain never recorded (added by hand)'
          : 'a change that does not follow from the one before it (edited, or one before it deleted)';
      return { ok: false, rows, head, firstBreak: { id: r.id, reason } };
    }
    prev = expected;
    head = { id: r.id, hash: expected };
    rows++;
  }
  return { ok: true, rows, head, firstBreak: null };
}
