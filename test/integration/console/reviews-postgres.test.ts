/**
 * The console's reviews on a node with store: { postgres } (a private cluster, real HTTPS): the DSL's
 * flagged review shows a row only PostgreSQL holds, written there by another node, and the look is in
 * PostgreSQL's report_access; a look that cannot be recorded there is refused (SG_AUDIT_UNAVAILABLE) with
 * nothing shown; the context report under a case shows another node's row, and the auditor's access log
 * shows a look made on another node, each look recorded there first.
 * (The alerts page on PostgreSQL: alerts-postgres.test.ts.)
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgCaseStore } from '../../../src/audit/postgres/cases.js';
import { pgPool } from '../../../src/audit/postgres/connect.js';
import { PgAccessRecorder } from '../../../src/audit/postgres/report-access.js';
import { PostgresAuditStore } from '../../../src/audit/postgres/store.js';
import { UserStore } from '../../../src/identity/user-store.js';
import { auditEvent } from '../../helpers/audit-event.js';
import { signedIn, startConsoleRig, type ConsoleRig } from '../../helpers/console.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

/** One account per sign-in: a TOTP code is good once. */
const ACCOUNTS = {
  'd.dsl.pg': 'dsl',
  'd.dsl.down': 'dsl',
  'a.head.pg': 'headteacher',
  'g.auditor.pg': 'auditor',
  'g.auditor.check': 'auditor',
  't.tech': 'technician',
};

