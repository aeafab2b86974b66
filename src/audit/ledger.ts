/**
 * The ledger: a hash chain over every change to the investigation's own records — cases, their subjects
 * and notes, who pulled which report (report_access), purges and the gaps they left in the audit chain,
 * legal holds.
 * The audit rows have their own chain (chain.ts); these tables change through the CLI, so they are chained
 * by SQLite triggers, whatever connection writes them:
 *
 *   ledger(seq, tbl, op, rkey, state, hash)   hash = sha256(previous hash \n tbl \n op \n rkey \n state)
 *
 * `state` is the row as JSON after the change (null for a delete). The triggers call `sg_ledger_hash`, a
 * function only schoolgate's own connections register: a plain `sqlite3` edit of a case note fails with
 * "no such function"; one that drops the triggers first leaves rows the ledger does not know, which
 * `verifyLedger` names. Rewriting the ledger itself to match is what the signed checkpoints
 * (checkpoints.ts) catch: they sign the ledger head with a key the database does not hold.
 */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { GENESIS_HASH, type ChainBreak } from './chain.js';

/** The chained tables and how a row is named in the ledger (rowid, or the key of a WITHOUT ROWID table). */
const LEDGER_TABLES: Record<string, (row: 'NEW' | 'OLD') => string> = {
  cases: (r) => `${r}.rowid`,
  case_subjects: (r) => `${r}.rowid`,
  case_notes: (r) => `${r}.rowid`,
  report_access: (r) => `${r}.rowid`,
  purges: (r) => `${r}.rowid`,
  purge_days: (r) => `${r}.purge_id || '/' || ${r}.day`,
  chain_gaps: (r) => `${r}.rowid`,
  holds: (r) => `${r}.rowid`,
};

export const LEDGER_TABLE_NAMES = Object.keys(LEDGER_TABLES);

export function ledgerHash(
  prev: string | null,
  tbl: string,
  op: string,
  key: string,
  state: string | null,
): string {
  return createHash('sha256')
    .update(`${prev ?? GENESIS_HASH}\n${tbl}\n${op}\n${key}\n${state ?? 'null'}`, 'utf8')
    .digest('hex');
}

/** Registers sg_ledger_hash on a connection that may write the chained tables (every writable one). */
export function registerLedgerFunctions(db: Database.Database): void {
  db.function('sg_ledger_hash', { deterministic: true }, (prev, tbl, op, key, state) =>
    ledgerHash(
      typeof prev === 'string' ? prev : null,
      String(tbl),
      String(op),
      String(key),
      typeof state === 'string' ? state : null,
    ),
  );
}

function columnsOf(db: Database.Database, table: string): string[] {
  return (
    db.prepare(`SELECT name FROM pragma_table_info(?) ORDER BY cid`).all(table) as { name: string }[]
  ).map((c) => c.name);
}

/** The row as the ledger stores it: JSON of every column in table order. */
function stateSql(columns: string[], row: 'NEW' | 'OLD' | null): string {
  return `json_object(${columns.map((c) => `'${c}', ${row ? `${row}.` : ''}"${c}"`).join(', ')})`;
}

const LAST_HASH = `(SELECT hash FROM ledger ORDER BY seq DESC LIMIT 1)`;

/**
 * Creates the ledger and its triggers, and enters every existing row as an insert (migration). A later
 * migration that changes a chained table's columns must call `recreateLedgerTriggers` after it.
 */
export function createLedger(db: Database.Database): void {
  db.exec(`
    CREATE TABLE ledger (
      seq    INTEGER PRIMARY KEY,
      time_ms INTEGER NOT NULL,
      tbl    TEXT NOT NULL,
      op     TEXT NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
      rkey   TEXT NOT NULL,
      state  TEXT,
      hash   TEXT NOT NULL
    );
  `);
  for (const [table, key] of Object.entries(LEDGER_TABLES)) {
    const state = stateSql(columnsOf(db, table), null);
    db.exec(`
      INSERT INTO ledger (time_ms, tbl, op, rkey, state, hash)
      SELECT CAST(unixepoch('subsec') * 1000 AS INTEGER), '${table}', 'insert', k, s,
             sg_ledger_hash(${LAST_HASH}, '${table}', 'insert', k, s)
      FROM (SELECT ${key('NEW').replaceAll('NEW.', '')} AS k, ${state} AS s FROM ${table} ORDER BY ${
        table === 'purge_days' ? 'purge_id, day' : 'rowid'
      });
    `);
  }
  recreateLedgerTriggers(db);
}

