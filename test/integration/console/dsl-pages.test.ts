/**
 * The DSL's self-reports and unblock requests, and the reviews' CSV downloads, over real HTTPS with a real
 * proxy, state and audit database: each look recorded (person, role, purpose, format) and found after the
 * response; a technician or auditor refused (403, recorded); hostile names, sites and comments escaped in
 * the page, neutralised in the CSV, and kept out of the download's file name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvFileName } from '../../../src/console/download.js';
import { UserStore } from '../../../src/identity/user-store.js';
import { withState } from '../../../src/state/store.js';
import { auditEvent } from '../../helpers/audit-event.js';
import {
  accessRows,
  openTestCase,
  signedIn,
  startConsoleRig,
  type ConsoleRig,
} from '../../helpers/console.js';

/** One account per sign-in with a code: a TOTP code is good once. */
const ACCOUNTS = {
  'd.self': 'dsl',
  'd.self.csv': 'dsl',
  'd.req': 'dsl',
  'd.req.nopurpose': 'dsl',
  'd.review.csv': 'dsl',
  'a.head.self': 'headteacher',
  'a.head.ctx': 'headteacher',
  't.tech': 'technician',
  't.tech.req': 'technician',
  'g.audit': 'auditor',
};
const HOSTILE_COMMENT = '=HYPERLINK("http://evil.example","click") <script>alert(1)</script>';
const HOSTILE_SITE = 'evil.example';
const HOSTILE_REASON = '<img src=x onerror=alert(1)> "please"';
/** An audit reference with path traversal, quotes and a header line in it (the around export's name). */
const HOSTILE_EVENT = '../../etc/passwd"\r\nSet-Cookie: x=1';

const access = accessRows;

