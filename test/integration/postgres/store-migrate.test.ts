/**
 * `store migrate --from sqlite --to postgres`: a school's SQLite record, written by the real SQLite store,
 * copied into a private PostgreSQL cluster with its chain intact, verified there; refusals leave nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  migrateSqliteToPostgres,
  STORE_MIGRATE_LOCK,
} from '../../../src/audit/postgres/migrate-from-sqlite.js';
import { PostgresAuditStore } from '../../../src/audit/postgres/store.js';
import { verifyPostgres } from '../../../src/audit/postgres/verify.js';
import { SqliteAuditStore } from '../../../src/audit/sqlite-store.js';
import { auditEvent } from '../../helpers/audit-event.js';
import { runCli } from '../../helpers/cli.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

const ROWS = 3000;

/** A data dir whose audit.sqlite holds `rows` rows over two months, some completed, written by the real store. */
async function schoolDatabase(rows: number, idPrefix = 's'): Promise<{ dir: string; file: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-migrate-'));
  const file = path.join(dir, 'audit.sqlite');
  const store = new SqliteAuditStore({ path: file });
  const start = Date.UTC(2026, 8, 1);
  await Promise.all(
    Array.from({ length: rows }, (_, i) =>
      store.record(
        auditEvent({
          id: `${idPrefix}-${i}`,
          time: start + i * 1_800_000,
          user: `pupil${i % 40}`,
          host: `site${i % 97}.test`,
          action: i % 11 === 0 ? 'block' : 'allow',
          categories: i % 11 === 0 ? ['social'] : [],
          claimedUser: i % 500 === 7 ? 'someone' : null,
        }),
      ),
    ),
  );
  for (let i = 0; i < rows; i += 3)
    store.complete(`${idPrefix}-${i}`, { status: 200, bytesIn: i, bytesOut: 2 * i, durationMs: 3 });
  await store.close();
  return { dir, file };
}

