/**
 * Scheduled digests on PostgreSQL (issue 18): one digest composed from the reports fixture's SQLite file
 * and from the same rows copied into a private PostgreSQL cluster by `store migrate` (the same alerts
 * written to both) is the same mail, subject, text and HTML. Then `serve` on store: { postgres }: the
 * digest goes to a loopback SMTP server at its time, is recorded in PostgreSQL's report_access, and
 * `status` no longer lists scheduled digests as off.
 */
import { once } from 'node:events';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeDigest, type DigestInput } from '../../../src/alerts/digest/compose.js';
import { nextRunAt, periodOf } from '../../../src/alerts/digest/schedule.js';
import { pgDigestStore, sqliteDigestStore } from '../../../src/alerts/digest/store.js';
import { ackAlert, upsertAlert, type AlertWrite } from '../../../src/audit/alerts-table.js';
import { openSqliteAuditStore } from '../../../src/audit/sqlite-store.js';
import { upsertPgAlert } from '../../../src/audit/postgres/alerts.js';
import { controlRequest } from '../../../src/app/control.js';
import { startSchoolgate } from '../../../src/app/start.js';
import type { StatusReport } from '../../../src/app/status.js';
import { SQLITE_ONLY } from '../../../src/app/audit-store.js';
import { loadCategoryInfo } from '../../../src/reports/source.js';
import type { ReceivedMail } from '../../helpers/alert-receivers.js';
import { alertWrite, digestDayAfterTomorrow } from '../../helpers/alert-setup.js';
import { weeklyDigestToRelay } from '../../helpers/digest-nodes.js';
import { findPostgres, PG_SKIP_MESSAGE, type PgCluster } from '../../helpers/pg-cluster.js';
import { startOrigin } from '../../helpers/origin.js';
import { basic, viaProxy } from '../../helpers/raw-http.js';
import { FIXTURE_PROFILES } from '../../helpers/schoolgate.js';
import { TestClock } from '../../helpers/test-clock.js';
import { HOSTILE_TERM, NOV, type Fixture } from '../reports/fixture.js';
import { fixtureInBothStores } from './two-stores-fixture.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

const NODE = 'school-a';
const ZONE = 'Europe/London';

function alert(n: number, fields: Partial<AlertWrite>): AlertWrite {
  const id = `01900000-0000-7000-8000-${String(n).padStart(12, '0')}`;
  return alertWrite({ id, firstTime: NOV(2, 9, n), lastTime: NOV(3, 10, n), count: n, ...fields });
}

/** Danger, warning and advisory; a guest; an acknowledged one; hostile input; one outside the period. */
const ALERTS: AlertWrite[] = [
  alert(1, { searchTerm: 'how to k1ll myself' }),
  alert(2, { severity: 'warning', rule: 'category:extremism', url: 'http://hate.test/manifesto' }),
  alert(3, { severity: 'advisory', user: null, clientIp: '10.0.0.99', searchTerm: HOSTILE_TERM }),
  alert(4, { user: 'pupil2', searchTerm: '<script>x</script> \u202eevil' }),
  alert(5, { firstTime: NOV(20, 9), lastTime: NOV(20, 9), searchTerm: 'not in this week' }),
];
const ACK = { at: NOV(4, 8), by: 'A. Head (DSL)', osUser: 'dsl', note: 'spoken to' };

