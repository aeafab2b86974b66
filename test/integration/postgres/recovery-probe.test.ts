/**
 * A serving node (heartbeatMs set) that failed while PostgreSQL was down is writable again as soon as the
 * database is back, without a request: a load balancer that took it out on /healthz brings it back.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresAuditStore } from '../../../src/audit/postgres/store.js';
import { auditEvent } from '../../helpers/audit-event.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

describe.skipIf(!bin)('PostgresAuditStore recovery without requests', () => {
  let cluster: PgCluster;
  beforeAll(async () => {
    cluster = await startPgCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('turns healthy again by its heartbeat once the database is back, and sends the kept outcomes', async () => {
    const url = await cluster.createDatabase('probe');
    let writable: () => void = () => undefined;
    const writableAgain = new Promise<void>((resolve) => (writable = resolve));
    const store = await PostgresAuditStore.open({
      connectionString: url,
      node: 'probe-node',
      heartbeatMs: 20,
      logger: {
        info: (_o, msg) => (String(msg).includes('writable again') ? writable() : undefined),
        warn: () => undefined,
        error: () => undefined,
      },
    });
    try {
      await store.record(auditEvent({ id: 'before', time: Date.UTC(2026, 11, 3) }));
      await cluster.stopServer();
      try {
        store.complete('before', { status: 200, bytesIn: 1, bytesOut: 2, durationMs: 3 });
        await expect(
          store.record(auditEvent({ id: 'refused', time: Date.UTC(2026, 11, 3, 1) })),
        ).rejects.toMatchObject({ code: 'SG_AUDIT_UNAVAILABLE' });
        expect(store.healthy).toBe(false);
        expect(store.failure).toMatchObject({ code: 'SG_AUDIT_UNAVAILABLE' });
      } finally {
        await cluster.startServer();
      }
      await writableAgain;
      expect(store.healthy).toBe(true);
      expect(store.failure).toBeNull();
    } finally {
      await store.close(); // commits what is still queued
    }
    const db = new pg.Client(url);
    await db.connect();
    try {
      const { rows } = await db.query('SELECT id, status, bytes_out::int FROM audit_events ORDER BY seq');
      expect(rows).toEqual([{ id: 'before', status: 200, bytes_out: 2 }]);
    } finally {
      await db.end();
    }
  });
});