describe('console: the DSL’s self-reports and unblock requests, and CSV downloads', () => {
  let rig: ConsoleRig;
  beforeAll(async () => {
    rig = await startConsoleRig(ACCOUNTS);
    const users = new UserStore(rig.config.dataDir);
    await users.add({ name: 'p.pupil', profile: 'pupil', password: 'pupil-password-1' });
    users.close();
    const t = Date.now() - 3_600_000;
    const pupil = { user: 'p.pupil', profile: 'pupil' };
    const block = { ...pupil, action: 'block' as const, categories: ['games'], host: 'games.example' };
    await rig.proxy.audit.record(auditEvent({ ...block, id: 'ev-block-1', time: t }));
    // Matched: the same person and site, after the block it names.
    await rig.proxy.audit.record(
      auditEvent({
        ...pupil,
        id: 'ev-self-1',
        time: t + 60_000,
        host: 'games.example',
        action: 'self-report',
        reason: 'self-report:ev-block-1',
        note: 'I was looking for maths games',
      }),
    );
    // Unmatched: a reference that names no block; a comment and a name that try formulas and markup.
    await rig.proxy.audit.record(
      auditEvent({
        user: '@SUM(1)',
        profile: 'pupil',
        id: 'ev-self-2',
        time: t + 120_000,
        host: HOSTILE_SITE,
        action: 'self-report',
        reason: 'self-report:ev-invented',
        note: HOSTILE_COMMENT,
      }),
    );
    await rig.proxy.audit.record(auditEvent({ ...pupil, id: HOSTILE_EVENT, time: t + 180_000 }));
    await withState(rig.config.dataDir, (s) =>
      s.requests.submit(
        {
          subject: 'user:p.pupil',
          user: 'p.pupil',
          clientIp: '127.0.0.1',
          profile: 'pupil',
          site: 'games.example',
          url: 'http://games.example/',
          reason: HOSTILE_REASON,
          blockRef: 'ev-block-1',
        },
        Date.now(),
      ),
    );
    openTestCase(rig, '2026-040', 'p.pupil');
  });
  afterAll(async () => rig?.proxy.stop());

  it('shows the DSL the period’s self-reports, matched and UNMATCHED, escaped, recorded before sending', async () => {
    const dsl = await signedIn(rig, 'd.self');
    const form = await dsl.get('/self-reports');
    expect(form.status).toBe(200);
    expect(form.body).toContain('action="/self-reports/report"');
    expect(form.body).toContain('href="/dsl/requests"');
    const r = await dsl.get('/self-reports/report?since=7d&purpose=weekly%20self-report%20check');
    expect(r.status).toBe(200);
    expect(r.body).toContain('I was looking for maths games');
    expect(r.body).toContain('matches the block of games.example');
    expect(r.body).toContain('UNMATCHED: no block with this reference');
    expect(r.body).not.toContain('<script>alert(1)</script>');
    expect(r.body).toContain('&lt;script&gt;');
    expect(access(rig).at(-1)).toMatchObject({
      by: 'd.self (dsl, console)',
      command: 'report self-reports (console)',
      purpose: 'weekly self-report check',
      format: 'html',
      outcome: 'granted',
    });
  });

  it('downloads the self-reports as CSV with formulas neutralised, recorded as csv', async () => {
    const dsl = await signedIn(rig, 'd.self.csv');
    const r = await dsl.get('/self-reports/report?since=7d&purpose=export%20for%20file&format=csv');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toContain('text/csv');
    expect(r.headers['content-disposition']).toBe('attachment; filename="report-self-reports.csv"');
    expect(r.body).toContain('UNMATCHED');
    // Neither the comment nor the name can start a formula in a spreadsheet.
    expect(r.body).toContain(`"'=HYPERLINK(`);
    expect(r.body).not.toMatch(/(^|,)"?=HYPERLINK/m);
    expect(r.body).not.toMatch(/(^|,)"?@SUM/m);
    expect(access(rig).at(-1)).toMatchObject({
      by: 'd.self.csv (dsl, console)',
      command: 'report self-reports (console)',
      format: 'csv',
      outcome: 'granted',
    });
  });

  it('lets the headteacher see self-reports too, recorded', async () => {
    const head = await signedIn(rig, 'a.head.self');
    const r = await head.get('/self-reports/report?purpose=governors%20review');
    expect(r.status).toBe(200);
    expect(r.body).toContain('games.example');
    expect(access(rig).at(-1)).toMatchObject({
      by: 'a.head.self (headteacher, console)',
      outcome: 'granted',
    });
  });

  it('shows the DSL the waiting unblock requests read-only, escaped, only after a purpose is recorded', async () => {
    const dsl = await signedIn(rig, 'd.req');
    const before = access(rig).length;
    const form = await dsl.get('/dsl/requests');
    expect(form.status).toBe(200);
    expect(form.body).not.toContain('games.example');
    expect(access(rig).length).toBe(before);
    const r = await dsl.get('/dsl/requests?purpose=passing%20requests%20on');
    expect(r.status).toBe(200);
    expect(r.body).toContain('games.example');
    expect(r.body).toContain('p.pupil');
    expect(r.body).not.toContain('<img src=x');
    expect(r.body).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(r.body).not.toContain('action="/requests/approve"');
    expect(access(rig).at(-1)).toMatchObject({
      by: 'd.req (dsl, console)',
      command: 'requests list (console)',
      purpose: 'passing requests on',
      outcome: 'granted',
    });
  });

  it('refuses the requests list with too short a purpose, recorded, names not shown', async () => {
    const dsl = await signedIn(rig, 'd.req.nopurpose');
    const r = await dsl.get('/dsl/requests?purpose=x');
    expect(r.status).toBe(403);
    expect(r.body).not.toContain('games.example');
    expect(access(rig).at(-1)).toMatchObject({ command: 'requests list (console)', outcome: 'refused' });
  });

  it('records the technician’s own unblock-requests page as a look', async () => {
    const tech = await signedIn(rig, 't.tech.req');
    const r = await tech.get('/requests');
    expect(r.status).toBe(200);
    expect(r.body).toContain('games.example');
    expect(access(rig).at(-1)).toMatchObject({
      by: 't.tech.req (technician, console)',
      command: 'requests list (console)',
      purpose: 'deciding unblock requests',
      outcome: 'granted',
    });
  });

  it('refuses a technician and an auditor these pages and downloads with 403, each refusal recorded', async () => {
    for (const name of ['t.tech', 'g.audit']) {
      const who = await signedIn(rig, name);
      for (const p of [
        '/self-reports/report?purpose=curious%20look',
        '/dsl/requests?purpose=curious%20look',
        '/review?kind=weekly&purpose=curious%20look&format=csv',
      ]) {
        const before = access(rig).length;
        const r = await who.get(p);
        expect(r.status).toBe(403);
        expect(r.body).toContain('SG_CONSOLE_FORBIDDEN');
        expect(r.body).not.toContain('games.example');
        expect(r.headers['content-disposition']).toBeUndefined();
        const rows = access(rig);
        expect(rows.length).toBe(before + 1);
        expect(rows.at(-1)).toMatchObject({ outcome: 'refused' });
        expect(rows.at(-1)!.by).toContain(name);
        expect(rows.at(-1)!.command).toContain(p.split('?')[0]!);
      }
    }
  });

  it('downloads the weekly and flagged reviews as the CLI’s CSV, each recorded as csv', async () => {
    const dsl = await signedIn(rig, 'd.review.csv');
    for (const kind of ['weekly', 'flagged']) {
      const r = await dsl.get(`/review?kind=${kind}&since=7d&purpose=filing%20the%20review&format=csv`);
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toContain('text/csv');
      expect(r.headers['content-disposition']).toBe(`attachment; filename="report-${kind}.csv"`);
      expect(r.body.split('\r\n')[0]).toMatch(kind === 'weekly' ? /^Category,Attempts/ : /^#,Person/);
      expect(access(rig).at(-1)).toMatchObject({
        command: `report ${kind} (console)`,
        format: 'csv',
        outcome: 'granted',
      });
    }
  });

  it('keeps a hostile audit reference out of the context export’s file name', async () => {
    const head = await signedIn(rig, 'a.head.ctx');
    const r = await head.get(
      `/around/report?ref=2026-040&event=${encodeURIComponent(HOSTILE_EVENT)}&purpose=disclosure%20follow-up&format=csv`,
    );
    expect(r.status).toBe(200);
    expect(r.headers['set-cookie']).toBeUndefined();
    expect(r.headers['content-disposition']).toBe(
      'attachment; filename="report-2026-040-around-_etc_passwd_Set-Cookie_x_1.csv"',
    );
    expect(r.body.split('\r\n')[0]).toMatch(/^reference,seq,/);
    expect(access(rig).at(-1)).toMatchObject({
      command: 'report around (console)',
      caseRef: '2026-040',
      format: 'csv',
      outcome: 'granted',
    });
  });
});

describe('csvFileName', () => {
  it('builds the name from safe characters only', () => {
    expect(csvFileName(['../../etc/passwd'])).toBe('report-_etc_passwd.csv');
    expect(csvFileName(['a"b', 'c\r\nSet-Cookie: x'])).toBe('report-a_b-c_Set-Cookie_x.csv');
    expect(csvFileName(['..', '/'])).toBe('report-_-_.csv');
    expect(csvFileName([''])).toBe('report-export.csv');
    expect(csvFileName(['x'.repeat(300)])).toHaveLength('report-.csv'.length + 100);
  });
});
