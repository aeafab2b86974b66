/**
 * Retention: deletes audit rows older than the retention period, except those held by an open case or a
 * legal hold (holds.ts) — users, and devices or addresses for traffic nobody signed in for.
 *
 * - Walks the chain in seq (insertion) order from the oldest row, in batches of `batchRows` (default 500),
 *   each batch its own short IMMEDIATE transaction, then yields the write lock for at least as long as it
 *   held it, so the proxy's writer (busy_timeout) is never kept waiting for long. Measured on 10M rows on a
 *   busy 2-core VM with 2000-row batches: longest transaction 873 ms, the writer's record() p99 139 ms
 *   (5.7 ms without a purge); hence the smaller default, the yield, and a PASSIVE checkpoint after each
 *   batch (on 1M rows: writer p99 92 ms → 40 ms, p50 3.9 → 1.6 ms while the purge runs). Stops once it meets rows newer than the cutoff (plus a margin for rows
 *   whose decision time is a little out of insertion order).
 * - Records what it deleted as counts per day (school time zone) in purges / purge_days, never the rows.
 * - Re-anchors the hash chain (see chain.ts): for every surviving row whose predecessor it deleted, it stores
 *   the predecessor's hash in chain_gaps, so `audit verify` can tell a purge from a deletion.
 * - Deletes safeguarding alerts (alerts table) whose last request is past the cutoff, except those of a
 *   person with an open case: an alert names a person and what they searched for, so it is kept no longer
 *   than the rows it stands for. One statement: the table holds one row per alert window, not per request.
 */
import { writeCheckpoint } from './checkpoints.js';
import { registerLedgerFunctions } from './ledger.js';
import type Database from 'better-sqlite3';
import { heldSet, isHeld } from './holds.js';
import { READ_HEAD_SQL, parseHead } from './chain.js';

export interface PurgeOptions {
  retentionDays: number;
  timeZone: string;
  osUser: string;
  by?: string | null;
  /** Why this purge runs now (the CLI requires it; the nightly retention run gives its own). */
  reason?: string | null;
  now?: number;
  batchRows?: number;
  pauseMs?: number;
  /** Report progress after each batch. */
  onBatch?: (deletedSoFar: number) => void;
}

export interface PurgeResult {
  purgeId: number;
  cutoffMs: number;
  deleted: number;
  held: number;
  /** YYYY-MM-DD → rows deleted. */
  days: Record<string, number>;
  batches: number;
  /** Longest single transaction, ms (how long the writer could have waited). */
  maxBatchMs: number;
  /** Alerts deleted, and alerts past the cutoff kept because their person has an open case. */
  alertsDeleted: number;
  alertsHeld: number;
}

const DAY_MS = 86_400_000;
/** Rows this much newer than the cutoff end the walk (decision times are a little out of insertion order). */
const ORDER_MARGIN_MS = 10 * 60_000;

export function dayKeyFormatter(timeZone: string): (ms: number) => string {
  const fmt = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  });
  return (ms) => fmt.format(ms);
}

interface PurgeRow {
  seq: number;
  time_ms: number;
  username: string | null;
  device: string | null;
  client_ip: string;
  chain_hash: string;
}