export function recreateLedgerTriggers(db: Database.Database): void {
  for (const [table, key] of Object.entries(LEDGER_TABLES)) {
    const columns = columnsOf(db, table);
    for (const op of ['insert', 'update', 'delete'] as const) {
      const row = op === 'delete' ? 'OLD' : 'NEW';
      const state = op === 'delete' ? 'NULL' : stateSql(columns, row);
      db.exec(`
        DROP TRIGGER IF EXISTS ledger_${table}_${op};
        CREATE TRIGGER ledger_${table}_${op} AFTER ${op.toUpperCase()} ON ${table} BEGIN
          INSERT INTO ledger (time_ms, tbl, op, rkey, state, hash)
          SELECT CAST(unixepoch('subsec') * 1000 AS INTEGER), '${table}', '${op}', k, s,
                 sg_ledger_hash(${LAST_HASH}, '${table}', '${op}', k, s)
          FROM (SELECT CAST(${key(row)} AS TEXT) AS k, ${state} AS s);
        END;
      `);
    }
  }
}

export interface LedgerHead {
  seq: number;
  hash: string;
}

export function readLedgerHead(db: Database.Database): LedgerHead {
  const row = db.prepare(`SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1`).get() as
    LedgerHead | undefined;
  return row ?? { seq: 0, hash: GENESIS_HASH };
}

/** One ledger entry as both engines store it (postgres/ledger.ts walks PostgreSQL's the same way). */
export interface LedgerEntry {
  seq: number;
  tbl: string;
  op: string;
  rkey: string;
  state: string | null;
  hash: string;
}

export interface LedgerVerifyResult {
  ok: boolean;
  entries: number;
  head: LedgerHead;
  firstBreak: ChainBreak | null;
}

/**
 * Walks the ledger (each hash from the one before, seq without holes), then compares every row of the
 * chained tables with its last ledger state: a row changed, added or deleted without the triggers (or with
 * them dropped) is named with its table.
 */
export function verifyLedger(db: Database.Database): LedgerVerifyResult {
  const states = new Map<string, string | null>();
  let prev: LedgerHead = { seq: 0, hash: GENESIS_HASH };
  let entries = 0;
  const fail = (seq: number | null, id: string | null, reason: string): LedgerVerifyResult => ({
    ok: false,
    entries,
    head: prev,
    firstBreak: { seq, id, reason },
  });
  const page = db.prepare(`SELECT * FROM ledger WHERE seq > ? ORDER BY seq LIMIT 5000`);
  for (;;) {
    const rows = page.all(prev.seq) as LedgerEntry[];
    if (rows.length === 0) break;
    for (const r of rows) {
      if (r.seq !== prev.seq + 1)
        return fail(r.seq, null, `ledger entries ${prev.seq + 1}..${r.seq - 1} are missing`);
      if (r.hash !== ledgerHash(prev.hash, r.tbl, r.op, r.rkey, r.state))
        return fail(r.seq, `${r.tbl} ${r.rkey}`, 'a ledger entry does not match its hash (it was edited)');
      states.set(`${r.tbl}\n${r.rkey}`, r.op === 'delete' ? null : r.state);
      prev = { seq: r.seq, hash: r.hash };
      entries++;
    }
  }
  for (const [table, key] of Object.entries(LEDGER_TABLES)) {
    const state = stateSql(columnsOf(db, table), null);
    const rows = db
      .prepare(`SELECT CAST(${key('NEW').replaceAll('NEW.', '')} AS TEXT) AS k, ${state} AS s FROM ${table}`)
      .all() as { k: string; s: string }[];
    const seen = new Set<string>();
    for (const { k, s } of rows) {
      const id = `${table}\n${k}`;
      seen.add(id);
      if (!states.has(id) || states.get(id) === null)
        return fail(null, `${table} ${k}`, `a ${table} row the ledger never recorded (added by hand)`);
      if (states.get(id) !== s)
        return fail(
          null,
          `${table} ${k}`,
          `a ${table} row differs from its last recorded state (edited by hand)`,
        );
    }
    for (const [id, s] of states)
      if (s !== null && id.startsWith(`${table}\n`) && !seen.has(id))
        return fail(null, id.replace('\n', ' '), `a ${table} row was deleted by hand`);
  }
  return { ok: true, entries, head: prev, firstBreak: null };
}
