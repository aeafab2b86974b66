/**
 * Site-scoped console accounts and the investigation's own records, over real HTTPS with a real proxy,
 * state and audit database: a north-scoped headteacher's cases, holds and context reports are north's.
 * Another site's case (shown, noted, opened about a south pupil), hold (listed, placed, released) or audit
 * row (context report) is refused with 403 and the refusal recorded with the account's site, before
 * anything is read or changed; the trust-wide headteacher sees and may do all. Device and address holds
 * take the site of the device or of the network the address is in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caseNotes, getCase } from '../../../src/audit/cases.js';
import { addHolds, listHolds } from '../../../src/audit/holds.js';
import { ConsoleAccounts } from '../../../src/console/accounts.js';
import { openAdmin } from '../../../src/reports/run.js';
import { AddressStore } from '../../../src/state/addresses.js';
import { openStateDatabase } from '../../../src/state/database.js';
import { auditEvent } from '../../helpers/audit-event.js';
import { addSitedPupils } from '../../helpers/sites.js';
import {
  accessRows,
  openTestCase,
  signedIn,
  startConsoleRig,
  type ConsoleClient,
  type ConsoleRig,
} from '../../helpers/console.js';

const PURPOSE = 'termly%20safeguarding%20audit';

describe('console: a site-scoped account’s cases, holds and context reports', { timeout: 120_000 }, () => {
  let rig: ConsoleRig;
  let north: ConsoleClient;
  let trust: ConsoleClient;

  /** Access records added while fn runs. */
  async function recorded(fn: () => Promise<unknown>) {
    const before = accessRows(rig).length;
    await fn();
    return accessRows(rig).slice(before);
  }

  function withAdmin<T>(fn: (db: ReturnType<typeof openAdmin>) => T): T {
    const db = openAdmin(rig.config);
    try {
      return fn(db);
    } finally {
      db.close();
    }
  }

  beforeAll(async () => {
    rig = await startConsoleRig({ 'a.north': 'headteacher', 'a.trust': 'headteacher' });
    const state = openStateDatabase(rig.config.dataDir);
    try {
      expect(new ConsoleAccounts(state).setSite('a.north', 'north')).toBe(true);
      const addresses = new AddressStore(state);
      addresses.addNetwork({ cidr: '10.77.0.0/16', profile: 'pupil', site: 'north' });
      addresses.addDevice({ address: '10.88.0.5', name: 'south-lab-3', site: 'south' });
    } finally {
      state.close();
    }
    await addSitedPupils(rig.config.dataDir);
    const t = Date.now() - 3_600_000;
    const attempt = { profile: 'pupil', action: 'block' as const, categories: ['adult'], flagged: true };
    for (const [id, user, site] of [
      ['n-1', 'n.pupil', 'north'],
      ['s-1', 's.pupil', 'south'],
    ] as const)
      await rig.proxy.audit.record(
        auditEvent({ ...attempt, id, time: t, user, host: `${site}-row.example`, site }),
      );
    openTestCase(rig, 'C-NORTH', 'n.pupil');
    openTestCase(rig, 'C-SOUTH', 's.pupil');
    withAdmin((db) => {
      const by = { reason: 'police referral', by: 'A. Head', osUser: 'test', now: Date.now() };
      addHolds(db, { ...by, subjects: [{ kind: 'user', value: 'n.pupil' }] });
      addHolds(db, { ...by, subjects: [{ kind: 'user', value: 's.pupil' }] });
      addHolds(db, { ...by, subjects: [{ kind: 'address', value: '10.77.3.4' }] });
      addHolds(db, { ...by, subjects: [{ kind: 'device', value: 'south-lab-3' }] });
    });
    north = await signedIn(rig, 'a.north');
    trust = await signedIn(rig, 'a.trust');
  }, 120_000);
  afterAll(async () => rig?.proxy.stop());

  it('lists north’s cases only to the north headteacher, every case to the trust’s', async () => {
    const mine = await north.get('/cases');
    expect(mine.status).toBe(200);
    expect(mine.body).toContain('C-NORTH');
    expect(mine.body).not.toContain('C-SOUTH');
    const all = await trust.get('/cases');
    expect(all.body).toContain('C-NORTH');
    expect(all.body).toContain('C-SOUTH');
  });

  it('refuses another site’s case page, recorded with the account’s site; its own case shown', async () => {
    let page = { status: 0, body: '' };
    const added = await recorded(async () => (page = await north.get('/case?ref=C-SOUTH')));
    expect(page.status).toBe(403);
    expect(page.body).toContain('SG_CONSOLE_FORBIDDEN');
    expect(page.body).not.toContain('s.pupil');
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({
      command: 'case show C-SOUTH (console)',
      subject: 's.pupil',
      outcome: 'refused',
      site: 'north',
    });
    expect((await north.get('/case?ref=C-NORTH')).status).toBe(200);
    expect((await trust.get('/case?ref=C-SOUTH')).status).toBe(200);
  });

  it('refuses a note on another site’s case and a case opened about another site’s pupil', async () => {
    const notes = () => withAdmin((db) => caseNotes(db, 'C-SOUTH').length);
    const before = notes();
    const note = await north.postForm('/case?ref=C-NORTH', '/case/note', { ref: 'C-SOUTH', text: 'x' });
    expect(note.status).toBe(403);
    expect(notes()).toBe(before);
    const open = await north.postForm('/cases', '/cases', { ref: 'C-NEW', subject: 's.pupil', note: 'y' });
    expect(open.status).toBe(403);
    expect(withAdmin((db) => getCase(db, 'C-NEW'))).toBeUndefined();
    const refused = accessRows(rig).filter((a) => a.outcome === 'refused' && a.site === 'north');
    expect(refused.map((a) => a.command)).toEqual(
      expect.arrayContaining(['case note C-SOUTH (console)', 'case open (console)']),
    );
    const own = await north.postForm('/cases', '/cases', { ref: 'C-NEW', subject: 'n.pupil', note: 'z' });
    expect(own.status).toBe(303);
  });

  it('shows the north headteacher north’s holds (user, and an address in a north network) only', async () => {
    const mine = await north.get(`/holds?purpose=${PURPOSE}`);
    expect(mine.status).toBe(200);
    expect(mine.body).toContain('n.pupil');
    expect(mine.body).toContain('address 10.77.3.4');
    expect(mine.body).not.toContain('s.pupil');
    expect(mine.body).not.toContain('south-lab-3');
    const all = await trust.get(`/holds?purpose=${PURPOSE}`);
    for (const whose of ['n.pupil', 's.pupil', 'address 10.77.3.4', 'device south-lab-3'])
      expect(all.body).toContain(whose);
  });

  it('refuses placing or releasing a hold on another site’s records, recorded, nothing changed', async () => {
    const standing = () =>
      withAdmin((db) =>
        listHolds(db)
          .map((h) => `${h.kind}:${h.value}`)
          .sort(),
      );
    const before = standing();
    const southHold = withAdmin((db) => listHolds(db).find((h) => h.value === 's.pupil')!.id);
    let release = { status: 0, body: '' };
    const added = await recorded(
      async () =>
        (release = await north.postForm(`/holds?purpose=${PURPOSE}`, '/holds/release', {
          id: String(southHold),
          reason: 'done',
        })),
    );
    expect(release.status).toBe(403);
    // The page the form is on is a look too (granted); the release is refused.
    expect(added.filter((a) => a.outcome === 'refused').map((a) => [a.command, a.site])).toEqual([
      [`hold release ${southHold} (console)`, 'north'],
    ]);
    const place = await north.postForm(`/holds?purpose=${PURPOSE}`, '/holds', {
      kind: 'device',
      value: 'south-lab-3',
      reason: 'tribunal',
    });
    expect(place.status).toBe(403);
    expect(standing()).toEqual(before);
  });

  it('refuses a context report on another site’s case or row; gives its own site’s row', async () => {
    const around = (c: ConsoleClient, ref: string, event: string) =>
      c.get(`/around/report?ref=${ref}&event=${event}&purpose=${PURPOSE}`);
    let r = { status: 0, body: '' };
    const added = await recorded(async () => {
      r = await around(north, 'C-SOUTH', 's-1');
      expect(r.status).toBe(403);
      r = await around(north, 'C-NORTH', 's-1');
      expect(r.status).toBe(403);
      expect(r.body).not.toContain('south-row.example');
    });
    expect(added.map((a) => [a.command, a.outcome, a.site])).toEqual([
      ['report around C-SOUTH (console)', 'refused', 'north'],
      ['report around s-1 (console)', 'refused', 'north'],
    ]);
    const own = await recorded(async () => {
      r = await around(north, 'C-NORTH', 'n-1');
      expect(r.status).toBe(200);
      expect(r.body).toContain('north-row.example');
    });
    expect(own.map((a) => [a.command, a.outcome, a.site])).toEqual([
      ['report around (console)', 'granted', 'north'],
    ]);
    const trustWide = await around(trust, 'C-SOUTH', 's-1');
    expect(trustWide.status).toBe(200);
    expect(trustWide.body).toContain('south-row.example');
  });
});
