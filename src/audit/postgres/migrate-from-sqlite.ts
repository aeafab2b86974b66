/**
 * `schoolgate store migrate --from sqlite --to postgres`: one school's audit rows copied into the shared
 * PostgreSQL as one node's chain, each row with the seq, chain_hash and outcome_hash it was written with,
 * so the chain verifies there exactly as it did on SQLite (the node name is not in the hash). The purge
 * anchors (chain_gaps) come along, so a purged history still verifies.
 *
 * Refuses a SQLite chain that does not verify and a target that already has the node; copies in one
 * transaction, verifies the copy inside it and commits only if it verifies: a failed migrate leaves nothing
 * behind. Fast path: a month the database has no partition for yet is filled by COPY as a plain table with
 * no indexes and attached at the end, which builds its indexes in one sort each (index-by-index inserts
 * made a 10 M-row school take half an hour); a month that already exists (other nodes' rows) is COPYed
 * through the partitioned table. One migrate at a time copies into a database; a second waits for it.
 */
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { SchoolgateError } from '../../errors.js';
import { verifyChain, type VerifyResult } from '../chain.js';
import { SCHEMA_VERSION } from '../migrations.js';
import { openForCheck } from '../verify-all.js';
import { pgPool, type PgConnectOptions } from './connect.js';
import { copyRows } from './copy-in.js';
import { monthOf } from './partitions.js';
import { PG_ROW_COLUMN_NAMES } from './rows.js';
import { migratePg } from './schema.js';
import { isPgFault, pgUnavailable } from './unavailable.js';
import { verifyPostgres } from './verify.js';

export interface MigrateOptions {
  sqlitePath: string;
  target: PgConnectOptions;
  node: string;
  /** Rows read from SQLite and sent per COPY. Default 50000. */
  batchRows?: number;
  onProgress?: (copied: number, total: number) => void;
  /** Called once if another migrate into this database is copying: this one waits for it to commit. */
  onWaiting?: () => void;
  /**
   * How long a table lock held by another session (a purge dropping a month, someone's LOCK TABLE) may hold
   * the copy up before it gives up with SG_AUDIT_UNAVAILABLE. Default 60 000 ms; each statement may take
   * up to 10 minutes otherwise, which looks like a hang.
   */
  lockTimeoutMs?: number;
}

export interface MigrateResult {
  node: string;
  rows: number;
  gaps: number;
  /** The copy alone (reading SQLite, COPY, building the new months' indexes), without the two verifies. */
  copySeconds: number;
  rowsPerSecond: number;
  before: VerifyResult;
  after: VerifyResult;
}

const refused = (message: string, context: Record<string, unknown>, suggestion: string) =>
  new SchoolgateError('SG_STORE_MIGRATE_REFUSED', message, { context, suggestion });

export async function migrateSqliteToPostgres(opts: MigrateOptions): Promise<MigrateResult> {
  const db = openForCheck(opts.sqlitePath);
  try {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version !== SCHEMA_VERSION)
      throw refused(
        `The audit database ${opts.sqlitePath} has schema version ${version}, not ${SCHEMA_VERSION}.`,
        { path: opts.sqlitePath, version },
        'start this schoolgate version on it once (serve migrates it), stop it, then migrate',
      );
    const before = verifyChain(db);
    if (!before.ok)
      throw refused(
        `The SQLite audit chain does not verify (${before.firstBreak?.reason ?? 'broken'}); it is not copied.`,
        { path: opts.sqlitePath, ...before.firstBreak },
        'run `schoolgate audit verify`, keep the evidence and resolve the break before migrating',
      );
    return await copy(db, opts, before);
  } catch (err) {
    // A connection cut or a server fault part-way: the copy is one transaction, so nothing is kept.
    throw isPgFault(err)
      ? pgUnavailable(
          err,
          `store migrate of node ${opts.node} stopped and nothing was kept (the copy is one transaction); run it again`,
        )
      : err;
  } finally {
    db.close();
  }
}

