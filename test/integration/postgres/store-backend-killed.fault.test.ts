/**
 * Fault injection on the PostgreSQL audit store: an administrator kills the node's connections
 * (pg_terminate_backend) again and again while four writers record. Fail closed: every record() settles,
 * resolved or refused with SG_AUDIT_UNAVAILABLE; none resolves without its row; the chain verifies; once the
 * killing stops the store records again without being reopened.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgPool } from '../../../src/audit/postgres/connect.js';
import { PostgresAuditStore } from '../../../src/audit/postgres/store.js';
import { verifyPostgres } from '../../../src/audit/postgres/verify.js';
import { SchoolgateError } from '../../../src/errors.js';
import { auditEvent } from '../../helpers/audit-event.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

const NODE = 'gate-1';
/** Rounds of killing; each waits for at least one record to settle, so the writers are mid-flight. */
const KILLS = 25;

describe.skipIf(!bin)('the PostgreSQL store while its connections are killed', { timeout: 90_000 }, () => {
  let cluster: PgCluster;
  let url: string;
  let store: PostgresAuditStore;

  beforeAll(async () => {
    cluster = await startPgCluster();
    url = await cluster.createDatabase('killed');
    store = await PostgresAuditStore.open({ connectionString: url, node: NODE, timeoutMs: 5_000 });
  });

  afterAll(async () => {
    await store?.close().catch(() => undefined);
    await cluster?.stop();
  });

  it('settles every record, refused by code or stored, and records again once the killing stops', async () => {
    const settled: { id: string; code: string | null }[] = [];
    let onSettled: (() => void) | null = null;
    const recordOne = async () => {
      const id = randomUUID();
      let code: string | null = null;
      try {
        await store.record(auditEvent({ id, time: Date.now() }));
      } catch (err) {
        code = err instanceof SchoolgateError ? err.code : `raw: ${String(err)}`;
      }
      settled.push({ id, code });
      onSettled?.();
      return code;
    };
    let running = true;
    const writers = [0, 1, 2, 3].map(async () => {
      while (running) await recordOne();
    });

    const admin = new pg.Client(url);
    await admin.connect();
    let killed = 0;
    try {
      for (let round = 0; round < KILLS; round++) {
        // Wait for the writers to move (an event), then kill every connection of the node's pool.
        await new Promise<void>((resolve) => (onSettled = resolve));
        const { rows } = await admin.query(
          `SELECT pg_terminate_backend(pid) AS gone FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
        );
        killed += rows.filter((r: { gone: boolean }) => r.gone).length;
      }
    } finally {
      onSettled = null;
      running = false;
      await Promise.all(writers);
    }
    expect(killed).toBeGreaterThan(0);

    const codes = new Set(settled.map((s) => s.code));
    expect(
      [...codes].every((c) => c === null || c === 'SG_AUDIT_UNAVAILABLE'),
      [...codes].join(),
    ).toBe(true);
    expect(settled.some((s) => s.code === 'SG_AUDIT_UNAVAILABLE')).toBe(true);

    // Left alone: the next record is stored (a refusal or two while the pool replaces dead connections).
    let after = await recordOne();
    for (let tries = 0; after !== null && tries < 10; tries++) after = await recordOne();
    expect(after).toBeNull();
    expect(store.healthy).toBe(true);

    const { rows } = await admin.query('SELECT id FROM audit_events');
    await admin.end();
    const stored = new Set(rows.map((r: { id: string }) => r.id));
    expect(settled.filter((s) => s.code === null && !stored.has(s.id))).toEqual([]);
    const pool = pgPool({ connectionString: url });
    try {
      const v = await verifyPostgres(pool, { checkpoints: false });
      expect(v.nodes.map((r) => ({ node: r.node, ok: r.ok }))).toEqual([{ node: NODE, ok: true }]);
    } finally {
      await pool.end();
    }
  });
});
