/**
 * The PostgreSQL audit store against a private cluster (test/helpers/pg-cluster.ts): rows committed with
 * their chain, one chain per node, a tampered row named by verify, a stopped database refused.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresAuditStore } from '../../../src/audit/postgres/store.js';
import { verifyPostgres } from '../../../src/audit/postgres/verify.js';
import { auditEvent } from '../../helpers/audit-event.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

const DAY = 86_400_000;
/** Events spread over three months, so rows land in several partitions. */
const events = (prefix: string, n: number, start = Date.UTC(2026, 9, 20)) =>
  Array.from({ length: n }, (_, i) =>
    auditEvent({
      id: `${prefix}-${i}`,
      time: start + i * Math.floor((70 * DAY) / n),
      user: `u${i % 7}`,
      host: `h${i % 13}.test`,
    }),
  );

describe.skipIf(!bin)('PostgresAuditStore on a private cluster', () => {
  let cluster: PgCluster;
  let admin: pg.Client;

  beforeAll(async () => {
    cluster = await startPgCluster();
    admin = new pg.Client(cluster.url);
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await cluster?.stop();
  });

  it('record() of N events gives N rows in monthly partitions, outcomes applied, and the chain verifies', async () => {
    const url = await cluster.createDatabase('records');
    const store = await PostgresAuditStore.open({ connectionString: url, node: 'alpha', batchMaxRows: 100 });
    const list = events('a', 500);
    await Promise.all(list.map((e) => store.record(e)));
    store.complete('a-3', { status: 204, bytesIn: 10, bytesOut: 20, durationMs: 5 });
    store.complete('a-3', { status: null, bytesIn: 11, bytesOut: 21, durationMs: 6 });
    await store.record(auditEvent({ id: 'a-last', time: Date.UTC(2026, 11, 1) }));
    await store.close();
    const db = new pg.Client(url);
    await db.connect();
    try {
      expect(Number((await db.query('SELECT count(*) AS n FROM audit_events')).rows[0].n)).toBe(501);
      const parts = await db.query(
        `SELECT relname FROM pg_class WHERE relname LIKE 'audit_events_2026_%' AND relkind = 'r' ORDER BY 1`,
      );
      expect(parts.rows.map((r) => r.relname)).toEqual(
        expect.arrayContaining(['audit_events_2026_10', 'audit_events_2026_11', 'audit_events_2026_12']),
      );
      const row = (
        await db.query(`SELECT status, bytes_in::int, duration_ms::int FROM audit_events WHERE id = 'a-3'`)
      ).rows[0];
      expect(row).toEqual({ status: 204, bytes_in: 11, duration_ms: 6 });
      const result = await verifyPostgres(db);
      expect(result.nodes).toMatchObject([
        { node: 'alpha', rows: 501, head: { seq: 501 }, firstBreak: null },
      ]);
      expect(result.ok).toBe(true);
    } finally {
      await db.end();
    }
  });

  it('a retried id is stored once and does not leave a hole in the chain', async () => {
    const url = await cluster.createDatabase('retry');
    const store = await PostgresAuditStore.open({ connectionString: url, node: 'alpha' });
    const e = auditEvent({ id: 'same', time: Date.UTC(2026, 10, 2) });
    await store.record(e);
    await Promise.all([
      store.record(e),
      store.record(auditEvent({ id: 'next', time: e.time + 1 })),
      store.record(e),
    ]);
    await store.close();
    const db = new pg.Client(url);
    await db.connect();
    try {
      expect((await db.query('SELECT id, seq::int FROM audit_events ORDER BY seq')).rows).toEqual([
        { id: 'same', seq: 1 },
        { id: 'next', seq: 2 },
      ]);
      expect((await verifyPostgres(db)).ok).toBe(true);
    } finally {
      await db.end();
    }
  });

  it('a row edited in PostgreSQL is named by verify', async () => {
    const store = await PostgresAuditStore.open({ connectionString: cluster.url, node: 'tamper' });
    await Promise.all(events('t', 50).map((e) => store.record(e)));
    await store.close();
    expect((await verifyPostgres(admin, { node: 'tamper' })).ok).toBe(true);
    await admin.query(`UPDATE audit_events SET host = 'innocent.test' WHERE node = 'tamper' AND id = 't-17'`);
    const edited = await verifyPostgres(admin, { node: 'tamper' });
    expect(edited.ok).toBe(false);
    expect(edited.nodes[0]!.firstBreak).toMatchObject({
      seq: 18,
      id: 't-17',
      reason: expect.stringContaining('edited'),
    });
    await admin.query(`DELETE FROM audit_events WHERE node = 'tamper' AND seq = 50`);
    await admin.query(`UPDATE audit_events SET host = 'h4.test' WHERE node = 'tamper' AND id = 't-17'`);
    const deleted = await verifyPostgres(admin, { node: 'tamper' });
    expect(deleted.nodes[0]!.firstBreak).toMatchObject({
      seq: 50,
      reason: expect.stringContaining('missing'),
    });
  });

  it('two nodes appending concurrently keep two chains, and both verify', async () => {
    const url = await cluster.createDatabase('twonodes');
    const [a, b] = await Promise.all([
      PostgresAuditStore.open({ connectionString: url, node: 'node-a', batchMaxRows: 50 }),
      PostgresAuditStore.open({ connectionString: url, node: 'node-b', batchMaxRows: 50 }),
    ]);
    const la = events('na', 400);
    const lb = events('nb', 400);
    // Interleaved, so both nodes' batches are in flight at once.
    await Promise.all(la.flatMap((e, i) => [a.record(e), b.record(lb[i]!)]));
    await Promise.all([a.close(), b.close()]);
    const db = new pg.Client(url);
    await db.connect();
    try {
      const result = await verifyPostgres(db);
      expect(result.ok).toBe(true);
      expect(result.nodes.map((n) => [n.node, n.rows, n.head.seq])).toEqual([
        ['node-a', 400, 400],
        ['node-b', 400, 400],
      ]);
    } finally {
      await db.end();
    }
  });

  it('record() with the cluster stopped rejects with SG_AUDIT_UNAVAILABLE, writes nothing, and recovers', async () => {
    const url = await cluster.createDatabase('outage');
    const errors: unknown[] = [];
    const store = await PostgresAuditStore.open({
      connectionString: url,
      node: 'down',
      timeoutMs: 5000,
      logger: { info: () => undefined, warn: () => undefined, error: (o) => errors.push(o) },
    });
    await store.record(auditEvent({ id: 'before', time: Date.UTC(2026, 10, 3) }));
    await admin.end();
    await cluster.stopServer();
    try {
      const outcomes = await Promise.allSettled(
        ['x1', 'x2', 'x3'].map((id) => store.record(auditEvent({ id, time: Date.UTC(2026, 10, 3, 1) }))),
      );
      for (const o of outcomes) {
        expect(o.status).toBe('rejected');
        expect((o as PromiseRejectedResult).reason).toMatchObject({ code: 'SG_AUDIT_UNAVAILABLE' });
      }
      expect(store.healthy).toBe(false);
      expect(errors).toHaveLength(1);
    } finally {
      await cluster.startServer();
      admin = new pg.Client(cluster.url);
      await admin.connect();
    }
    await store.record(auditEvent({ id: 'after', time: Date.UTC(2026, 10, 3, 2) }));
    expect(store.healthy).toBe(true);
    await store.close();
    const db = new pg.Client(url);
    await db.connect();
    try {
      expect((await db.query('SELECT id FROM audit_events ORDER BY seq')).rows.map((r) => r.id)).toEqual([
        'before',
        'after',
      ]);
      expect((await verifyPostgres(db)).ok).toBe(true);
    } finally {
      await db.end();
    }
  });
});