async function copy(
  db: Database.Database,
  opts: MigrateOptions,
  before: VerifyResult,
): Promise<MigrateResult> {
  const pool = pgPool({ ...opts.target, max: 1, timeoutMs: 600_000 });
  const client = await pool.connect();
  const { node } = opts;
  try {
    await migratePg(client);
    const span = db.prepare('SELECT min(time_ms) AS lo, max(time_ms) AS hi FROM audit_events').get() as {
      lo: number | null;
      hi: number | null;
    };
    const batch = opts.batchRows ?? 50_000;
    const page = db
      .prepare(
        `SELECT ${PG_ROW_COLUMN_NAMES.join(', ')} FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
      )
      .raw();
    await client.query('BEGIN');
    try {
      await oneMigrateAtATime(client, opts.onWaiting);
      // After the wait for another migrate, which may rightly be long: a lock held elsewhere is said soon.
      await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(opts.lockTimeoutMs ?? 60_000))}`);
      const started = performance.now();
      const taken = await client.query(
        `SELECT 1 FROM chain_heads WHERE node = $1 UNION ALL (SELECT 1 FROM audit_events WHERE node = $1 LIMIT 1)`,
        [node],
      );
      if (taken.rows.length > 0)
        throw refused(
          `The PostgreSQL audit store already holds rows or a chain for node ${node}.`,
          { node },
          'give another --node, or migrate into a database without this node',
        );
      await client.query('INSERT INTO chain_heads (node, seq, hash) VALUES ($1, $2, $3)', [
        node,
        before.head.seq,
        before.head.hash,
      ]);
      // Index builds after the load sort in memory; the server default (64 MB) spills a month to disk.
      await client.query(`SET LOCAL maintenance_work_mem = '256MB'`);
      const fresh = span.lo !== null && span.hi !== null ? await newMonths(client, span.lo, span.hi) : [];
      const freshNames = new Set(fresh.map((m) => m.name));
      let copied = 0;
      let from = 0;
      for (;;) {
        const rows = page.all(from, before.head.seq, batch) as unknown[][];
        if (rows.length === 0) break;
        for (const [table, group] of byTable(rows, freshNames))
          await copyRows(
            client,
            table,
            COPY_COLUMNS,
            group.map((r) => [node, ...r]),
          );
        copied += rows.length;
        from = rows[rows.length - 1]![SEQ] as number;
        opts.onProgress?.(copied, before.rows);
      }
      for (const m of fresh)
        await client.query(
          `ALTER TABLE audit_events ATTACH PARTITION ${m.name} FOR VALUES FROM (${m.from}) TO (${m.to})`,
        );
      // Fresh partitions have no statistics yet: the verify below and the first reports plan from these.
      for (const m of fresh) await client.query(`ANALYZE ${m.name}`);
      const gaps = db.prepare('SELECT seq, prev_hash, deleted, purge_id FROM chain_gaps').all() as {
        seq: number;
        prev_hash: string;
        deleted: number;
        purge_id: number;
      }[];
      if (gaps.length > 0)
        await client.query(
          `INSERT INTO chain_gaps (node, seq, prev_hash, deleted, purge_id)
           SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::bigint[])`,
          [
            node,
            gaps.map((g) => g.seq),
            gaps.map((g) => g.prev_hash),
            gaps.map((g) => g.deleted),
            gaps.map((g) => g.purge_id),
          ],
        );
      const copySeconds = (performance.now() - started) / 1000;
      const verified = await verifyPostgres(client, { node });
      const after = verified.nodes[0];
      if (!after?.ok || after.rows !== before.rows || after.head.hash !== before.head.hash)
        throw refused(
          `The copy of node ${node} does not verify on PostgreSQL (${after?.firstBreak?.reason ?? 'rows differ'}); nothing was kept.`,
          { node, copied, expected: before.rows, ...after?.firstBreak },
          'this is a bug; keep the SQLite file and report it with this message',
        );
      await client.query('COMMIT');
      return {
        node,
        rows: copied,
        gaps: gaps.length,
        copySeconds,
        rowsPerSecond: Math.round(copied / copySeconds),
        before,
        after,
      };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw alreadyCopied(err, node) ?? err;
    }
  } finally {
    client.release();
    await pool.end();
  }
}

/**
 * The same school's file migrated again under another node name: its event ids (unique with their time)
 * are already in the database. Said as a refusal rather than the driver's duplicate-key error.
 */
function alreadyCopied(err: unknown, node: string): SchoolgateError | null {
  const e = err as { code?: string; constraint?: string; detail?: string };
  if (e.code !== '23505' || !e.constraint?.includes('id_time_ms')) return null;
  return refused(
    `Rows of this audit database are already in PostgreSQL under another node (${e.detail ?? 'a duplicate event id'}); nothing was copied for node ${node}.`,
    { node, constraint: e.constraint },
    "each school's file is migrated once; check `schoolgate status` for the node that holds it",
  );
}

/** Any number: the advisory lock that lets one store migrate at a time copy into a database. */
export const STORE_MIGRATE_LOCK = 0x5c6a7e18;

/**
 * Two migrates at once (a trust moving its schools) would both make the same new month as a plain table, and
 * the second would fail on the first's name once it commits; one at a time, the second finds the month as a
 * partition and copies through it. The lock is the transaction's, so a migrate that dies frees it.
 */
async function oneMigrateAtATime(client: pg.ClientBase, onWaiting?: () => void): Promise<void> {
  const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [
    STORE_MIGRATE_LOCK,
  ]);
  if (rows[0]!.ok) return;
  onWaiting?.();
  await client.query('SELECT pg_advisory_xact_lock($1)', [STORE_MIGRATE_LOCK]);
}

const COPY_COLUMNS = ['node', ...PG_ROW_COLUMN_NAMES];
const SEQ = PG_ROW_COLUMN_NAMES.indexOf('seq');
const TIME = PG_ROW_COLUMN_NAMES.indexOf('time_ms');

/**
 * Every month from `fromMs` to `toMs` that has no partition yet, each made as a plain table of the
 * partition's name and columns, without indexes (the attach at the end adds them).
 */
async function newMonths(client: pg.ClientBase, fromMs: number, toMs: number) {
  const { rows } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'audit_events'::regclass`,
  );
  const existing = new Set(rows.map((r) => r.name));
  const fresh: ReturnType<typeof monthOf>[] = [];
  for (let t = monthOf(fromMs).from; t <= toMs; t = monthOf(t).to) {
    const m = monthOf(t);
    if (existing.has(m.name)) continue;
    await client.query(`CREATE TABLE ${m.name} (LIKE audit_events INCLUDING DEFAULTS)`);
    fresh.push(m);
  }
  return fresh;
}

/** A batch's rows by the table they are copied into: their fresh month's table, else the partitioned one. */
function byTable(rows: unknown[][], fresh: ReadonlySet<string>): Map<string, unknown[][]> {
  const out = new Map<string, unknown[][]>();
  for (const r of rows) {
    const month = monthOf(r[TIME] as number).name;
    const table = fresh.has(month) ? month : 'audit_events';
    let group = out.get(table);
    if (!group) out.set(table, (group = []));
    group.push(r);
  }
  return out;
}
