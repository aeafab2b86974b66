/**
 * One multi-row INSERT for a batch of chained rows: each column as one array parameter, unnested by the
 * server, so a batch of any size is one statement with a fixed number of parameters (no 65535 limit, one
 * plan). The writer uses it; `store migrate` COPYs the same columns (PG_ROW_COLUMN_NAMES).
 */
import type pg from 'pg';
import type { ChainedEventRow } from '../row-mapping.js';

/** A row with its place in a node's chain and its outcome columns (null until complete()). */
export interface PgRow extends ChainedEventRow {
  bytes_in: number | null;
  bytes_out: number | null;
  duration_ms: number | null;
  completed_ms: number | null;
}

/** Column → the array type it is sent as. The order is the INSERT's, and `store migrate`'s SELECT's. */
export const PG_ROW_COLUMNS = {
  seq: 'bigint',
  id: 'text',
  time_ms: 'bigint',
  username: 'text',
  profile: 'text',
  client_ip: 'text',
  device: 'text',
  method: 'text',
  scheme: 'text',
  host: 'text',
  port: 'integer',
  path: 'text',
  categories: 'text',
  action: 'text',
  rule: 'text',
  reason: 'text',
  flagged: 'smallint',
  status: 'integer',
  bytes_in: 'bigint',
  bytes_out: 'bigint',
  duration_ms: 'bigint',
  completed_ms: 'bigint',
  kind: 'text',
  search_term: 'text',
  search_engine: 'text',
  rewrites: 'text',
  note: 'text',
  claimed_user: 'text',
  selftest_run: 'text',
  site: 'text',
  chain_hash: 'text',
  outcome_hash: 'text',
} as const satisfies Record<keyof PgRow, string>;

const COLUMNS = Object.keys(PG_ROW_COLUMNS) as (keyof PgRow)[];

const INSERT_SQL = `INSERT INTO audit_events (node, ${COLUMNS.join(', ')})
  SELECT $1, * FROM unnest(${COLUMNS.map((c, i) => `$${i + 2}::${PG_ROW_COLUMNS[c]}[]`).join(', ')})
  ON CONFLICT (id, time_ms) DO NOTHING RETURNING id`;

/** Inserts the rows under `node`; returns the ids inserted (a retried id already stored is skipped). */
export async function insertRows(
  client: pg.ClientBase,
  node: string,
  rows: readonly PgRow[],
): Promise<Set<string>> {
  const arrays = COLUMNS.map((c) => rows.map((r) => r[c]));
  const { rows: inserted } = await client.query<{ id: string }>({
    name: 'sg_audit_insert',
    text: INSERT_SQL,
    values: [node, ...arrays],
  });
  return new Set(inserted.map((r) => r.id));
}

export const PG_ROW_COLUMN_NAMES: readonly string[] = COLUMNS;
