/**
 * The console's alerts inbox, request lists and site refusals on a node with store: { postgres } (a
 * private cluster, real HTTPS): the DSL sees and acknowledges alerts another node wrote, each look recorded
 * first in PostgreSQL's report_access; a north-scoped DSL sees north's alert only and is refused south's
 * acknowledgement (403, recorded in PostgreSQL); a directory person's site is read from PostgreSQL's rows;
 * the request lists record their look in PostgreSQL; a look that cannot be recorded shows nothing.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresAuditStore } from '../../../src/audit/postgres/store.js';
import { ConsoleAccounts } from '../../../src/console/accounts.js';
import type { ConsoleContext } from '../../../src/console/context.js';
import type { Session } from '../../../src/console/sessions.js';
import { outsideSite, siteOfPerson } from '../../../src/console/site-scope.js';
import { subjectsOutsideSite } from '../../../src/console/subject-sites.js';
import { openStateDatabase } from '../../../src/state/database.js';
import { auditEvent } from '../../helpers/audit-event.js';
import { signedIn, startConsoleRig, type ConsoleRig } from '../../helpers/console.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';
import { addSitedPupils, sitedAlert } from '../../helpers/sites.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

/** One account per sign-in: a TOTP code is good once. */
const ACCOUNTS = {
  'd.trust': 'dsl',
  'd.north': 'dsl',
  'd.north.req': 'dsl',
  'd.down': 'dsl',
  't.tech': 'technician',
};

