/**
 * The console's reviews, legal holds and context report over real HTTPS with a real proxy, state and audit
 * database: the DSL's and headteacher's flagged and weekly reviews (the CLI's builders and HTML), holds
 * placed, listed and released, a context report under a case; each look recorded with person, role and
 * purpose before it is sent, a technician refused (403, recorded), and the holds' POSTs CSRF-checked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listHolds } from '../../../src/audit/holds.js';
import { UserStore } from '../../../src/identity/user-store.js';
import { openAdmin } from '../../../src/reports/run.js';
import { auditEvent } from '../../helpers/audit-event.js';
import {
  accessRows,
  ConsoleClient,
  openTestCase,
  signedIn,
  startConsoleRig,
  type ConsoleRig,
} from '../../helpers/console.js';

/** One account per test that signs in with a code: a TOTP code is good once. */
const ACCOUNTS = {
  'd.dsl.flag': 'dsl',
  'd.dsl.nopurpose': 'dsl',
  'a.head.week': 'headteacher',
  'a.head.hold': 'headteacher',
  'a.head.csrf': 'headteacher',
  'a.head.csrf2': 'headteacher',
  'a.head.ctx': 'headteacher',
  't.tech': 'technician',
};

const access = accessRows;

function holds(rig: ConsoleRig) {
  const db = openAdmin(rig.config);
  try {
    return listHolds(db, { all: true });
  } finally {
    db.close();
  }
}

