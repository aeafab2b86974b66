/**
 * Retention on PostgreSQL (purge.ts is SQLite's): rows older than the retention go, except those of open
 * cases' subjects and standing holds, and the chain of every node stays verifiable.
 *
 * Month by month (partitions.ts), oldest first, each month one transaction:
 * - a month wholly before the cutoff with no held row is DETACHed and DROPped: no row-by-row delete, no
 *   dead tuples, no vacuum;
 * - a month with a held row, or the month the cutoff falls in, keeps its partition and loses its expired
 *   unheld rows by one DELETE. Keeping the partition (rather than moving the held rows elsewhere) leaves
 *   every row where its chain and its month put it; such months are rare (a hold is on a few people).
 * Before either, the purged rows' runs (consecutive seqs of one node) are worked out in SQL and the row after
 * each run gets its anchor in chain_gaps (the deleted row's hash), as on SQLite, so `audit verify` tells a
 * purge from a deletion; counts per day (school time zone) go to purge_days. Writers are not held up: they
 * insert into this month's partition, and DETACH waits only for their short transactions.
 *
 * One purge at a time across nodes (an advisory lock): a second returns null (busy) at once.
 */
import type pg from 'pg';
import type { SigningKey } from '../checkpoints.js';
import type { HeldSet } from '../holds.js';
import type { PurgeOptions, PurgeRecord, PurgeResult } from '../purge.js';
import { BIGINT_AS_NUMBER, type Queryable } from './connect.js';
import { writePgCheckpoint } from './checkpoints.js';
import { pgHeldSet } from './holds.js';
import { inPgTransaction } from './transaction.js';

export interface PgPurgeOptions extends Omit<PurgeOptions, 'batchRows' | 'pauseMs' | 'onBatch'> {
  /** Sign this node's head after the purge (its anchors then vouched for by the key), as SQLite does. */
  signAs?: { node: string; key: SigningKey };
  onMonth?: (partition: string, how: 'dropped' | 'deleted') => void;
}

export interface PgPurgeResult extends PurgeResult {
  /** Partitions dropped whole (months with no held row). */
  dropped: string[];
}

const DAY_MS = 86_400_000;
const PURGE_LOCK = 0x5c6a7e02;
const PARTITION_NAME = /^audit_events_\d{4}_\d{2}$/;

/** A row is held: its user's, or (nobody signed in) its device's or address's — holds.ts isHeld in SQL. */
const HELD_SQL = `COALESCE(CASE WHEN username IS NOT NULL THEN username = ANY($1::text[])
  ELSE (device IS NOT NULL AND device = ANY($2::text[])) OR client_ip = ANY($3::text[]) END, false)`;

interface MonthPartition {
  name: string;
  from: number;
  to: number;
}