describe.skipIf(!bin)(
  'console alerts, request lists and site scope on PostgreSQL',
  { timeout: 120_000 },
  () => {
    let cluster: PgCluster;
    let admin: pg.Client;
    let rig: ConsoleRig;

    const accessRows = async () =>
      (
        await admin.query(
          'SELECT by_name, command, purpose, subject, outcome, reason, site FROM report_access ORDER BY id',
        )
      ).rows as Record<string, unknown>[];
    const alertRow = async (id: string) =>
      (await admin.query('SELECT status, acked_by, ack_note FROM alerts WHERE id = $1', [id])).rows[0] as
        Record<string, unknown> | undefined;

    beforeAll(async () => {
      cluster = await startPgCluster();
      const url = await cluster.createDatabase('console');
      rig = await startConsoleRig(ACCOUNTS, { store: { postgres: { url, node: 'gate-a' } } });
      const state = openStateDatabase(rig.config.dataDir);
      try {
        const accounts = new ConsoleAccounts(state);
        for (const name of ['d.north', 'd.north.req']) expect(accounts.setSite(name, 'north')).toBe(true);
      } finally {
        state.close();
      }
      await addSitedPupils(rig.config.dataDir);
      // Another node of the trust raised both alerts and saw p.far (no users row here) at south: in PostgreSQL only.
      const other = await PostgresAuditStore.open({ connectionString: url, node: 'gate-b' });
      try {
        await other.writeAlert(sitedAlert('alert-north', 'n.pupil', 'north'));
        await other.writeAlert(sitedAlert('alert-south', 's.pupil', 'south'));
        const t = Date.now() - 3_600_000;
        await other.record(auditEvent({ id: 'far-1', time: t - 1000, user: 'p.far', site: 'north' }));
        await other.record(auditEvent({ id: 'far-2', time: t, user: 'p.far', site: 'south' }));
      } finally {
        await other.close();
      }
      admin = new pg.Client(url);
      await admin.connect();
    }, 120_000);
    afterAll(async () => {
      await rig?.proxy.stop();
      await admin?.end();
      await cluster?.stop();
    });

    it('shows the trust’s DSL every node’s alerts and acknowledges one, each recorded in PostgreSQL first', async () => {
      const dsl = await signedIn(rig, 'd.trust');
      const before = (await accessRows()).length;
      const r = await dsl.get('/alerts');
      expect(r.status, r.body).toBe(200);
      expect(r.body).toContain('north-alert.example');
      expect(r.body).toContain('south-alert.example');
      expect((await accessRows()).slice(before)).toEqual([
        {
          by_name: 'd.trust (dsl, console)',
          command: 'alerts list (console)',
          purpose: 'alerts inbox',
          subject: null,
          outcome: 'granted',
          reason: null,
          site: null,
        },
      ]);
      const acked = await dsl.postForm('/alerts', '/alerts/alert-north/ack', { note: 'spoke to n.pupil' });
      expect(acked.status).toBe(303);
      expect(await alertRow('alert-north')).toEqual({
        status: 'acked',
        acked_by: 'd.trust (dsl, console)',
        ack_note: 'spoke to n.pupil',
      });
      expect((await accessRows()).at(-1)).toMatchObject({
        command: 'alerts ack alert-north',
        subject: 'n.pupil',
        outcome: 'granted',
      });
      const open = await dsl.get('/alerts');
      expect(open.body).not.toContain('north-alert.example');
      expect(open.body).toContain('south-alert.example');
    });

    it('shows a north-scoped DSL north’s alert only and refuses south’s acknowledgement, recorded in PostgreSQL', async () => {
      const dsl = await signedIn(rig, 'd.north');
      const all = await dsl.get('/alerts?all=1&site=south');
      expect(all.status).toBe(200);
      expect(all.body).toContain('north-alert.example');
      expect(all.body).not.toContain('south-alert.example');
      expect((await accessRows()).at(-1)).toMatchObject({ command: 'alerts list (console)', site: 'north' });
      const r = await dsl.postForm('/alerts', '/alerts/alert-south/ack', { note: 'seen' });
      expect(r.status).toBe(403);
      expect(r.body).toContain('SG_CONSOLE_FORBIDDEN');
      expect((await accessRows()).at(-1)).toMatchObject({
        by_name: 'd.north (dsl, console)',
        command: 'alerts ack (console)',
        subject: 's.pupil',
        outcome: 'refused',
        reason: expect.stringContaining('north site only'),
        site: 'north',
      });
      expect(await alertRow('alert-south')).toMatchObject({ status: 'open', acked_by: null });
    });

    it('places a directory person (and a case’s subjects) by their latest row in PostgreSQL, whichever node wrote it', async () => {
      const ctx = { config: rig.config } as ConsoleContext;
      const north: Session = {
        id: 'x',
        name: 'd.north',
        role: 'dsl',
        site: 'north',
        createdAt: 0,
        lastSeen: 0,
      };
      expect(await siteOfPerson(ctx, 'p.far')).toBe('south');
      expect(await outsideSite(ctx, north, 'p.far')).toBe(true);
      expect(await outsideSite(ctx, north, 'n.pupil')).toBe(false);
      expect(await outsideSite(ctx, { ...north, site: 'south' }, 'p.far')).toBe(false);
      expect(await siteOfPerson(ctx, 'nobody.seen')).toBeNull();
      // A case's or a hold's subjects, as the case and hold pages check them.
      const user = (value: string) => ({ kind: 'user' as const, value });
      expect(await subjectsOutsideSite(ctx, north, [user('n.pupil'), user('p.far')])).toBe(true);
      expect(
        await subjectsOutsideSite(ctx, { ...north, site: 'south' }, [user('p.far'), user('s.pupil')]),
      ).toBe(false);
    });

    it('records the technician’s and the DSL’s unblock-request lists in PostgreSQL', async () => {
      const tech = await signedIn(rig, 't.tech');
      const before = (await accessRows()).length;
      expect((await tech.get('/requests')).status).toBe(200);
      const dsl = await signedIn(rig, 'd.north.req');
      expect((await dsl.get('/dsl/requests?purpose=passing%20on%20to%20IT')).status).toBe(200);
      expect((await accessRows()).slice(before)).toMatchObject([
        {
          by_name: 't.tech (technician, console)',
          command: 'requests list (console)',
          purpose: 'deciding unblock requests',
          outcome: 'granted',
        },
        {
          by_name: 'd.north.req (dsl, console)',
          command: 'requests list (console)',
          purpose: 'passing on to IT',
          outcome: 'granted',
          site: 'north',
        },
      ]);
    });

    it('shows nothing when PostgreSQL cannot record the look (SG_AUDIT_UNAVAILABLE)', async () => {
      const dsl = await signedIn(rig, 'd.down');
      const before = (await accessRows()).length;
      await admin.query('ALTER TABLE report_access RENAME TO report_access_away');
      try {
        const r = await dsl.get('/alerts');
        expect(r.status).toBe(400);
        expect(r.body).toContain('SG_AUDIT_UNAVAILABLE');
        expect(r.body).not.toContain('south-alert.example');
        const req = await dsl.get('/dsl/requests?purpose=unrecordable%20look');
        expect(req.status).toBe(400);
        expect(req.body).toContain('SG_AUDIT_UNAVAILABLE');
        const ack = await dsl.postForm('/alerts', '/alerts/alert-south/ack', { note: 'unrecorded' });
        expect(ack.status).toBe(400);
      } finally {
        await admin.query('ALTER TABLE report_access_away RENAME TO report_access');
      }
      expect(await accessRows()).toHaveLength(before);
      expect(await alertRow('alert-south')).toMatchObject({ status: 'open' });
    });
  },
);
