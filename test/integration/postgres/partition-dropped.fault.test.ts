/**
 * Fault injection on the PostgreSQL audit store: the month partition the node writes into is dropped by
 * SQL (a DBA's mistake, a restore gone wrong) while the node runs. Fail closed: the records of that moment
 * are refused with SG_AUDIT_UNAVAILABLE, none resolved without its row; and since partitions.ts promises
 * "an insert never fails for want of a partition", the node should make the month again by itself.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { monthOf } from '../../../src/audit/postgres/partitions.js';
import { PostgresAuditStore } from '../../../src/audit/postgres/store.js';
import { SchoolgateError } from '../../../src/errors.js';
import { auditEvent } from '../../helpers/audit-event.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

describe.skipIf(!bin)('a month partition dropped under a running node', { timeout: 60_000 }, () => {
  let cluster: PgCluster;
  let store: PostgresAuditStore | null = null;

  beforeAll(async () => {
    cluster = await startPgCluster();
  });

  afterEach(async () => {
    await store?.close().catch(() => undefined);
    store = null;
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  const sql = async (url: string, text: string): Promise<pg.QueryResult> => {
    const c = new pg.Client(url);
    await c.connect();
    try {
      return await c.query(text);
    } finally {
      await c.end();
    }
  };

  /** How a record() settled: its id, and the SG code (with the server's SQLSTATE) if it was refused. */
  const recordOne = async (
    s: PostgresAuditStore,
  ): Promise<{ id: string; code: string | null; pgCode?: unknown }> => {
    const id = randomUUID();
    try {
      await s.record(auditEvent({ id, time: Date.now() }));
      return { id, code: null };
    } catch (err) {
      if (!(err instanceof SchoolgateError)) return { id, code: `raw: ${String(err)}` };
      return { id, code: err.code, pgCode: err.context['pgCode'] };
    }
  };

  /** Drops this month's partition (its rows go with it) and records twice after it. */
  const dropThenRecord = async (url: string) => {
    store = await PostgresAuditStore.open({ connectionString: url, node: 'gate-1' });
    expect((await recordOne(store)).code).toBeNull();
    await sql(url, `DROP TABLE ${monthOf(Date.now()).name}`);
    const first = await recordOne(store);
    const second = await recordOne(store);
    const { rows } = await sql(url, 'SELECT id FROM audit_events');
    const stored = new Set(rows.map((r: { id: string }) => r.id));
    // Whatever else happens: a record that resolved has its row.
    for (const r of [first, second]) if (r.code === null) expect(stored.has(r.id)).toBe(true);
    return { first, second };
  };

  it('refuses the records it cannot store, by code, never resolving one without its row', async () => {
    const { first } = await dropThenRecord(await cluster.createDatabase('dropped_a'));
    // Either made the month again (resolved, row checked above) or refused by code: no raw driver error.
    expect([null, 'SG_AUDIT_UNAVAILABLE']).toContain(first.code);
    // Refused: for the reason injected (no partition for the row), not some other fault of the test.
    if (first.code !== null) expect(first.pgCode).toBe('23514');
  });

  // Was a bug: Partitions.known remembered the month for the life of the process, so once its table was
  // dropped every insert failed with 23514 and the node answered 503 until restarted. A 23514 now makes the
  // store forget the months it made, and the next batch makes its month again.
  it('makes the dropped month again by itself and records without a restart', async () => {
    const { second } = await dropThenRecord(await cluster.createDatabase('dropped_b'));
    expect(second.code).toBeNull();
  });
});
