/**
 * An attacker's (well, an unlucky operator's) tests of digests across two nodes over one PostgreSQL
 * (digest_claims, issue 18): both nodes started at the same instant — each time into a fresh database with
 * a weekly digest missed (the start-up catch-up), or exactly at the digest's time — send exactly one mail
 * (loopback SMTP), one claim marked sent and one send recorded in report_access.
 */
import { pino } from 'pino';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDigests, type RunningDigests } from '../../../src/alerts/digest/index.js';
import { nextRunAt } from '../../../src/alerts/digest/schedule.js';
import type { DigestScheduler } from '../../../src/alerts/digest/scheduler.js';
import { pgDigestStore } from '../../../src/alerts/digest/store.js';
import { pgPool } from '../../../src/audit/postgres/connect.js';
import { migratePg } from '../../../src/audit/postgres/schema.js';
import { PostgresAuditStore } from '../../../src/audit/postgres/store.js';
import type { ReadonlyConfig } from '../../../src/config/load.js';
import { auditEvent } from '../../helpers/audit-event.js';
import { loopbackCert, startSmtpReceiver, type SmtpReceiver } from '../../helpers/alert-receivers.js';
import { digestDayAfterTomorrow, loopbackEmailSink } from '../../helpers/alert-setup.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';
import { tempDir, testConfig } from '../../helpers/schoolgate.js';
import { TestClock } from '../../helpers/test-clock.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

const ZONE = 'Europe/London';
const PASS = 'relay-pw-hostile-nodes-3k';
const DAY = 86_400_000;

/** The first thing a scheduler does with a digest: sent, left to another node, or gave up. */
function outcome(s: DigestScheduler): Promise<string> {
  return new Promise((resolve) => {
    s.once('sent', () => resolve('sent'));
    s.once('elsewhere', () => resolve('elsewhere'));
    s.once('gave-up', (_j: unknown, reason: string) => resolve(`gave up: ${reason}`));
  });
}

describe.skipIf(!bin)('digests when two nodes start at the same instant', { timeout: 60_000 }, () => {
  let cluster: PgCluster;
  let smtp: SmtpReceiver;
  let config: ReadonlyConfig;
  let made = 0;
  const day = digestDayAfterTomorrow(ZONE);
  const dueAt = nextRunAt(new Date(), { kind: 'weekly', day, time: '07:30' }, ZONE).getTime();

  beforeAll(async () => {
    cluster = await startPgCluster();
    const dir = tempDir('sg-digest-hostile-');
    const cert = loopbackCert(dir);
    smtp = await startSmtpReceiver({ tls: cert, user: 'relay', pass: PASS });
    config = testConfig(
      {
        timeZone: ZONE,
        alerts: {
          digest: { weekly: { day, time: '07:30' } },
          email: loopbackEmailSink({
            dir,
            port: smtp.port,
            caFile: cert.file,
            user: 'relay',
            pass: PASS,
            // One attempt: a retry would wait on the test clock, which only the test moves.
            extra: { maxAttempts: 1 },
          }),
        },
      },
      dir,
    );
  });
  afterAll(async () => {
    await smtp?.close();
    await cluster?.stop();
  });

  /** A fresh database in service since a day before the digest's time. */
  async function database(): Promise<string> {
    const url = await cluster.createDatabase(`digests${++made}`);
    const pool = pgPool({ connectionString: url, max: 1 });
    const client = await pool.connect();
    await migratePg(client);
    client.release();
    await pool.end();
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
    const nodes: RunningDigests[] = ['gate-a', 'gate-b'].map((node) =>
      startDigests({
        settings: config.alerts,
        timeZone: ZONE,
        openStore: () => pgDigestStore({ connectionString: url }, node),
        categories: () => new Map(),
        logger: pino({ level: 'silent' }),
        clock,
      }),
    );
    const done = nodes.map((n) => outcome(n.scheduler!));
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
