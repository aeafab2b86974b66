/**
 * Fault injection on the PostgreSQL audit store, server-side: another session holds
 * LOCK TABLE … ACCESS EXCLUSIVE in an open transaction on a table the node writes. Fail closed: every
 * record() settles (refused with SG_AUDIT_UNAVAILABLE, never left waiting behind the lock), the store says
 * it is failing, and once the lock is released the store records again without being reopened. No record
 * that resolved is missing from the table.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PostgresAuditStore } from '../../../src/audit/postgres/store.js';
import { SchoolgateError } from '../../../src/errors.js';
import { auditEvent } from '../../helpers/audit-event.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

/** The store's bound on a query: short, so a test under a lock takes seconds, not the default 10 s. */
const TIMEOUT_MS = 400;

describe.skipIf(!bin)(
  'the PostgreSQL store under a lock held by another session',
  { timeout: 60_000 },
  () => {
    let cluster: PgCluster;
    let holder: pg.Client | null = null;
    let store: PostgresAuditStore | null = null;

    beforeAll(async () => {
      cluster = await startPgCluster();
    });

    afterEach(async () => {
      await holder?.end().catch(() => undefined);
      holder = null;
      await store?.close().catch(() => undefined);
      store = null;
    });

    afterAll(async () => {
      await cluster?.stop();
    });

    /** A session that holds `table` locked until its transaction ends (holder.query('COMMIT')). */
    const lock = async (url: string, table: string): Promise<pg.Client> => {
      const c = new pg.Client(url);
      await c.connect();
      await c.query('BEGIN');
      await c.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
      return c;
    };

    /** How a record() settled: its id, and the SG code if it was refused. */
    const recordOne = async (s: PostgresAuditStore): Promise<{ id: string; code: string | null }> => {
      const id = randomUUID();
      try {
        await s.record(auditEvent({ id, time: Date.now() }));
        return { id, code: null };
      } catch (err) {
        return { id, code: err instanceof SchoolgateError ? err.code : `raw: ${String(err)}` };
      }
    };

    const storedIds = async (url: string): Promise<Set<string>> => {
      const c = new pg.Client(url);
      await c.connect();
      try {
        return new Set((await c.query<{ id: string }>('SELECT id FROM audit_events')).rows.map((r) => r.id));
      } finally {
        await c.end();
      }
    };

    for (const table of ['audit_events', 'chain_heads']) {
      it(`refuses records while ${table} is locked, then records again once it is released`, async () => {
        const url = await cluster.createDatabase(`locked_${table}`);
        store = await PostgresAuditStore.open({
          connectionString: url,
          node: 'gate-1',
          timeoutMs: TIMEOUT_MS,
        });
        const before = await recordOne(store);
        expect(before.code).toBeNull();

        holder = await lock(url, table);
        // Several at once: they share a batch or queue behind it; each must settle, refused by code.
        const during = await Promise.all([0, 1, 2, 3].map(() => recordOne(store!)));
        expect(during.map((d) => d.code)).toEqual(Array(4).fill('SG_AUDIT_UNAVAILABLE'));
        expect(store.healthy).toBe(false);
        expect(store.failure).toMatchObject({ code: 'SG_AUDIT_UNAVAILABLE' });

        await holder.query('COMMIT');
        // Released: the store comes back by itself. The backend the timed-out batch left behind may hold
        // this node's head for a moment after the lock goes, so a refusal or two is allowed, not a hang.
        let after = await recordOne(store);
        for (let tries = 0; after.code !== null && tries < 20; tries++) after = await recordOne(store);
        expect(after.code).toBeNull();
        expect(store.healthy).toBe(true);

        const stored = await storedIds(url);
        expect(stored.has(before.id) && stored.has(after.id)).toBe(true);
      });
    }
  },
);