/** audit_events' partitions with their bounds, oldest first. */
export async function listPartitions(db: pg.ClientBase): Promise<MonthPartition[]> {
  const { rows } = await db.query<{ name: string; bound: string }>(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'audit_events'::regclass`,
  );
  const months: MonthPartition[] = [];
  for (const r of rows) {
    const m = /FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)/.exec(r.bound);
    if (m && PARTITION_NAME.test(r.name)) months.push({ name: r.name, from: Number(m[1]), to: Number(m[2]) });
  }
  return months.sort((a, b) => a.from - b.from);
}

/** Runs the purge on one client it holds throughout; null when another purge holds the lock. */
export async function purgePostgres(
  client: pg.ClientBase,
  opts: PgPurgeOptions,
): Promise<PgPurgeResult | null> {
  const { rows: locked } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [
    PURGE_LOCK,
  ]);
  if (!locked[0]?.ok) return null;
  try {
    return await purgeLocked(client, opts);
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [PURGE_LOCK]);
  }
}

async function purgeLocked(client: pg.ClientBase, opts: PgPurgeOptions): Promise<PgPurgeResult> {
  const now = opts.now ?? Date.now();
  const cutoffMs = now - opts.retentionDays * DAY_MS;
  const held = await pgHeldSet(client);
  const heldParams = [[...held.users], [...held.devices], [...held.addresses]];
  const { rows: made } = await client.query<{ id: number }>(
    `INSERT INTO purges (started_ms, os_user, by_name, retention_days, cutoff_ms, reason)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
    [now, opts.osUser, opts.by ?? null, opts.retentionDays, cutoffMs, opts.reason ?? null],
  );
  const purgeId = Number(made[0]!.id);
  const result: PgPurgeResult = {
    purgeId,
    cutoffMs,
    deleted: 0,
    held: 0,
    days: {},
    batches: 0,
    maxBatchMs: 0,
    alertsDeleted: 0,
    alertsHeld: 0,
    dropped: [],
  };
  for (const month of await listPartitions(client)) {
    if (month.from >= cutoffMs) break;
    const started = performance.now();
    await inPgTransaction(client, async () => {
      const { rows } = await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${month.name} WHERE time_ms < $4 AND ${HELD_SQL}`,
        [...heldParams, cutoffMs],
      );
      const heldHere = Number(rows[0]!.n);
      result.held += heldHere;
      const whole = month.to <= cutoffMs && heldHere === 0;
      if (whole) {
        await anchorAndCount(client, month.name, purgeId, opts.timeZone, result);
        await client.query(`ALTER TABLE audit_events DETACH PARTITION ${month.name}`);
        await client.query(`DROP TABLE ${month.name}`);
        result.dropped.push(month.name);
      } else {
        await client.query(
          'CREATE TEMP TABLE purged (node text, seq bigint, chain_hash text, time_ms bigint) ON COMMIT DROP',
        );
        await client.query(
          `WITH gone AS (DELETE FROM ${month.name} WHERE time_ms < $4 AND NOT ${HELD_SQL}
                         RETURNING node, seq, chain_hash, time_ms)
           INSERT INTO purged SELECT * FROM gone`,
          [...heldParams, cutoffMs],
        );
        await anchorAndCount(client, 'purged', purgeId, opts.timeZone, result);
      }
      await client.query('UPDATE purges SET deleted = $1, held = $2, dropped = $3 WHERE id = $4', [
        result.deleted,
        result.held,
        JSON.stringify(result.dropped),
        purgeId,
      ]);
      opts.onMonth?.(month.name, whole ? 'dropped' : 'deleted');
    });
    result.batches++;
    result.maxBatchMs = Math.max(result.maxBatchMs, performance.now() - started);
  }
  const alerts = await purgePgAlerts(client, cutoffMs, held);
  result.alertsDeleted = alerts.deleted;
  result.alertsHeld = alerts.held;
  await client.query('UPDATE purges SET finished_ms = $1 WHERE id = $2', [Date.now(), purgeId]);
  if (opts.signAs) await writePgCheckpoint(client, opts.signAs.node, opts.signAs.key, 'purge');
  return result;
}

/**
 * The purged rows in `source` (a partition about to go, or the rows just deleted): the anchors after each
 * run of consecutive seqs of a node, gaps at purged rows dropped, and counts per day.
 */
async function anchorAndCount(
  client: pg.ClientBase,
  source: string,
  purgeId: number,
  timeZone: string,
  result: PgPurgeResult,
): Promise<void> {
  await client.query(`DELETE FROM chain_gaps g USING ${source} p WHERE g.node = p.node AND g.seq = p.seq`);
  // Gaps and islands: seq - row_number() is constant along a run. The row after a run gets the anchor when
  // it exists, or when the run ends at the head (the next row the node writes links from it).
  await client.query(
    `WITH runs AS (
       SELECT node, max(seq) AS last, count(*) AS n, (array_agg(chain_hash ORDER BY seq DESC))[1] AS hash
       FROM (SELECT node, seq, chain_hash, seq - row_number() OVER (PARTITION BY node ORDER BY seq) AS grp
             FROM ${source}) r
       GROUP BY node, grp)
     INSERT INTO chain_gaps (node, seq, prev_hash, deleted, purge_id)
     SELECT node, last + 1, hash, n, $1 FROM runs
     WHERE EXISTS (SELECT 1 FROM audit_events e WHERE e.node = runs.node AND e.seq = runs.last + 1)
        OR EXISTS (SELECT 1 FROM chain_heads h WHERE h.node = runs.node AND h.seq = runs.last)
     ON CONFLICT (node, seq) DO UPDATE
       SET prev_hash = excluded.prev_hash, deleted = excluded.deleted, purge_id = excluded.purge_id`,
    [purgeId],
  );
  const { rows } = await client.query<{ day: string; n: string }>(
    `SELECT to_char(to_timestamp(time_ms / 1000.0) AT TIME ZONE $1, 'YYYY-MM-DD') AS day, count(*) AS n
     FROM ${source} GROUP BY 1`,
    [timeZone],
  );
  for (const r of rows) {
    const n = Number(r.n);
    await client.query(
      `INSERT INTO purge_days (purge_id, day, deleted) VALUES ($1, $2, $3)
       ON CONFLICT (purge_id, day) DO UPDATE SET deleted = purge_days.deleted + excluded.deleted`,
      [purgeId, r.day, n],
    );
    result.days[r.day] = (result.days[r.day] ?? 0) + n;
    result.deleted += n;
  }
}

/** Alerts whose last request is before the cutoff, except a held user's (purge.ts purgeAlerts). */
async function purgePgAlerts(
  client: pg.ClientBase,
  cutoffMs: number,
  held: HeldSet,
): Promise<{ deleted: number; held: number }> {
  const users = [...held.users];
  const heldSql = `username IS NOT NULL AND username = ANY($2::text[])`;
  return inPgTransaction(client, async () => {
    const { rows } = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM alerts WHERE last_ms < $1 AND ${heldSql}`,
      [cutoffMs, users],
    );
    const gone = await client.query(`DELETE FROM alerts WHERE last_ms < $1 AND NOT (${heldSql})`, [
      cutoffMs,
      users,
    ]);
    return { deleted: gone.rowCount ?? 0, held: Number(rows[0]!.n) };
  });
}

/** Every purge run, newest first (`audit purges`), as listPurges (purge.ts) gives them. */
export async function listPgPurges(db: Queryable): Promise<PurgeRecord[]> {
  const { rows } = await db.query<Record<string, unknown>>({
    text: 'SELECT * FROM purges ORDER BY id DESC',
    types: BIGINT_AS_NUMBER,
  });
  return rows.map((r) => ({
    id: r['id'] as number,
    startedMs: r['started_ms'] as number,
    finishedMs: r['finished_ms'] as number | null,
    osUser: r['os_user'] as string,
    by: r['by_name'] as string | null,
    reason: r['reason'] as string | null,
    retentionDays: r['retention_days'] as number,
    cutoffMs: r['cutoff_ms'] as number,
    deleted: r['deleted'] as number,
    held: r['held'] as number,
  }));
}