describe('console reviews, holds and context reports', () => {
  let rig: ConsoleRig;
  beforeAll(async () => {
    rig = await startConsoleRig(ACCOUNTS);
    const users = new UserStore(rig.config.dataDir);
    await users.add({ name: 'p.pupil', profile: 'pupil', password: 'pupil-password-1' });
    await users.add({ name: 'q.other', profile: 'pupil', password: 'pupil-password-2' });
    users.close();
    const t = Date.now() - 3_600_000;
    // Real rows through the running proxy's own audit writer (the hash chain stays whole).
    const flaggedAttempt = {
      user: 'p.pupil',
      profile: 'pupil',
      host: 'selfharm.example',
      categories: ['selfharm'],
      action: 'block' as const,
      flagged: true,
    };
    await rig.proxy.audit.record(auditEvent({ ...flaggedAttempt, id: 'ev-ctx-1', time: t }));
    await rig.proxy.audit.record(
      auditEvent({
        id: 'ev-ctx-2',
        time: t + 60_000,
        user: 'p.pupil',
        profile: 'pupil',
        host: 'maths.example',
      }),
    );
    await rig.proxy.audit.record(
      auditEvent({ id: 'ev-other', time: t, user: 'q.other', profile: 'pupil', host: 'other.example' }),
    );
    openTestCase(rig, '2026-030', 'p.pupil');
  });
  afterAll(async () => rig?.proxy.stop());

  it('serves the DSL the flagged review (the CLI’s HTML), recorded with person, role and purpose first', async () => {
    const dsl = await signedIn(rig, 'd.dsl.flag');
    const form = await dsl.get('/reviews');
    expect(form.status).toBe(200);
    expect(form.body).toContain('action="/review"');
    expect(form.body).toContain('name="purpose" type="text" required');
    expect(form.body).toContain('href="/reviews"');
    const r = await dsl.get('/review?kind=flagged&purpose=weekly%20safeguarding%20check');
    expect(r.status).toBe(200);
    expect(r.body).toContain('People with safeguarding alerts or flagged attempts');
    expect(r.body).toContain('p.pupil');
    expect(r.body).not.toContain('q.other');
    expect(r.body).toContain('weekly safeguarding check');
    expect(access(rig).at(-1)).toMatchObject({
      by: 'd.dsl.flag (dsl, console)',
      command: 'report flagged (console)',
      purpose: 'weekly safeguarding check',
      caseRef: null,
      format: 'html',
      outcome: 'granted',
    });
  });

  it('serves the headteacher the weekly review over a period, recorded', async () => {
    const head = await signedIn(rig, 'a.head.week');
    const r = await head.get('/review?kind=weekly&since=7d&purpose=governors%20report');
    expect(r.status).toBe(200);
    expect(r.body).toContain('Weekly safeguarding review');
    expect(r.body).toContain('Flagged attempts by person');
    expect(r.body).toContain('p.pupil');
    expect(r.body).not.toContain('q.other');
    expect(access(rig).at(-1)).toMatchObject({
      by: 'a.head.week (headteacher, console)',
      command: 'report weekly (console)',
      purpose: 'governors report',
      outcome: 'granted',
    });
  });

  it('refuses a review pulled without a purpose, and records the refusal', async () => {
    const dsl = await signedIn(rig, 'd.dsl.nopurpose');
    const r = await dsl.get('/review?kind=flagged&purpose=');
    expect(r.status).toBe(403);
    expect(r.body).toContain('SG_REPORT_REFUSED');
    expect(r.body).not.toContain('People with safeguarding alerts');
    expect(access(rig).at(-1)).toMatchObject({
      by: 'd.dsl.nopurpose (dsl, console)',
      command: 'report flagged (console)',
      outcome: 'refused',
    });
  });

  it('refuses a technician every page here with 403, each refusal recorded', async () => {
    const tech = await signedIn(rig, 't.tech');
    for (const p of [
      '/review?kind=flagged&purpose=curious',
      '/holds?purpose=curious',
      '/around/report?ref=2026-030&event=ev-ctx-1&purpose=curious',
    ]) {
      const before = access(rig).length;
      const r = await tech.get(p);
      expect(r.status).toBe(403);
      expect(r.body).toContain('SG_CONSOLE_FORBIDDEN');
      expect(r.body).not.toContain('p.pupil');
      const rows = access(rig);
      expect(rows.length).toBe(before + 1);
      expect(rows.at(-1)).toMatchObject({ by: 't.tech (technician, console)', outcome: 'refused' });
      expect(rows.at(-1)!.command).toContain(p.split('?')[0]!);
    }
  });

  it('lets the headteacher place, list and release a hold, each recorded as the CLI records it', async () => {
    const head = await signedIn(rig, 'a.head.hold');
    const placed = await head.postForm('/holds', '/holds', {
      kind: 'user',
      value: 'p.pupil',
      reason: 'police referral 14/11',
      purpose: 'hold review',
    });
    expect(placed.status).toBe(303);
    expect(placed.headers.location).toBe('/holds?purpose=hold%20review');
    const [hold] = holds(rig);
    expect(hold).toMatchObject({ kind: 'user', value: 'p.pupil', reason: 'police referral 14/11' });
    expect(hold!.by).toBe('a.head.hold (headteacher, console)');

    const list = await head.get('/holds?purpose=hold%20review');
    expect(list.status).toBe(200);
    expect(list.body).toContain('police referral 14/11');
    expect(list.body).toContain(`Release hold ${hold!.id}`);
    const released = await head.postForm('/holds?purpose=hold%20review', '/holds/release', {
      id: String(hold!.id),
      reason: 'police closed it',
      purpose: 'hold review',
    });
    expect(released.status).toBe(303);
    expect(holds(rig)[0]).toMatchObject({ releasedBy: 'a.head.hold (headteacher, console)' });
    const standing = await head.get('/holds?purpose=hold%20review');
    expect(standing.body).toContain('No standing holds.');
    const all = await head.get('/holds?purpose=hold%20review&all=1');
    expect(all.body).toContain('police closed it');

    const mine = access(rig).filter((a) => a.by === 'a.head.hold (headteacher, console)');
    expect(mine.map((a) => [a.command, a.subject, a.purpose, a.outcome])).toEqual([
      ['hold add (console)', 'p.pupil', 'police referral 14/11', 'granted'],
      ['hold list (console)', null, 'hold review', 'granted'],
      ['hold list (console)', null, 'hold review', 'granted'],
      ['hold release (console)', null, 'police closed it', 'granted'],
      ['hold list (console)', null, 'hold review', 'granted'],
      ['hold list (console)', null, 'hold review', 'granted'],
    ]);
  });

  it('refuses a hold on a user nobody knows, recorded, and places nothing', async () => {
    const head = await signedIn(rig, 'a.head.csrf2');
    const before = holds(rig).length;
    const r = await head.postForm('/holds', '/holds', {
      kind: 'user',
      value: 'k.nobody',
      reason: 'police referral',
    });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.body).toContain('k.nobody');
    expect(holds(rig).length).toBe(before);
    expect(access(rig).at(-1)).toMatchObject({ command: 'hold add (console)', outcome: 'refused' });
  });

  it('refuses the holds’ POSTs without this session’s CSRF token, and changes nothing', async () => {
    const head = await signedIn(rig, 'a.head.csrf');
    const before = holds(rig);
    const forged = await head.request('POST', '/holds', {
      kind: 'user',
      value: 'p.pupil',
      reason: 'forged',
    });
    expect(forged.status).toBe(403);
    expect(forged.body).toContain('Form refused');
    const other = new ConsoleClient(rig);
    const otherPage = await other.get('/sign-in');
    const token = /name="_csrf" value="([^"]+)"/.exec(otherPage.body)?.[1] ?? '';
    expect(token).not.toBe('');
    const crossed = await head.request('POST', '/holds/release', { _csrf: token, id: '1', reason: 'forged' });
    expect(crossed.status).toBe(403);
    expect(holds(rig)).toEqual(before);
  });

  it('serves a context report under a case, recorded; refuses a row of someone outside the case', async () => {
    const head = await signedIn(rig, 'a.head.ctx');
    const form = await head.get('/around?ref=2026-030&event=ev-ctx-1');
    expect(form.body).toContain('action="/around/report"');
    expect(form.body).toContain('value="ev-ctx-1"');
    const r = await head.get('/around/report?ref=2026-030&event=ev-ctx-1&minutes=30&purpose=disclosure');
    expect(r.status).toBe(200);
    expect(r.body).toContain('Context around ev-ctx-1');
    expect(r.body).toContain('maths.example');
    expect(r.body).not.toContain('other.example');
    expect(access(rig).at(-1)).toMatchObject({
      by: 'a.head.ctx (headteacher, console)',
      command: 'report around (console)',
      subject: 'p.pupil',
      caseRef: '2026-030',
      purpose: 'disclosure',
      outcome: 'granted',
    });
    const outside = await head.get('/around/report?ref=2026-030&event=ev-other&purpose=disclosure');
    expect(outside.status).toBe(403);
    expect(outside.body).not.toContain('other.example');
    expect(access(rig).at(-1)).toMatchObject({
      command: 'report around (console)',
      subject: 'q.other',
      outcome: 'refused',
    });
  });
});