describe.skipIf(!bin)('console reviews on PostgreSQL', () => {
  let cluster: PgCluster;
  let admin: pg.Client;
  let rig: ConsoleRig;

  const lastAccess = async () =>
    (
      await admin.query(
        'SELECT by_name, command, purpose, format, outcome, reason FROM report_access ORDER BY id DESC LIMIT 1',
      )
    ).rows[0] as Record<string, unknown> | undefined;

  beforeAll(async () => {
    cluster = await startPgCluster();
    const url = await cluster.createDatabase('console');
    rig = await startConsoleRig(ACCOUNTS, { store: { postgres: { url, node: 'gate-a' } } });
    const users = new UserStore(rig.config.dataDir);
    await users.add({ name: 'p.far', profile: 'pupil', password: 'pupil-password-1' });
    users.close();
    // Another node of the trust records a flagged attempt: it is in PostgreSQL only.
    const other = await PostgresAuditStore.open({ connectionString: url, node: 'gate-b' });
    try {
      await other.record(
        auditEvent({
          id: 'ev-far',
          time: Date.now() - 3_600_000,
          user: 'p.far',
          profile: 'pupil',
          host: 'selfharm.example',
          categories: ['selfharm'],
          action: 'block',
          flagged: true,
        }),
      );
    } finally {
      await other.close();
    }
    // Writes as another node of the trust would (its looks are schoolgate's, not edits by hand: ledger.ts).
    admin = new pg.Client({ connectionString: url, options: '-c schoolgate.writer=on' });
    await admin.connect();
    // The case the context report is pulled under, opened on another node (cases are in PostgreSQL).
    const pool = pgPool({ connectionString: url, max: 1 });
    try {
      await pgCaseStore(pool).open({
        ref: '2026-040',
        subjects: [{ kind: 'user', value: 'p.far' }],
        by: 'A. Head',
        osUser: 'head',
        now: Date.now(),
      });
    } finally {
      await pool.end();
    }
  }, 120_000);
  afterAll(async () => {
    await rig?.proxy.stop();
    await admin?.end();
    await cluster?.stop();
  });

  it('shows the DSL a flagged row another node wrote, the look recorded in PostgreSQL first', async () => {
    const dsl = await signedIn(rig, 'd.dsl.pg');
    const r = await dsl.get('/review?kind=flagged&purpose=trust%20safeguarding%20check');
    expect(r.status).toBe(200);
    expect(r.body).toContain('People with safeguarding alerts or flagged attempts');
    expect(r.body).toContain('p.far');
    expect(await lastAccess()).toEqual({
      by_name: 'd.dsl.pg (dsl, console)',
      command: 'report flagged (console)',
      purpose: 'trust safeguarding check',
      format: 'html',
      outcome: 'granted',
      reason: null,
    });
  });

  it('refuses the review when PostgreSQL cannot record the look, showing nothing', async () => {
    const dsl = await signedIn(rig, 'd.dsl.down');
    const before = (await admin.query('SELECT count(*)::int AS n FROM report_access')).rows[0].n as number;
    await admin.query('ALTER TABLE report_access RENAME TO report_access_away');
    try {
      const r = await dsl.get('/review?kind=flagged&purpose=unrecordable');
      expect(r.status).toBe(400);
      expect(r.body).toContain('SG_AUDIT_UNAVAILABLE');
      expect(r.body).toContain('cannot be recorded');
      expect(r.body).not.toContain('p.far');
    } finally {
      await admin.query('ALTER TABLE report_access_away RENAME TO report_access');
    }
    expect((await admin.query('SELECT count(*)::int AS n FROM report_access')).rows[0].n).toBe(before);
  });

  it('shows the context report of a row another node wrote, under a case, the look recorded first', async () => {
    const head = await signedIn(rig, 'a.head.pg');
    const r = await head.get('/around/report?ref=2026-040&event=ev-far&purpose=context%20of%20the%20attempt');
    expect(r.status, r.body).toBe(200);
    expect(r.body).toContain('Context around ev-far');
    expect(r.body).toContain('selfharm.example');
    expect(r.body).toMatch(/Tamper check[\s\S]*verified: 1 rows match the hash chain/);
    expect(await lastAccess()).toEqual({
      by_name: 'a.head.pg (headteacher, console)',
      command: 'report around (console)',
      purpose: 'context of the attempt',
      format: 'html',
      outcome: 'granted',
      reason: null,
    });
  });

  it('shows the auditor a look made on another node, their own look recorded in PostgreSQL first', async () => {
    // Another node's look, recorded as that node records it.
    await new PgAccessRecorder(admin).record({
      timeMs: Date.now() - 60_000,
      by: 'B. Dsl (dsl, console)',
      osUser: 'gate-b',
      command: 'report user (console)',
      subject: 'p.elsewhere',
      caseRef: '2026-041',
      outcome: 'granted',
      purpose: 'looked at on gate-b',
    });
    const auditor = await signedIn(rig, 'g.auditor.pg');
    const r = await auditor.get('/access-log');
    expect(r.status, r.body).toBe(200);
    expect(r.body).toContain('p.elsewhere');
    expect(r.body).toContain('looked at on gate-b');
    // Every node's looks, not this node's SQLite file: the context report pulled above is there too.
    expect(r.body).toContain('report around (console)');
    expect(r.body).toContain('schoolgate audit verify');
    expect(r.body).toContain('The audit log has not been checked yet.');
    expect(await lastAccess()).toMatchObject({
      by_name: 'g.auditor.pg (auditor, console)',
      command: 'report access-log (console)',
      purpose: 'audit of access',
      outcome: 'granted',
    });
  });

  it('refuses a review to a technician, the refusal recorded in PostgreSQL', async () => {
    const tech = await signedIn(rig, 't.tech');
    const r = await tech.get('/review?kind=flagged&purpose=curious');
    expect(r.status).toBe(403);
    expect(r.body).toContain('SG_CONSOLE_FORBIDDEN');
    expect(r.body).not.toContain('p.far');
    expect(await lastAccess()).toMatchObject({
      by_name: 't.tech (technician, console)',
      outcome: 'refused',
      reason: expect.stringContaining('SG_CONSOLE_FORBIDDEN'),
    });
  });

  // Last: it edits a row of the record.
  it('runs the tamper check over every node and the ledger, and names the node of an edited row', async () => {
    const auditor = await signedIn(rig, 'g.auditor.check');
    expect((await auditor.postForm('/access-log', '/tamper-check', {})).status).toBe(303);
    const intact = await auditor.get('/access-log');
    expect(intact.body).toMatch(/chain intact<\/strong> \(\d+\s+rows\)/);
    // Someone with SQL rewrites gate-b's flagged row: the next check on gate-a names gate-b.
    await admin.query(`UPDATE audit_events SET host = 'homework.example' WHERE id = 'ev-far'`);
    expect((await auditor.postForm('/access-log', '/tamper-check', {})).status).toBe(303);
    const broken = await auditor.get('/access-log');
    expect(broken.body).toContain('CHAIN BROKEN');
    expect(broken.body).toContain('first break: node gate-b:');
  });
});