export async function purgeAudit(db: Database.Database, opts: PurgeOptions): Promise<PurgeResult> {
  registerLedgerFunctions(db); // the ledger's triggers record the purge and its gaps
  const now = opts.now ?? Date.now();
  const cutoffMs = now - opts.retentionDays * DAY_MS;
  const batchRows = opts.batchRows ?? 500;
  const pauseMs = opts.pauseMs ?? 20;
  const dayOf = dayKeyFormatter(opts.timeZone);
  const held = heldSet(db);

  const purgeId = Number(
    db
      .prepare(
        `INSERT INTO purges (started_ms, os_user, by_name, retention_days, cutoff_ms, reason)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(now, opts.osUser, opts.by ?? null, opts.retentionDays, cutoffMs, opts.reason ?? null)
      .lastInsertRowid,
  );
  const page = db.prepare<[number, number], PurgeRow>(
    `SELECT seq, time_ms, username, device, client_ip, chain_hash FROM audit_events
     WHERE seq > ? ORDER BY seq LIMIT ?`,
  );
  const del = db.prepare(`DELETE FROM audit_events WHERE seq = ?`);
  const exists = db.prepare(`SELECT 1 FROM audit_events WHERE seq = ?`).pluck();
  const dropGap = db.prepare(`DELETE FROM chain_gaps WHERE seq = ?`);
  const addGap = db.prepare(
    `INSERT OR REPLACE INTO chain_gaps (seq, prev_hash, deleted, purge_id) VALUES (?, ?, ?, ?)`,
  );
  const readHead = db.prepare(READ_HEAD_SQL).pluck();
  const addDay = db.prepare(
    `INSERT INTO purge_days (purge_id, day, deleted) VALUES (?, ?, ?)
     ON CONFLICT (purge_id, day) DO UPDATE SET deleted = deleted + excluded.deleted`,
  );
  const totals = db.prepare(`UPDATE purges SET deleted = ?, held = ?, finished_ms = ? WHERE id = ?`);

  const days: Record<string, number> = {};
  let deleted = 0;
  let heldCount = 0;
  let batches = 0;
  let maxBatchMs = 0;
  let cursor = 0;
  let done = false;

  const batch = db.transaction((): void => {
    const rows = page.all(cursor, batchRows);
    if (rows.length === 0) {
      done = true;
      return;
    }
    const head = parseHead(readHead.get() as string | undefined);
    const gone = new Set<number>();
    const perDay = new Map<string, number>();
    for (const r of rows) {
      cursor = r.seq;
      if (r.time_ms >= cutoffMs + ORDER_MARGIN_MS) {
        done = true;
        break;
      }
      if (r.time_ms >= cutoffMs) continue;
      if (isHeld(held, r)) {
        heldCount++;
        continue;
      }
      del.run(r.seq);
      dropGap.run(r.seq);
      gone.add(r.seq);
      const day = dayOf(r.time_ms);
      perDay.set(day, (perDay.get(day) ?? 0) + 1);
    }
    // Re-anchor: the row after each deleted run (or the next seq to come, after the newest row) keeps the
    // hash of the deleted row just before it.
    let run = 0;
    for (const r of rows) {
      if (!gone.has(r.seq)) continue;
      run++;
      const next = r.seq + 1;
      if (gone.has(next)) continue;
      if (exists.get(next) !== undefined || r.seq === head.seq) addGap.run(next, r.chain_hash, run, purgeId);
      run = 0;
    }
    for (const [day, n] of perDay) {
      addDay.run(purgeId, day, n);
      days[day] = (days[day] ?? 0) + n;
    }
    deleted += gone.size;
    totals.run(deleted, heldCount, null, purgeId);
  });

  while (!done) {
    const started = performance.now();
    batch.immediate();
    const took = performance.now() - started;
    maxBatchMs = Math.max(maxBatchMs, took);
    batches++;
    opts.onBatch?.(deleted);
    // Checkpoint our own WAL pages now (PASSIVE: never waits for, nor blocks, the writer), so the proxy's
    // next commit does not pay for copying them back in its automatic checkpoint.
    db.pragma('wal_checkpoint(PASSIVE)');
    // Yield the write lock at least as long as we held it: the proxy's writer gets half the time or more.
    if (!done && pauseMs > 0) await new Promise((r) => setTimeout(r, Math.max(pauseMs, took)));
  }
  totals.run(deleted, heldCount, Date.now(), purgeId);
  const alerts = purgeAlerts(db, cutoffMs, held.users);
  // Signed at once: the gaps this purge left are then vouched for by the key, not only by the database.
  writeCheckpoint(db, db.name, 'purge', Date.now());
  return {
    purgeId,
    cutoffMs,
    deleted,
    held: heldCount,
    days,
    batches,
    maxBatchMs,
    alertsDeleted: alerts.deleted,
    alertsHeld: alerts.held,
  };
}

/** Alerts whose last request is before the cutoff, except those of a held subject. */
export function purgeAlerts(
  db: Database.Database,
  cutoffMs: number,
  held: ReadonlySet<string>,
): { deleted: number; held: number } {
  const subjects = JSON.stringify([...held]);
  const heldSql = `username IS NOT NULL AND username IN (SELECT value FROM json_each(?))`;
  return db
    .transaction(() => {
      const kept = db
        .prepare(`SELECT count(*) FROM alerts WHERE last_ms < ? AND ${heldSql}`)
        .pluck()
        .get(cutoffMs, subjects) as number;
      const gone = db
        .prepare(`DELETE FROM alerts WHERE last_ms < ? AND NOT (${heldSql})`)
        .run(cutoffMs, subjects).changes;
      return { deleted: gone, held: kept };
    })
    .immediate();
}

export interface PurgeRecord {
  id: number;
  startedMs: number;
  finishedMs: number | null;
  osUser: string;
  by: string | null;
  reason: string | null;
  retentionDays: number;
  cutoffMs: number;
  deleted: number;
  held: number;
}

/** Every purge run, newest first (`audit purges`): who, when, why, how far back, how much. */
export function listPurges(db: Database.Database): PurgeRecord[] {
  return (
    db.prepare(`SELECT * FROM purges ORDER BY id DESC`).all() as {
      id: number;
      started_ms: number;
      finished_ms: number | null;
      os_user: string;
      by_name: string | null;
      reason: string | null;
      retention_days: number;
      cutoff_ms: number;
      deleted: number;
      held: number;
    }[]
  ).map((r) => ({
    id: r.id,
    startedMs: r.started_ms,
    finishedMs: r.finished_ms,
    osUser: r.os_user,
    by: r.by_name,
    reason: r.reason,
    retentionDays: r.retention_days,
    cutoffMs: r.cutoff_ms,
    deleted: r.deleted,
    held: r.held,
  }));
}
