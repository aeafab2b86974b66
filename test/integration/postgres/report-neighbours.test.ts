/**
 * A report's tamper check on PostgreSQL finds each row's chain neighbours even when they were written
 * days away (report-reads.ts looks near the page's times first, then everywhere for what is missing).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgPool } from '../../../src/audit/postgres/connect.js';
import { PgReads } from '../../../src/audit/postgres/report-reads.js';
import { PostgresAuditStore } from '../../../src/audit/postgres/store.js';
import { auditEvent } from '../../helpers/audit-event.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

const DAY = 86_400_000;
const START = Date.UTC(2026, 0, 5);

describe.skipIf(!bin)('report tamper check on PostgreSQL, neighbours far apart in time', () => {
  let cluster: PgCluster;

  beforeAll(async () => {
    cluster = await startPgCluster();
    const store = await PostgresAuditStore.open({ connectionString: cluster.url, node: 'far' });
    // One row every ten days, across months: every neighbour is outside the day around its row.
    for (let i = 0; i < 7; i++)
      await store.record(
        auditEvent({ id: `f-${i}`, time: START + i * 10 * DAY, user: i % 2 ? 'far.user' : 'other' }),
      );
    await store.close();
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('vouches for every row of the person, none unchained', async () => {
    const pool = pgPool({ connectionString: cluster.url });
    try {
      const seen: string[] = [];
      const result = await new PgReads(pool).checkedUserRows(
        { user: 'far.user', fromMs: START, toMs: START + 100 * DAY },
        (r) => void seen.push(r.id),
      );
      expect(seen).toEqual(['f-1', 'f-3', 'f-5']);
      expect(result).toMatchObject({ ok: true, checked: 3, unchained: 0, firstBreak: null });
    } finally {
      await pool.end();
    }
  });
});
