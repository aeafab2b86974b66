/**
 * One batch's transaction on PostgreSQL: this node's chain head locked, the rows chained after it and
 * inserted, the head moved, the outcome updates applied with their hashes, all committed together.
 */
import type pg from 'pg';
import { GENESIS_HASH, outcomeHash, rowHash, type ChainHead } from '../chain.js';
import type { EventRow, OutcomeRow } from '../row-mapping.js';
import { insertRows, type PgRow } from './rows.js';

/**
 * BEGIN … COMMIT of `records` on `node`'s chain and `updates`; the caller rolls back on a throw. `trial`:
 * everything but the COMMIT (rolled back instead), to learn whether a batch would go in now.
 */
export async function writeBatch(
  client: pg.ClientBase,
  node: string,
  records: readonly EventRow[],
  updates: readonly OutcomeRow[],
  trial = false,
): Promise<void> {
  await client.query('BEGIN');
  let head = await lockHead(client, node);
  let rows: readonly EventRow[] = records;
  for (;;) {
    const { chained, last } = chain(head, rows);
    const inserted = chained.length > 0 ? await insertRows(client, node, chained) : new Set<string>();
    if (inserted.size === chained.length) {
      if (chained.length > 0)
        await client.query('UPDATE chain_heads SET seq = $2, hash = $3 WHERE node = $1', [
          node,
          last.seq,
          last.hash,
        ]);
      break;
    }
    // A retried id already stored (or twice in this batch): start the batch again without it, so the chain
    // has no hole where the skipped row would have been. Its caller is answered: the row is stored.
    await client.query('ROLLBACK');
    await client.query('BEGIN');
    head = await lockHead(client, node);
    const seen = new Set<string>();
    rows = rows.filter((r) => inserted.has(r.id) && !seen.has(r.id) && seen.add(r.id));
  }
  if (updates.length > 0) await applyOutcomes(client, updates);
  await client.query(trial ? 'ROLLBACK' : 'COMMIT');
}

/**
 * The row a failing node's probe inserts and rolls back: an empty transaction commits even when every
 * insert into audit_events fails (a trigger, a full tablespace, a dropped partition), and the node would say
 * healthy while every request still got 503. Never committed, so never in the record.
 */
export function trialRow(node: string, now: number): EventRow {
  return {
    id: `probe-${node}-${now}`,
    time_ms: now,
    username: null,
    profile: null,
    client_ip: '127.0.0.1',
    device: null,
    method: 'GET',
    scheme: 'http',
    host: 'probe.invalid',
    port: null,
    path: '/',
    categories: '[]',
    action: 'allow',
    rule: null,
    reason: 'probe',
    flagged: 0,
    status: null,
    kind: 'request',
    search_term: null,
    search_engine: null,
    rewrites: null,
    note: null,
    claimed_user: null,
    selftest_run: null,
    site: null,
  };
}

/** This node's head, locked to the end of the transaction: one writer of a chain at a time. */
async function lockHead(client: pg.ClientBase, node: string): Promise<ChainHead> {
  const { rows } = await client.query<{ seq: number; hash: string }>(
    'SELECT seq, hash FROM chain_heads WHERE node = $1 FOR UPDATE',
    [node],
  );
  return rows[0] ?? { seq: 0, hash: GENESIS_HASH };
}

/** The rows with their place in the chain after `head`, and the new head. */
function chain(head: ChainHead, records: readonly EventRow[]): { chained: PgRow[]; last: ChainHead } {
  let last = head;
  const chained = records.map((r): PgRow => {
    const seq = last.seq + 1;
    const chain_hash = rowHash(last.hash, { ...r, seq });
    last = { seq, hash: chain_hash };
    const outcome = {
      status: r.status,
      bytes_in: null,
      bytes_out: null,
      duration_ms: null,
      completed_ms: null,
    };
    return { ...r, ...outcome, seq, chain_hash, outcome_hash: outcomeHash(chain_hash, outcome) };
  });
  return { chained, last };
}

/** Outcome updates with their outcome_hash over the row's chain_hash (as sg_outcome_hash does on SQLite). */
async function applyOutcomes(client: pg.ClientBase, updates: readonly OutcomeRow[]): Promise<void> {
  const { rows } = await client.query<{
    id: string;
    time_ms: number;
    chain_hash: string;
    status: number | null;
  }>('SELECT id, time_ms, chain_hash, status FROM audit_events WHERE id = ANY($1::text[]) FOR UPDATE', [
    updates.map((u) => u.id),
  ]);
  const byId = new Map(rows.map((r) => [r.id, r]));
  // One entry per row (an UPDATE … FROM joins a row to one of its matches only): the last update wins.
  const byRow = new Map<
    string,
    { row: (typeof rows)[number]; u: OutcomeRow; status: number | null; hash: string }
  >();
  for (const u of updates) {
    const row = byId.get(u.id);
    if (!row) continue; // like SQLite's UPDATE of an unknown id: nothing to complete
    const status = u.status ?? row.status;
    const hash = outcomeHash(row.chain_hash, { ...u, status });
    row.status = status; // a second update of the same row in this batch builds on the first
    byRow.set(u.id, { row, u, status, hash });
  }
  const set = [...byRow.values()];
  if (set.length === 0) return;
  await client.query(
    `UPDATE audit_events a SET status = u.status, bytes_in = u.bytes_in, bytes_out = u.bytes_out,
       duration_ms = u.duration_ms, completed_ms = u.completed_ms, outcome_hash = u.outcome_hash
     FROM unnest($1::text[], $2::bigint[], $3::integer[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[])
       AS u(id, time_ms, status, bytes_in, bytes_out, duration_ms, completed_ms, outcome_hash)
     WHERE a.id = u.id AND a.time_ms = u.time_ms`,
    [
      set.map((s) => s.row.id),
      set.map((s) => s.row.time_ms),
      set.map((s) => s.status),
      set.map((s) => s.u.bytes_in),
      set.map((s) => s.u.bytes_out),
      set.map((s) => s.u.duration_ms),
      set.map((s) => s.u.completed_ms),
      set.map((s) => s.hash),
    ],
  );
}
