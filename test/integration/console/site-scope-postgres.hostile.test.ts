/**
 * An attacker's tests against site scope on a node with store: { postgres } (issue 18): north-scoped
 * console accounts (a DSL and a headteacher) try to read or act on site south's alert, person, case and
 * hold, with the names and ids varied (case, trailing space or dot, percent-encoding, a Cyrillic
 * look-alike). Each attempt is refused with 403 and the refusal recorded in PostgreSQL's report_access,
 * or shows nothing of south; south's alert stays open and its hold stays placed.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgCaseStore } from '../../../src/audit/postgres/cases.js';
import { pgPool } from '../../../src/audit/postgres/connect.js';
import { addPgHolds } from '../../../src/audit/postgres/holds.js';
import { PostgresAuditStore } from '../../../src/audit/postgres/store.js';
import { ConsoleAccounts } from '../../../src/console/accounts.js';
import { listAlerts } from '../../../src/reports/alert-commands.js';
import { Output } from '../../../src/reports/run.js';
import { openStateDatabase } from '../../../src/state/database.js';
import { auditEvent } from '../../helpers/audit-event.js';
import { signedIn, startConsoleRig, type ConsoleClient, type ConsoleRig } from '../../helpers/console.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';
import { addSitedPupils, sitedAlert } from '../../helpers/sites.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

const SOUTH_HOST = 'south-secret.example';
const actor = { by: 'DSL', osUser: 'it', now: Date.now() };

describe.skipIf(!bin)('site scope on PostgreSQL against a north account', { timeout: 300_000 }, () => {
  let cluster: PgCluster;
  let admin: pg.Client;
  let rig: ConsoleRig;
  let dsl: ConsoleClient;
  let head: ConsoleClient;
  let southHold = 0;

  const lastAccess = async () =>
    (
      await admin.query(
        'SELECT by_name, command, subject, outcome, reason, site FROM report_access ORDER BY id DESC LIMIT 1',
      )
    ).rows[0] as Record<string, unknown> | undefined;
  /** Refusals only: postForm opens the form's page first, a look recorded too. */
  const accessCount = async () =>
    Number(
      (await admin.query(`SELECT count(*) AS n FROM report_access WHERE outcome = 'refused'`)).rows[0].n,
    );

  /** A 403 with SG_CONSOLE_FORBIDDEN and a new refused row for this account, site north. */
  async function expectRefusedAndRecorded(r: { status: number; body: string }, before: number, by: string) {
    expect(r.status, r.body.slice(0, 500)).toBe(403);
    expect(r.body).toContain('SG_CONSOLE_FORBIDDEN');
    expect(await accessCount()).toBe(before + 1);
    expect(await lastAccess()).toMatchObject({
      by_name: expect.stringContaining(by),
      outcome: 'refused',
      site: 'north',
    });
  }

  /** Nothing of south in the answer, whatever its status. */
  function expectNothingOfSouth(r: { status: number; body: string }) {
    expect(r.body).not.toContain('south-alert.example');
    expect(r.body).not.toContain(SOUTH_HOST);
    expect(r.body).not.toContain('south case raised');
  }

  beforeAll(async () => {
    cluster = await startPgCluster();
    const url = await cluster.createDatabase('sitescope');
    rig = await startConsoleRig(
      { 'd.north': 'dsl', 'h.north': 'headteacher' },
      {
        store: { postgres: { url, node: 'gate-a' } },
      },
    );
    const state = openStateDatabase(rig.config.dataDir);
    try {
      const accounts = new ConsoleAccounts(state);
      for (const name of ['d.north', 'h.north']) expect(accounts.setSite(name, 'north')).toBe(true);
    } finally {
      state.close();
    }
    await addSitedPupils(rig.config.dataDir);
    // Another node wrote south's alert and rows, and north's; a trust-wide head opened the cases and the hold.
    const other = await PostgresAuditStore.open({ connectionString: url, node: 'gate-b' });
    try {
      await other.writeAlert(sitedAlert('alert-north', 'n.pupil', 'north'));
      await other.writeAlert(sitedAlert('alert-south', 's.pupil', 'south'));
      // An alert no site claims (its site unknown): outside every scoped account.
      await other.writeAlert({ ...sitedAlert('alert-nosite', 's.pupil', 'south'), site: null });
      const t = Date.now() - 3_600_000;
      let n = 0;
      for (const [user, site] of [
        ['s.pupil', 'south'],
        ['p.far', 'south'],
        ['n.pupil', 'north'],
      ] as const)
        await other.record(
          auditEvent({
            id: `row-${++n}`,
            time: t + n,
            user,
            site,
            host: site === 'south' ? SOUTH_HOST : 'north.example',
          }),
        );
    } finally {
      await other.close();
    }
    const pool = pgPool({ connectionString: url, max: 2 });
    try {
      const cases = pgCaseStore(pool);
      await cases.open({
        ...actor,
        ref: 'S-1',
        subjects: [{ kind: 'user', value: 's.pupil' }],
        note: 'south case raised',
      });
      await cases.open({
        ...actor,
        ref: 'N-1',
        subjects: [{ kind: 'user', value: 'n.pupil' }],
        note: 'north case',
      });
      const [hold] = await addPgHolds(pool, {
        ...actor,
        subjects: [{ kind: 'user', value: 's.pupil' }],
        reason: 'police',
      });
      southHold = hold!.id;
    } finally {
      await pool.end();
    }
    admin = new pg.Client(url);
    await admin.connect();
    [dsl, head] = await Promise.all([signedIn(rig, 'd.north'), signedIn(rig, 'h.north')]);
  }, 180_000);
  afterAll(async () => {
    await rig?.proxy.stop();
    await admin?.end().catch(() => undefined);
    await cluster?.stop();
  });

  it.each([
    '/alerts?site=south',
    '/alerts?all=1&site=south',
    '/alerts?all=1&site=SOUTH',
    '/alerts?all=1&site=south%20',
    '/alerts?all=1&site[]=south',
    '/alerts?all=1&site=north&site=south',
    '/alerts/alert-south',
  ])('the DSL’s %s shows nothing of south', async (p) => {
    expectNothingOfSouth(await dsl.get(p));
  });

  it('refuses the DSL the acknowledgement of an alert no site claims, recorded', async () => {
    const before = await accessCount();
    const r = await dsl.postForm('/alerts', '/alerts/alert-nosite/ack', { note: 'seen' });
    await expectRefusedAndRecorded(r, before, 'd.north');
    expect((await admin.query(`SELECT status FROM alerts WHERE id = 'alert-nosite'`)).rows[0]).toEqual({
      status: 'open',
    });
  });

  it('`alerts list --site north` on PostgreSQL lists north’s alert only', async () => {
    const file = path.join(rig.config.dataDir, 'alerts-north.jsonl');
    const out = new Output(file);
    try {
      await listAlerts(
        rig.config,
        { by: 'DSL', caseRef: null, osUser: 'it', now: Date.now() },
        { json: true, limit: 100, site: 'north' },
        out,
      );
    } finally {
      out.close();
    }
    const ids = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { id: string }).id);
    expect(ids).toEqual(['alert-north']);
  });

  it('refuses the DSL south’s acknowledgement, recorded in PostgreSQL', async () => {
    const before = await accessCount();
    const r = await dsl.postForm('/alerts', '/alerts/alert-south/ack', { note: 'seen' });
    await expectRefusedAndRecorded(r, before, 'd.north');
    expect(await lastAccess()).toMatchObject({ command: 'alerts ack (console)', subject: 's.pupil' });
  });

  it.each(['ALERT-SOUTH', 'alert-south%20', 'alert-south.', 'alert-sout', 'alert-south%00', '%61lert-south'])(
    'does not acknowledge south’s alert as %s',
    async (id) => {
      const r = await dsl.postForm('/alerts', `/alerts/${id}/ack`, { note: 'seen' });
      expect(r.status, r.body.slice(0, 300)).not.toBe(303);
      expect((await admin.query(`SELECT status FROM alerts WHERE id = 'alert-south'`)).rows[0]).toEqual({
        status: 'open',
      });
    },
  );

  it('refuses the headteacher south’s case, recorded in PostgreSQL', async () => {
    const before = await accessCount();
    const r = await head.get('/case?ref=S-1');
    await expectRefusedAndRecorded(r, before, 'h.north');
    expectNothingOfSouth(r);
  });

  it.each(['s-1', 'S-1%20', 'S-1.', 'S-1/', '%53-1', 'S%2D1', 'S-1%00'])(
    'shows the headteacher nothing of south’s case as %s',
    async (ref) => {
      const r = await head.get(`/case?ref=${ref}`);
      expect(r.status, r.body.slice(0, 300)).not.toBe(200);
      expectNothingOfSouth(r);
    },
  );

  it.each(['s.pupil', 'p.far'])(
    'refuses the headteacher a report on %s under a north case, recorded',
    async (user) => {
      const before = await accessCount();
      const r = await head.get(`/case/report?ref=N-1&user=${user}&purpose=checking`);
      await expectRefusedAndRecorded(r, before, 'h.north');
      expectNothingOfSouth(r);
    },
  );

  it.each([
    's.pupil%20',
    's.pupil.',
    'S.PUPIL',
    's%2Epupil',
    '%20s.pupil',
    'P.FAR',
    '%D1%95.pupil',
    's.pupil%00',
  ])('shows the headteacher nothing of south’s person as %s', async (user) => {
    const r = await head.get(`/case/report?ref=N-1&user=${user}&purpose=checking`);
    expectNothingOfSouth(r);
  });

  it('lists the headteacher north’s holds only', async () => {
    const r = await head.get('/holds?purpose=checking&all=1');
    expect(r.status).toBe(200);
    expect(r.body).not.toContain('s.pupil');
  });

  it('refuses the headteacher the release of south’s hold, and a hold on south’s pupil, recorded', async () => {
    let before = await accessCount();
    const release = await head.postForm('/holds?purpose=checking', '/holds/release', {
      id: String(southHold),
      reason: 'done',
    });
    await expectRefusedAndRecorded(release, before, 'h.north');
    expect((await admin.query('SELECT released_ms FROM holds WHERE id = $1', [southHold])).rows[0]).toEqual({
      released_ms: null,
    });
    before = await accessCount();
    const add = await head.postForm('/holds?purpose=checking', '/holds', {
      kind: 'user',
      value: 's.pupil',
      reason: 'mine now',
    });
    await expectRefusedAndRecorded(add, before, 'h.north');
  });
});