describe.skipIf(!bin)('scheduled digests on PostgreSQL', () => {
  let cluster: PgCluster;
  let fx: Fixture;

  beforeAll(async () => {
    ({ cluster, fx } = await fixtureInBothStores(NODE));
    // The same alerts in both stores, as each store's alerts engine writes them.
    const file = new Database(fx.dbPath);
    const pool = new pg.Pool({ connectionString: cluster.url, max: 1 });
    try {
      for (const a of ALERTS) {
        upsertAlert(file, a);
        await upsertPgAlert(pool, a);
      }
      ackAlert(file, ALERTS[1]!.id, ACK);
      await pool.query(
        `UPDATE alerts SET status = 'acked', acked_ms = $2, acked_by = $3, acked_os_user = $4, ack_note = $5
         WHERE id = $1`,
        [ALERTS[1]!.id, ACK.at, ACK.by, ACK.osUser, ACK.note],
      );
    } finally {
      file.close();
      await pool.end();
    }
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('one digest composed from SQLite and from PostgreSQL over the same rows is the same mail', async () => {
    const common: Omit<DigestInput, 'auditPath' | 'postgres'> = {
      timeZone: ZONE,
      now: NOV(9, 7, 30),
      categories: await loadCategoryInfo(path.join(fx.dir, 'categories'), fx.dataDir),
      job: { kind: 'weekly', dueAt: NOV(9, 7, 30), fromMs: NOV(2, 0), toMs: NOV(9, 0), late: true },
      by: 'schoolgate',
      osUser: 'schoolgate',
    };
    const [onFile, onPg] = await Promise.all([
      composeDigest({ ...common, auditPath: fx.dbPath }),
      composeDigest({ ...common, postgres: { connectionString: cluster.url } }),
    ]);
    expect(onPg.subject).toBe(onFile.subject);
    expect(onPg.text).toBe(onFile.text);
    expect(onPg.html).toBe(onFile.html);
    // Something in every part: the four alerts of the week, the flagged people, the late notice.
    expect(onFile.subject).toMatch(
      /^\[schoolgate\] LATE Weekly safeguarding digest .*: 4 alerts \(2 danger\), [1-9]\d* (person|people) to review$/,
    );
    const parts = ['Danger: 2', 'Warning: 1', 'Advisory: 1', 'acknowledged by A. Head (DSL)'];
    for (const part of [...parts, 'guest at 10.0.0.99', 'hxxp://hate[.]test/manifesto', 'pupil2'])
      expect(onFile.text).toContain(part);
    expect(onFile.text).not.toContain('not in this week');
    expect(onFile.html).not.toMatch(/<script|<a\s/i);
  });

  it('the PostgreSQL digest store records a send and reads it back, as the SQLite one does', async () => {
    const entry = {
      timeMs: NOV(9, 7, 31),
      by: 'schoolgate',
      osUser: 'schoolgate',
      command: 'digest daily',
      fromMs: NOV(8, 0),
      toMs: NOV(9, 0),
      format: 'email',
      outcome: 'granted' as const,
    };
    const onPg = pgDigestStore({ connectionString: cluster.url }, NODE);
    // SQLite's sends go through its audit writer (report_access is a hashed ledger there).
    const writer = openSqliteAuditStore({ path: fx.dbPath, batchMaxRows: 10 });
    const onFile = sqliteDigestStore(fx.dbPath, { recordAccess: async (e) => writer.recordAccess(e) });
    try {
      for (const store of [onPg, onFile]) {
        expect(await store.lastGranted('digest daily')).toBeNull();
        await store.recordAccess(entry);
        await store.recordAccess({
          ...entry,
          timeMs: entry.timeMs + 1,
          outcome: 'refused',
          toMs: NOV(10, 0),
        });
      }
      expect(await onPg.lastGranted('digest daily')).toEqual({ timeMs: entry.timeMs, toMs: entry.toMs });
      expect(await onPg.lastGranted('digest daily')).toEqual(await onFile.lastGranted('digest daily'));
      expect(await onPg.firstRecordAt()).toBe(await onFile.firstRecordAt());
      expect(await onPg.firstRecordAt()).toEqual(expect.any(Number));
    } finally {
      await writer.close();
      await onPg.close();
      await onFile.close();
    }
  });

  it('serve on store: { postgres } sends the digest at its time and records it in PostgreSQL', async () => {
    expect(SQLITE_ONLY).not.toContain('scheduled digests');
    const url = await cluster.createDatabase('serving');
    const origin = await startOrigin();
    const day = digestDayAfterTomorrow(ZONE);
    const { smtp, config } = await weeklyDigestToRelay(day, 'relay-pw-pg-digest-3k', {
      httpPorts: [origin.port],
      hosts: { 'www.google.com': '127.0.0.1' },
      identity: { basicAuth: true, requireAuth: false },
      profiles: { ...FIXTURE_PROFILES, pupil: { categories: { adult: 'block' } } },
      store: { postgres: { url, node: NODE } },
    });
    const { UserStore } = await import('../../../src/identity/user-store.js');
    const users = new UserStore(config.dataDir);
    await users.add({ name: 'pupil1', profile: 'pupil', password: 'pupil-password' });
    users.close();
    const runAt = nextRunAt(new Date(), { kind: 'weekly', day, time: '07:30' }, ZONE).getTime();
    const clock = new TestClock(Date.now());
    const sg = await startSchoolgate(config, pino({ level: 'silent' }), { digestClock: clock });
    const admin = new pg.Client(url);
    try {
      await admin.connect();
      const scheduler = sg.alerts.digests.scheduler!;
      expect(scheduler).not.toBeNull();
      await scheduler.ready;
      const status = await controlRequest<StatusReport>(config.dataDir, 'status');
      expect(JSON.stringify(status)).not.toContain('scheduled digests');

      const search = `http://www.google.com:${origin.port}/search?q=how+to+k1ll+myself`;
      const res = await viaProxy(sg.address.port, search, {
        headers: { 'proxy-authorization': basic('pupil1', 'pupil-password') },
      });
      expect(res.status).toBe(200);
      await smtp.waitFor(1); // the alert's own e-mail: the alert is in PostgreSQL by now

      const sent = once(scheduler, 'sent');
      clock.advanceTo(runAt);
      const [job] = (await sent) as [{ fromMs: number; toMs: number }];
      expect(job).toMatchObject(periodOf('weekly', runAt, ZONE));
      const isDigest = (m: ReceivedMail) => m.parsed.headers.get('x-schoolgate-digest') !== undefined;
      const digests = (await smtp.waitFor(2)).filter(isDigest);
      expect(digests).toHaveLength(1);
      expect(digests[0]!.parsed.subject).toMatch(/: 1 alert \(1 danger\), 1 person to review$/);
      expect(digests[0]!.parsed.text).toContain('how to k1ll myself');

      // 'sent' is emitted after the send was recorded (scheduler.ts): no waiting for it.
      const recorded = await admin.query(
        `SELECT command, by_name, outcome, format, from_ms, to_ms FROM report_access
         WHERE command LIKE 'digest%'`,
      );
      expect(recorded.rows).toEqual([
        {
          command: 'digest weekly',
          by_name: 'schoolgate',
          outcome: 'granted',
          format: 'email',
          from_ms: String(job.fromMs),
          to_ms: String(job.toMs),
        },
      ]);
    } finally {
      await admin.end();
      await sg.stop();
      await smtp.close();
      await origin.close();
    }
  }, 60_000);
});
