/**
 * audit.purgeAt: the running proxy purges once a night at that time (school time zone), driven by a test
 * clock, through the same purge as `schoolgate audit purge` and recorded like it (by "scheduled"), on
 * either store: the SQLite file, or PostgreSQL (a private cluster), where the old month is dropped whole.
 */
import { once } from 'node:events';
import Database from 'better-sqlite3';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { nextRunAt } from '../../../src/alerts/digest/schedule.js';
import { startSchoolgate, type RunningSchoolgate } from '../../../src/app/start.js';
import { newEventId } from '../../../src/audit/event-id.js';
import type { AuditEvent } from '../../../src/audit/types.js';
import { auditEvent } from '../../helpers/audit-event.js';
import { testConfig } from '../../helpers/schoolgate.js';
import { TestClock } from '../../helpers/test-clock.js';
import { findPostgres, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';

const DAY = 86_400_000;
const ZONE = 'Europe/London';
let sg: RunningSchoolgate | undefined;
afterEach(async () => {
  await sg?.stop();
  sg = undefined;
});

function row(time: number, host: string): AuditEvent {
  return auditEvent({ id: newEventId(time), time, host, user: 'pupil1', profile: 'pupil' });
}

function read<T>(path: string, sql: string): T[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

let cluster: PgCluster | undefined;
afterAll(async () => {
  await cluster?.stop();
});

async function readPg<T extends pg.QueryResultRow>(sql: string): Promise<T[]> {
  const db = new pg.Client(cluster!.url);
  await db.connect();
  try {
    return (await db.query<T>(sql)).rows;
  } finally {
    await db.end();
  }
}

/** One store each: the config it adds and how the test reads the rows and the purge record back. */
const BACKENDS = [
  {
    name: 'sqlite',
    skip: false,
    store: async () => ({}),
    read: async <T>(sql: string) => read<T>(sg!.auditPath, sql),
  },
  {
    name: 'postgres',
    skip: !findPostgres(),
    store: async () => {
      cluster ??= await startPgCluster();
      return { store: { postgres: { url: cluster.url, node: 'gate-a' } } };
    },
    read: async <T>(sql: string) => (await readPg(sql)) as T[],
  },
] as const;

describe.each(BACKENDS)('the nightly purge on $name', ({ skip, store, read }) => {
  it.skipIf(skip)(
    'runs at audit.purgeAt, deletes rows past reports.retentionDays, and is recorded like a CLI purge',
    { timeout: 120_000 },
    async () => {
      const start = Date.now();
      const clock = new TestClock(start);
      const config = testConfig({
        timeZone: ZONE,
        audit: { purgeAt: '02:30' },
        reports: { retentionDays: 30 },
        ...(await store()),
      });
      sg = await startSchoolgate(config, pino({ level: 'silent' }), { purgeClock: clock });
      const purge = sg.retention!;
      const due = nextRunAt(new Date(start), { kind: 'daily', time: '02:30' }, ZONE).getTime();
      expect(purge.nextAt).toBe(due);
      expect(new Intl.DateTimeFormat('en-GB', { timeZone: ZONE, timeStyle: 'short' }).format(due)).toBe(
        '02:30',
      );

      await sg.audit.record(row(start - 100 * DAY, 'old.test'));
      await sg.audit.record(row(start - DAY, 'recent.test'));

      clock.advanceTo(due - 60_000);
      expect(purge.runs).toBe(0);

      const purged = once(purge, 'purged');
      clock.advanceTo(due);
      expect(purge.runs).toBe(1);
      const [result] = (await purged) as [{ deleted: number; purgeId: number }];
      expect(result.deleted).toBe(1);

      const hosts = await read<{ host: string }>('SELECT host FROM audit_events ORDER BY seq');
      expect(hosts.map((h) => h.host)).toEqual(['recent.test']);
      const [record] = await read<{
        by_name: string;
        retention_days: number;
        deleted: number;
        finished_ms: number;
      }>('SELECT by_name, retention_days, CAST(deleted AS integer) AS deleted, finished_ms FROM purges');
      expect(record).toMatchObject({ by_name: 'scheduled', retention_days: 30, deleted: 1 });
      expect(record!.finished_ms).not.toBeNull();
      // The next night is armed.
      expect(purge.nextAt).toBe(nextRunAt(new Date(due), { kind: 'daily', time: '02:30' }, ZONE).getTime());
    },
  );
});

describe('the nightly purge', () => {
  it('does not run when audit.purgeAt is null', async () => {
    const config = testConfig({ audit: { purgeAt: null } });
    sg = await startSchoolgate(config, pino({ level: 'silent' }), { purgeClock: new TestClock(Date.now()) });
    expect(sg.retention).toBeNull();
  });
});
