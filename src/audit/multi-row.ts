/**
 * Multi-row statements for the writer's batch (chained-batch.ts): one INSERT of many rows and one UPDATE of
 * many outcomes instead of a statement per row. Per-row statements bound ~30 named parameters each (a
 * property lookup per parameter) and ran a VDBE program per row; positional values in one flat array and
 * one program per chunk cost a fraction of that on the writer thread.
 *
 * Statements are prepared for a few chunk sizes (powers of four) and a batch is cut greedily into them, so
 * a handful of prepared statements serve every batch size.
 */
import type Database from 'better-sqlite3';
import { LINK_COLUMNS, ROW_COLUMNS, type EventRow, type OutcomeRow } from './row-mapping.js';

const COLUMNS = ROW_COLUMNS.length + LINK_COLUMNS.length;

/** A row's place in the chain (chain.ts), worked out before it is inserted. */
export interface Link {
  seq: number;
  chainHash: string;
  outcomeHash: string;
}

/** Chunk sizes, largest first. 256 rows × 28 columns stays far below SQLite's 32766 bound parameters. */
const CHUNKS = [256, 64, 16, 4, 1] as const;

/** Cuts n into chunk sizes, largest first (100 → 64, 16, 16, 4). */
export function chunkSizes(n: number): number[] {
  const sizes: number[] = [];
  for (const size of CHUNKS) {
    for (; n >= size; n -= size) sizes.push(size);
  }
  return sizes;
}

const placeholders = (rows: number, columns: number): string => {
  const one = `(${Array.from({ length: columns }, () => '?').join(', ')})`;
  return Array.from({ length: rows }, () => one).join(', ');
};

/** A prepared statement per chunk size, made on first use. */
function perChunk(db: Database.Database, sql: (rows: number) => string) {
  const prepared = new Map<number, Database.Statement>();
  return (rows: number): Database.Statement => {
    let statement = prepared.get(rows);
    if (!statement) prepared.set(rows, (statement = db.prepare(sql(rows))));
    return statement;
  };
}

/**
 * Inserts rows[from, from + size) with their links, all or none. INSERT OR IGNORE as before, and no statement
 * journal (a plain INSERT of many rows keeps one to undo a half-done statement: it cost more than it saved).
 * When a row was ignored (a duplicate id, a retried write), the links of the rows after it are wrong: the rows
 * this statement did insert are deleted again (each by its seq and its own chain hash, so nothing older is
 * touched) and false tells the caller to redo the chunk row by row.
 */
export function multiRowInsert(db: Database.Database) {
  const columns = [...ROW_COLUMNS, ...LINK_COLUMNS].join(', ');
  const statement = perChunk(
    db,
    (rows) => `INSERT OR IGNORE INTO audit_events (${columns}) VALUES ${placeholders(rows, COLUMNS)}`,
  );
  const undo = db.prepare(`DELETE FROM audit_events WHERE seq = ? AND chain_hash = ?`);
  return (rows: readonly EventRow[], links: readonly Link[], from: number, size: number): boolean => {
    const values: unknown[] = new Array(size * COLUMNS);
    let v = 0;
    for (let i = from; i < from + size; i++) {
      const row = rows[i]!;
      for (const column of ROW_COLUMNS) values[v++] = row[column];
      const link = links[i]!;
      values[v++] = link.seq;
      values[v++] = link.chainHash;
      values[v++] = link.outcomeHash;
    }
    if (statement(size).run(values).changes === size) return true;
    for (let i = from; i < from + size; i++) undo.run(links[i]!.seq, links[i]!.chainHash);
    return false;
  };
}

const OUTCOME_COLUMNS = ['id', 'status', 'bytes_in', 'bytes_out', 'duration_ms', 'completed_ms'] as const;

/**
 * Applies outcomes in chunks, one UPDATE … FROM (VALUES …) each. The same as UPDATE_SQL (row-mapping.ts) per
 * outcome: COALESCE keeps a decision-time status, sg_outcome_hash rebinds the outcome to the row's chain hash.
 * The caller passes each id once (UPDATE … FROM picks an unspecified one of several matches): see repeatsAnId.
 */
export function multiRowUpdate(db: Database.Database) {
  const statement = perChunk(
    db,
    (
      rows,
    ) => `WITH o (${OUTCOME_COLUMNS.join(', ')}) AS (VALUES ${placeholders(rows, OUTCOME_COLUMNS.length)})
      UPDATE audit_events
      SET status = COALESCE(o.status, audit_events.status), bytes_in = o.bytes_in, bytes_out = o.bytes_out,
          duration_ms = o.duration_ms, completed_ms = o.completed_ms,
          outcome_hash = sg_outcome_hash(audit_events.chain_hash, COALESCE(o.status, audit_events.status),
                                         o.bytes_in, o.bytes_out, o.duration_ms, o.completed_ms)
      FROM o WHERE audit_events.id = o.id`,
  );
  return (updates: readonly OutcomeRow[]): void => {
    let from = 0;
    for (const size of chunkSizes(updates.length)) {
      const values: unknown[] = new Array(size * OUTCOME_COLUMNS.length);
      let v = 0;
      for (let i = from; i < from + size; i++) {
        const u = updates[i]!;
        for (const column of OUTCOME_COLUMNS) values[v++] = u[column];
      }
      statement(size).run(values);
      from += size;
    }
  };
}

/** Whether an id comes twice: then the outcomes must be applied one after another (COALESCE sees the first). */
export function repeatsAnId(updates: readonly OutcomeRow[]): boolean {
  return new Set(updates.map((u) => u.id)).size !== updates.length;
}