describe('console reviews with reports.people set', () => {
  let rig: ConsoleRig;
  beforeAll(async () => {
    rig = await startConsoleRig(
      { 'd.dsl': 'dsl', 'f.tutor': 'dsl' },
      {
        reports: {
          people: [
            { name: 'd.dsl', roles: ['dsl'] },
            // A console DSL account whose person holds no reviewer role: the CLI's rule refuses the review.
            { name: 'f.tutor', roles: ['form-tutor'] },
          ],
        },
      },
    );
  });
  afterAll(async () => rig?.proxy.stop());

  it('grants a reviewer role the flagged review, and refuses (recorded) a person without one', async () => {
    const dsl = await signedIn(rig, 'd.dsl');
    const ok = await dsl.get('/review?kind=flagged&purpose=weekly%20safeguarding%20check');
    expect(ok.status).toBe(200);
    expect(access(rig).at(-1)).toMatchObject({ by: 'd.dsl', outcome: 'granted' });
    const tutor = await signedIn(rig, 'f.tutor');
    const refused = await tutor.get('/review?kind=weekly&purpose=weekly%20safeguarding%20check');
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('pull reviews outside a case');
    expect(refused.body).not.toContain('Weekly safeguarding review');
    expect(access(rig).at(-1)).toMatchObject({
      by: 'f.tutor',
      command: 'report weekly (console)',
      purpose: 'weekly safeguarding check',
      outcome: 'refused',
    });
  });
});
