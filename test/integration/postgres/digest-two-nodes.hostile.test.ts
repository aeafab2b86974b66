/**
 * An attacker's (well, an unlucky operator's) tests of digests across two nodes over one PostgreSQL
 * (digest_claims, issue 18): both nodes started at the same instant — each time into a fresh database with
 * a weekly digest missed (the start-up catch-up), or exactly at the digest's time — send exactly one mail
 * (loopback SMTP), one claim marked sent and one send recorded in report_access.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDigests } from '../../../src/alerts/digest/index.js';
import { nextRunAt } from '../../../src/alerts/digest/schedule.js';
import { PostgresAuditStore } from '../../../src/audit/postgres/store.js';
import type { ReadonlyConfig } from '../../../src/config/load.js';
import { auditEvent } from '../../helpers/audit-event.js';
import type { SmtpReceiver } from '../../helpers/alert-receivers.js';
import { digestDayAfterTomorrow } from '../../helpers/alert-setup.js';
import { DIGEST_ZONE, digestOutcome, nodeDigests, weeklyDigestToRelay } from '../../helpers/digest-nodes.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';
import { migratedPool } from '../../helpers/pg-migrated.js';
import { TestClock } from '../../helpers/test-clock.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

const PASS = 'relay-pw-hostile-nodes-3k';
const DAY = 86_400_000;

describe.skipIf(!bin)('digests when two nodes start at the same instant', { timeout: 60_000 }, () => {
  let cluster: PgCluster;
  let smtp: SmtpReceiver;
  let config: ReadonlyConfig;
  let made = 0;
  const day = digestDayAfterTomorrow(DIGEST_ZONE);
  const dueAt = nextRunAt(new Date(), { kind: 'weekly', day, time: '07:30' }, DIGEST_ZONE).getTime();

  beforeAll(async () => {
    cluster = await startPgCluster();
    ({ smtp, config } = await weeklyDigestToRelay(day, PASS));
  });
  afterAll(async () => {
    await smtp?.close();
    await cluster?.stop();
  });

  /** A fresh database in service since a day before the digest's time. */
  async function database(): Promise<string> {
    const url = await cluster.createDatabase(`digests${++made}`);
    await (await migratedPool(url)).end();
    const store = await PostgresAuditStore.open({ connectionString: url, node: 'gate-a' });
    await store.record(auditEvent({ id: 'first', time: dueAt - DAY, user: 'pupil1' }));
    await store.close();
    return url;
  }

  const cases: [string, number][] = [];
  for (let round = 1; round <= 4; round++) cases.push([`a digest missed, round ${round}`, dueAt + 60_000]);
  for (let round = 1; round <= 2; round++) cases.push([`exactly at its time, round ${round}`, dueAt]);

  it.each(cases)('exactly one mail: %s', async (_what, startAt) => {
    const url = await database();
    const mailsBefore = smtp.received.length;
    const clock = new TestClock(startAt);
    // Both started in the same tick, before either has read anything.
    const nodes: RunningDigests[] = ['gate-a', 'gate-b'].map((node) => nodeDigests(config, url, node, clock));
    const done = nodes.map((n) => digestOutcome(n.scheduler!));
    try {
      await Promise.all(nodes.map((n) => n.scheduler!.ready));
      // At its time exactly, a node may arm the digest rather than catch it up: fire what is due now.
      clock.advanceTo(startAt);
      expect((await Promise.all(done)).sort()).toEqual(['elsewhere', 'sent']);
      await smtp.waitFor(mailsBefore + 1);
      const admin = new pg.Client(url);
      await admin.connect();
      try {
        const claims = await admin.query('SELECT node, sent_ms IS NOT NULL AS sent FROM digest_claims');
        expect(claims.rows).toEqual([{ node: expect.stringMatching(/^gate-[ab]$/), sent: true }]);
        const access = await admin.query(
          `SELECT count(*)::int AS n FROM report_access WHERE command = 'digest weekly'`,
        );
        expect(access.rows[0].n).toBe(1);
      } finally {
        await admin.end();
      }
    } finally {
      for (const n of nodes) await n.stop();
    }
    // The node that stood aside sent nothing, so the count after both settled is the one mail.
    expect(smtp.received.length - mailsBefore).toBe(1);
  });
});
