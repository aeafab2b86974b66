/**
 * Console accounts scoped to one school of a trust, over real HTTPS with a real proxy, state and audit
 * database: a north-scoped DSL's inbox and reviews hold north's alerts and people only (whatever site it
 * asks for), it may not acknowledge south's alert, and south's person report is refused (403, recorded); a
 * north-scoped headteacher gets north's person and is refused south's, the refusal recorded with the site;
 * the trust's DSL (no site) sees both and may pick one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertAlert } from '../../../src/audit/alerts-table.js';
import { ConsoleAccounts } from '../../../src/console/accounts.js';
import { openAdmin } from '../../../src/reports/run.js';
import { openStateDatabase } from '../../../src/state/database.js';
import { auditEvent } from '../../helpers/audit-event.js';
import { addSitedPupils, sitedAlert } from '../../helpers/sites.js';
import {
  accessRows,
  openTestCase,
  signedIn,
  startConsoleRig,
  type ConsoleRig,
} from '../../helpers/console.js';

/** One account per sign-in with a code: a TOTP code is good once. */
const ACCOUNTS = {
  'd.north': 'dsl',
  'd.north.ack': 'dsl',
  'd.north.person': 'dsl',
  'd.north.review': 'dsl',
  'd.trust': 'dsl',
  'a.north': 'headteacher',
};
const NORTH_ONLY = ['d.north', 'd.north.ack', 'd.north.person', 'd.north.review', 'a.north'];

describe('console: accounts scoped to a site of the trust', { timeout: 120_000 }, () => {
  let rig: ConsoleRig;
  beforeAll(async () => {
    rig = await startConsoleRig(ACCOUNTS);
    const state = openStateDatabase(rig.config.dataDir);
    try {
      const accounts = new ConsoleAccounts(state);
      for (const name of NORTH_ONLY) expect(accounts.setSite(name, 'north')).toBe(true);
    } finally {
      state.close();
    }
    await addSitedPupils(rig.config.dataDir);
    const t = Date.now() - 3_600_000;
    // Real rows through the running proxy's own audit writer (the hash chain stays whole).
    const attempt = { profile: 'pupil', action: 'block' as const, categories: ['adult'], flagged: true };
    await rig.proxy.audit.record(
      auditEvent({
        ...attempt,
        id: 'n-1',
        time: t,
        user: 'n.pupil',
        host: 'north-row.example',
        site: 'north',
      }),
    );
    await rig.proxy.audit.record(
      auditEvent({
        ...attempt,
        id: 's-1',
        time: t,
        user: 's.pupil',
        host: 'south-row.example',
        site: 'south',
      }),
    );
    const db = openAdmin(rig.config);
    try {
      upsertAlert(db, sitedAlert('alert-north', 'n.pupil', 'north'));
      upsertAlert(db, sitedAlert('alert-south', 's.pupil', 'south'));
    } finally {
      db.close();
    }
    openTestCase(rig, 'C-NORTH', 'n.pupil');
    openTestCase(rig, 'C-SOUTH', 's.pupil');
  }, 120_000);
  afterAll(async () => rig?.proxy.stop());

  it('shows a north-scoped DSL north’s alert and not south’s, whatever site it asks for', async () => {
    const dsl = await signedIn(rig, 'd.north');
    for (const url of ['/alerts', '/alerts?site=south', '/alerts?all=1&site=south']) {
      const r = await dsl.get(url);
      expect(r.status, url).toBe(200);
      expect(r.body, url).toContain('north-alert.example');
      expect(r.body, url).not.toContain('south-alert.example');
      expect(r.body, url).not.toContain('s.pupil');
    }
  });

  it('lets the trust’s DSL see both sites, and pick one', async () => {
    const dsl = await signedIn(rig, 'd.trust');
    const all = await dsl.get('/alerts');
    expect(all.body).toContain('north-alert.example');
    expect(all.body).toContain('south-alert.example');
    expect(all.body).toContain('<option value="south"');
    const south = await dsl.get('/alerts?site=south');
    expect(south.body).toContain('south-alert.example');
    expect(south.body).not.toContain('north-alert.example');
  });

  it('refuses a north-scoped DSL the acknowledgement of south’s alert, recorded, the alert left open', async () => {
    const dsl = await signedIn(rig, 'd.north.ack');
    const r = await dsl.postForm('/alerts', '/alerts/alert-south/ack', { note: 'seen' });
    expect(r.status).toBe(403);
    expect(r.body).toContain('SG_CONSOLE_FORBIDDEN');
    const refused = accessRows(rig).filter(
      (a) => a.outcome === 'refused' && a.command.startsWith('alerts ack'),
    );
    expect(refused.at(-1)?.by).toContain('d.north.ack');
    const db = openAdmin(rig.config);
    try {
      const row = db.prepare(`SELECT status FROM alerts WHERE id = 'alert-south'`).get() as {
        status: string;
      };
      expect(row.status).toBe('open');
    } finally {
      db.close();
    }
    const own = await dsl.postForm('/alerts', '/alerts/alert-north/ack', { note: 'spoken to' });
    expect(own.status).toBe(303);
  });

  it('refuses a north-scoped DSL south’s person report (403, recorded)', async () => {
    const dsl = await signedIn(rig, 'd.north.person');
    const before = accessRows(rig).length;
    const r = await dsl.get('/case/report?ref=C-SOUTH&user=s.pupil&purpose=curious');
    expect(r.status).toBe(403);
    expect(r.body).not.toContain('south-row.example');
    const added = accessRows(rig).slice(before);
    expect(added.map((a) => [a.outcome, a.subject])).toEqual([['refused', 's.pupil']]);
  });

  it('gives a north-scoped headteacher north’s person and refuses south’s, the site named in the record', async () => {
    const head = await signedIn(rig, 'a.north');
    const north = await head.get('/case/report?ref=C-NORTH&user=n.pupil&purpose=case%20review');
    expect(north.status).toBe(200);
    expect(north.body).toContain('north-row.example');
    const before = accessRows(rig).length;
    const south = await head.get('/case/report?ref=C-SOUTH&user=s.pupil&purpose=case%20review');
    expect(south.status).toBe(403);
    expect(south.body).toContain('SG_CONSOLE_FORBIDDEN');
    expect(south.body).not.toContain('south-row.example');
    const added = accessRows(rig).slice(before);
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({ outcome: 'refused', subject: 's.pupil' });
    expect(added[0]!.reason).toContain('north site only');
  });

  it('narrows a north-scoped DSL’s flagged review to north in the query', async () => {
    const dsl = await signedIn(rig, 'd.north.review');
    const r = await dsl.get('/review?kind=flagged&site=south&purpose=weekly%20safeguarding%20check');
    expect(r.status).toBe(200);
    expect(r.body).toContain('n.pupil');
    expect(r.body).not.toContain('s.pupil');
    expect(r.body).toContain('north-alert.example');
    expect(r.body).not.toContain('south-alert.example');
  });
});