describe.skipIf(!bin)('store migrate from SQLite to PostgreSQL', () => {
  let cluster: PgCluster;
  let school: { dir: string; file: string };
  let admin: pg.Client;

  beforeAll(async () => {
    [cluster, school] = await Promise.all([startPgCluster(), schoolDatabase(ROWS)]);
    admin = new pg.Client(cluster.url);
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await cluster?.stop();
    if (school) rmSync(school.dir, { recursive: true, force: true });
  });

  const nodeRows = async (node: string) =>
    Number((await admin.query('SELECT count(*) AS n FROM audit_events WHERE node = $1', [node])).rows[0].n);

  it('copies every row with its hashes; the chain verifies on PostgreSQL with the SQLite head', async () => {
    const result = await migrateSqliteToPostgres({
      sqlitePath: school.file,
      target: { connectionString: cluster.url },
      node: 'school-a',
      batchRows: 700,
    });
    expect(result.before.ok).toBe(true);
    expect(result).toMatchObject({ node: 'school-a', rows: ROWS, after: { ok: true, rows: ROWS } });
    expect(result.after.head).toEqual(result.before.head);
    expect(result.rowsPerSecond).toBeGreaterThan(0);
    const verified = await verifyPostgres(admin, { node: 'school-a' });
    expect(verified.nodes[0]).toMatchObject({ ok: true, rows: ROWS, head: result.before.head });
    // The same row, column for column, on both engines.
    const sqlite = new Database(school.file, { readonly: true });
    const want = sqlite
      .prepare(`SELECT id, seq, bytes_out, outcome_hash, claimed_user FROM audit_events WHERE id = 's-507'`)
      .get();
    sqlite.close();
    const got = (
      await admin.query(
        `SELECT id, seq::int, bytes_out::int, outcome_hash, claimed_user FROM audit_events WHERE id = 's-507'`,
      )
    ).rows[0];
    expect(got).toEqual(want);
  });

  it('refuses a node the target already holds, and leaves its rows as they were', async () => {
    await expect(
      migrateSqliteToPostgres({
        sqlitePath: school.file,
        target: { connectionString: cluster.url },
        node: 'school-a',
      }),
    ).rejects.toMatchObject({ code: 'SG_STORE_MIGRATE_REFUSED' });
    expect(await nodeRows('school-a')).toBe(ROWS);
  });

  it('refuses the same file migrated again under another node name, and copies nothing', async () => {
    // Before, the driver's duplicate-key error never settled the COPY: the migrate hung in an aborted
    // transaction for ever.
    await expect(
      migrateSqliteToPostgres({
        sqlitePath: school.file,
        target: { connectionString: cluster.url },
        node: 'school-a-again',
      }),
    ).rejects.toMatchObject({
      code: 'SG_STORE_MIGRATE_REFUSED',
      message: expect.stringMatching(/already in PostgreSQL under another node .*s-0/),
    });
    expect(await nodeRows('school-a-again')).toBe(0);
    expect((await admin.query(`SELECT 1 FROM chain_heads WHERE node = 'school-a-again'`)).rows).toHaveLength(
      0,
    );
    expect(await nodeRows('school-a')).toBe(ROWS);
  });

  it('a migrated node keeps appending on its chain from the SQLite head', async () => {
    const store = await PostgresAuditStore.open({ connectionString: cluster.url, node: 'school-a' });
    await store.record(auditEvent({ id: 'after-migrate', time: Date.UTC(2026, 10, 5) }));
    await store.close();
    const verified = await verifyPostgres(admin, { node: 'school-a' });
    expect(verified.nodes[0]).toMatchObject({ ok: true, rows: ROWS + 1, head: { seq: ROWS + 1 } });
  });

  it('copies a second school into months the database already has and new ones, odd characters intact', async () => {
    // From mid-October 2026 (partitions already made by school-a's copy and the store's open) into months
    // no node has written yet: both COPY paths, through the partitioned table and into fresh months.
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-migrate-b-'));
    const file = path.join(dir, 'audit.sqlite');
    const store = new SqliteAuditStore({ path: file });
    const odd = 'tab\there, newline\nthere, CR\r, backslash \\N \\ and é ✓';
    const start = Date.UTC(2026, 9, 15);
    for (let i = 0; i < 600; i++)
      await store.record(
        auditEvent({
          id: `b-${i}`,
          time: start + i * 43_200_000,
          user: i % 2 ? 'pupil\tb' : null,
          host: `b${i % 13}.test`,
          path: i % 50 === 0 ? `/${odd}` : '/',
        }),
      );
    store.complete('b-100', { status: 200, bytesIn: 1, bytesOut: 2, durationMs: 3 });
    await store.close();
    try {
      const result = await migrateSqliteToPostgres({
        sqlitePath: file,
        target: { connectionString: cluster.url },
        node: 'school-b',
        batchRows: 170,
      });
      expect(result).toMatchObject({ rows: 600, after: { ok: true, rows: 600 } });
      expect(result.after.head).toEqual(result.before.head);
      const got = await admin.query(`SELECT path, username FROM audit_events WHERE id = 'b-50'`);
      expect(got.rows[0]).toEqual({ path: `/${odd}`, username: null });
      expect((await admin.query(`SELECT username FROM audit_events WHERE id = 'b-51'`)).rows[0]).toEqual({
        username: 'pupil\tb',
      });
      // The new months are partitions like any other: the reports' indexes are on them.
      const { rows } = await admin.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_indexes WHERE tablename = 'audit_events_2027_03'`,
      );
      const { rows: parent } = await admin.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_indexes WHERE tablename = 'audit_events_2026_10'`,
      );
      expect(Number(rows[0]!.n)).toBe(Number(parent[0]!.n));
      expect((await verifyPostgres(admin)).ok).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('two schools migrated at once into the same new month: the second waits, then both verify', async () => {
    const url = await cluster.createDatabase('together');
    const [north, south] = await Promise.all([schoolDatabase(400, 'n'), schoolDatabase(500, 'so')]);
    // Another migrate holds the database (the test's session): both start and must say they wait.
    const holder = new pg.Client(url);
    await holder.connect();
    await holder.query('SELECT pg_advisory_lock($1)', [STORE_MIGRATE_LOCK]);
    try {
      const waiting: Promise<void>[] = [];
      const migrate = (school: { file: string }, node: string) => {
        let said!: () => void;
        waiting.push(new Promise<void>((resolve) => (said = resolve)));
        return migrateSqliteToPostgres({
          sqlitePath: school.file,
          target: { connectionString: url },
          node,
          onWaiting: said,
        });
      };
      const both = Promise.all([migrate(north, 'north'), migrate(south, 'south')]);
      await Promise.all(waiting);
      // Released: one copies September into a fresh table and attaches it; the other waits for its commit,
      // then finds September a partition and copies through it (before, it failed on the month's name).
      await holder.query('SELECT pg_advisory_unlock($1)', [STORE_MIGRATE_LOCK]);
      const [a, b] = await both;
      expect(a).toMatchObject({ node: 'north', rows: 400, after: { ok: true, rows: 400 } });
      expect(b).toMatchObject({ node: 'south', rows: 500, after: { ok: true, rows: 500 } });
      const verified = await verifyPostgres(holder);
      expect(verified.ok).toBe(true);
      expect(verified.nodes.map((n) => [n.node, n.rows]).sort()).toEqual([
        ['north', 400],
        ['south', 500],
      ]);
      const { rows } = await holder.query<{ n: string }>(
        `SELECT count(*) AS n FROM audit_events_2026_09 WHERE node IN ('north', 'south')`,
      );
      expect(Number(rows[0]!.n)).toBe(900);
    } finally {
      await holder.end();
      for (const s of [north, south]) rmSync(s.dir, { recursive: true, force: true });
    }
  });

  it('gives up with SG_AUDIT_UNAVAILABLE, naming a lock, when another session holds the table', async () => {
    const url = await cluster.createDatabase('locked');
    const locked = await schoolDatabase(50, 'l');
    // A month partition first (the copy's fresh months need no lock), then the table locked by someone else.
    const store = await PostgresAuditStore.open({ connectionString: url, node: 'other' });
    await store.close();
    const holder = new pg.Client(url);
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE chain_heads IN ACCESS EXCLUSIVE MODE');
      await expect(
        migrateSqliteToPostgres({
          sqlitePath: locked.file,
          target: { connectionString: url },
          node: 'locked',
          lockTimeoutMs: 300,
        }),
      ).rejects.toMatchObject({
        code: 'SG_AUDIT_UNAVAILABLE',
        message: expect.stringContaining('nothing was kept'),
        suggestion: expect.stringContaining('another session holds a lock'),
      });
      await holder.query('ROLLBACK');
      expect((await holder.query(`SELECT 1 FROM chain_heads WHERE node = 'locked'`)).rows).toHaveLength(0);
    } finally {
      await holder.end();
      rmSync(locked.dir, { recursive: true, force: true });
    }
  });

  it('refuses a SQLite chain that does not verify, and copies nothing', async () => {
    const broken = await schoolDatabase(200);
    try {
      const db = new Database(broken.file);
      db.prepare(`UPDATE audit_events SET host = 'elsewhere.test' WHERE id = 's-50'`).run();
      db.close();
      await expect(
        migrateSqliteToPostgres({
          sqlitePath: broken.file,
          target: { connectionString: cluster.url },
          node: 'broken',
        }),
      ).rejects.toMatchObject({
        code: 'SG_STORE_MIGRATE_REFUSED',
        message: expect.stringContaining('does not verify'),
      });
      expect(await nodeRows('broken')).toBe(0);
      expect((await admin.query(`SELECT 1 FROM chain_heads WHERE node = 'broken'`)).rows).toHaveLength(0);
    } finally {
      rmSync(broken.dir, { recursive: true, force: true });
    }
  });

  it('the CLI migrates a data dir and prints rows/s', async () => {
    const url = await cluster.createDatabase('cli');
    const args = [
      'store',
      'migrate',
      '--from',
      'sqlite',
      '--to',
      'postgres',
      '--url',
      url,
      '--node',
      'cli-node',
    ];
    const r = await runCli([...args, '--data', school.dir], { cwd: school.dir });
    expect(r.stderr).not.toContain('SG_');
    expect(r.stdout).toMatch(
      new RegExp(`^ok: ${ROWS} rows copied to node cli-node in [\\d.]+ s \\(\\d+ rows/s\\)`),
    );
    expect(r.code).toBe(0);
    const again = await runCli([...args, '--data', school.dir], { cwd: school.dir });
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('SG_STORE_MIGRATE_REFUSED');
  });
});
