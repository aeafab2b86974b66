/**
 * The console over real HTTPS (no browser): cookie flags, session fixation, CSRF, wrong codes counted,
 * lock-out, HTML injection escaped, path traversal in the export route, a technician refused a report (403,
 * recorded), a headteacher's report recorded with person, role, case and purpose, a technician's list
 * change reaching the running proxy, and the network limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertAlert } from '../../../src/audit/alerts-table.js';
import { openCase } from '../../../src/audit/cases.js';
import { listAccess } from '../../../src/audit/report-access.js';
import { ConsoleAccounts } from '../../../src/console/accounts.js';
import { totpCode } from '../../../src/console/totp.js';
import { UserStore } from '../../../src/identity/user-store.js';
import { openAdmin } from '../../../src/reports/run.js';
import { openStateDatabase } from '../../../src/state/database.js';
import { ConsoleClient, startConsoleRig, type ConsoleRig } from '../../helpers/console.js';
import { viaProxy } from '../../helpers/raw-http.js';

/** One account per test that signs in with a code: a TOTP code is good once (a replayed step is refused). */
const ACCOUNTS = {
  'a.head.trav': 'headteacher',
  'a.head.rep': 'headteacher',
  'a.head.case': 'headteacher',
  'd.dsl.inbox': 'dsl',
  'd.dsl.replay': 'dsl',
  'a.head': 'headteacher',
  'd.dsl': 'dsl',
  't.tech': 'technician',
  'g.aud': 'auditor',
  'l.lock': 'dsl',
};
const HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)>';

function signIns(rig: ConsoleRig, name: string) {
  const db = openStateDatabase(rig.config.dataDir);
  try {
    return {
      account: new ConsoleAccounts(db).get(name)!,
      rows: new ConsoleAccounts(db).signIns().filter((r) => r.name === name),
    };
  } finally {
    db.close();
  }
}

describe('web console over HTTPS', () => {
  let rig: ConsoleRig;
  beforeAll(async () => {
    rig = await startConsoleRig(ACCOUNTS, { console: { lockAfterFailures: 3 } });
    const users = new UserStore(rig.config.dataDir);
    await users.add({ name: 'p.pupil', profile: 'pupil', password: 'pupil-password-1' });
    users.close();
    const db = openAdmin(rig.config);
    try {
      openCase(db, {
        ref: '2026-014',
        subjects: [{ kind: 'user', value: 'p.pupil' }],
        by: 'A. Head',
        osUser: 'test',
        now: Date.now(),
      });
      upsertAlert(db, {
        id: 'alert-hostile',
        firstTime: Date.now(),
        lastTime: Date.now(),
        count: 1,
        user: 'p.pupil',
        profile: 'pupil',
        clientIp: '10.0.0.9',
        device: null,
        rule: 'keyword:selfharm',
        list: null,
        severity: 'danger',
        url: `http://search.test/?q=${HOSTILE}`,
        searchTerm: HOSTILE,
        phrase: HOSTILE,
        auditRowIds: [],
      });
    } finally {
      db.close();
    }
  });
  afterAll(async () => rig?.proxy.stop());

  it('sets the session cookie httpOnly, Secure, SameSite=Strict, __Host- (Path=/, no Domain)', async () => {
    const c = new ConsoleClient(rig);
    const r = await c.signIn('t.tech');
    expect(r.status).toBe(303);
    const cookie = ([] as string[])
      .concat(r.headers['set-cookie'] ?? [])
      .find((s) => s.startsWith('__Host-sg-console='));
    expect(cookie).toBeDefined();
    expect(cookie).toMatch(/; HttpOnly/i);
    expect(cookie).toMatch(/; Secure/i);
    expect(cookie).toMatch(/; SameSite=Strict/i);
    expect(cookie).toMatch(/; Path=\//i);
    expect(cookie).not.toMatch(/Domain=/i);
    expect(r.headers['content-security-policy']).toContain("default-src 'none'");
  });

  it('gives a new session id at sign-in: a planted or earlier id never becomes the signed-in one', async () => {
    const c = new ConsoleClient(rig);
    c.cookies.set('__Host-sg-console', 'planted-by-attacker');
    await c.signIn('t.tech');
    const first = c.cookies.get('__Host-sg-console')!;
    expect(first).not.toBe('planted-by-attacker');
    expect(first.length).toBeGreaterThanOrEqual(40);
    const stolen = new ConsoleClient(rig);
    stolen.cookies.set('__Host-sg-console', first);
    expect((await stolen.get('/status')).status).toBe(200);
    await c.signIn('t.tech'); // signing in again ends the old session
    const second = c.cookies.get('__Host-sg-console')!;
    expect(second).not.toBe(first);
    const old = await stolen.get('/status');
    expect(old.status).toBe(303);
    expect(old.headers.location).toBe('/sign-in');
  });

  it('refuses a forged cross-site POST (no token, or another session’s token) and changes nothing', async () => {
    const head = new ConsoleClient(rig);
    expect((await head.signIn('a.head')).status).toBe(303);
    const forged = await head.request(
      'POST',
      '/cases',
      { ref: 'FORGED-1', subject: 'p.pupil', note: 'x' },
      { origin: 'https://evil.test' },
    );
    expect(forged.status).toBe(403);
    const other = new ConsoleClient(rig);
    const otherPage = await other.get('/sign-in');
    const token = /name="_csrf" value="([^"]+)"/.exec(otherPage.body)![1]!;
    const replayed = await head.request('POST', '/cases', {
      _csrf: token,
      ref: 'FORGED-2',
      subject: 'p.pupil',
      note: 'x',
    });
    expect(replayed.status).toBe(403);
    const list = await head.get('/cases');
    expect(list.body).not.toContain('FORGED-');
  });

  it('refuses a wrong TOTP code and counts it, recording the failure', async () => {
    const c = new ConsoleClient(rig);
    const before = signIns(rig, 'd.dsl');
    const r = await c.signIn('d.dsl', '000000');
    expect(r.status).toBe(401);
    expect(c.cookies.has('__Host-sg-console')).toBe(false);
    const after = signIns(rig, 'd.dsl');
    expect(after.account.failures).toBe(before.account.failures + 1);
    expect(after.rows[0]).toMatchObject({ outcome: 'failed', reason: 'bad-code', clientIp: '127.0.0.1' });
    expect((await c.signIn('d.dsl')).status).toBe(303); // the right code still works, and clears the count
    expect(signIns(rig, 'd.dsl').account.failures).toBe(0);
  });

  it('refuses a TOTP code used once already (seen over a shoulder)', async () => {
    const secret = rig.secrets.get('d.dsl.replay')!;
    const code = totpCode(secret, Date.now());
    expect((await new ConsoleClient(rig).signIn('d.dsl.replay', code)).status).toBe(303);
    expect((await new ConsoleClient(rig).signIn('d.dsl.replay', code)).status).toBe(401);
  });

  it('locks an account after lockAfterFailures failures: the right password and code are refused too', async () => {
    const c = new ConsoleClient(rig);
    for (let i = 0; i < 3; i++)
      expect((await c.signIn('l.lock', undefined, 'wrong password here')).status).toBe(401);
    const locked = await c.signIn('l.lock');
    expect(locked.status).toBe(401);
    expect(locked.body).toContain('locked');
    const s = signIns(rig, 'l.lock');
    expect(s.account.lockedUntil).toBeGreaterThan(Date.now());
    expect(s.rows.map((r) => r.outcome)).toEqual(['locked', 'locked', 'failed', 'failed']);
  });

  it('escapes a hostile search term and URL in the alerts inbox and a hostile search in lists', async () => {
    const dsl = new ConsoleClient(rig);
    await dsl.signIn('d.dsl.inbox');
    const inbox = await dsl.get('/alerts');
    expect(inbox.status).toBe(200);
    expect(inbox.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(inbox.body).not.toContain('<script>');
    expect(inbox.body).not.toContain('<img src=x');
    const tech = new ConsoleClient(rig);
    await tech.signIn('t.tech');
    const find = await tech.get(`/lists?find=${encodeURIComponent(HOSTILE)}`);
    expect(find.body).not.toContain('<script>');
    expect(find.body).toContain('&lt;script&gt;');
  });

  it('refuses path traversal in the report export and never names a path in the file name', async () => {
    const head = new ConsoleClient(rig);
    await head.signIn('a.head.trav');
    for (const ref of ['../../../../etc/passwd', 'a/../../../etc/passwd', '..%2F..%2Fetc%2Fpasswd']) {
      const r = await head.get(
        `/case/report?ref=${encodeURIComponent(ref)}&user=p.pupil&purpose=x&format=csv`,
      );
      expect([400, 403]).toContain(r.status);
      expect(r.body).not.toMatch(/root:.*:0:0:/);
      expect(r.headers['content-disposition']).toBeUndefined();
    }
    const ok = await head.get('/case/report?ref=2026-014&user=p.pupil&purpose=concern%20raised&format=csv');
    expect(ok.status).toBe(200);
    expect(ok.headers['content-disposition']).toBe('attachment; filename="report-2026-014-p_pupil.csv"');
  });

  it('records the headteacher’s report (person, role, case, purpose) and serves the CLI’s HTML report', async () => {
    const head = new ConsoleClient(rig);
    await head.signIn('a.head.rep');
    const r = await head.get('/case/report?ref=2026-014&user=p.pupil&purpose=pastoral%20concern&format=html');
    expect(r.status).toBe(200);
    expect(r.body).toContain('p.pupil');
    const db = openAdmin(rig.config);
    const rows = listAccess(db, { caseRef: '2026-014' });
    db.close();
    expect(rows.at(-1)).toMatchObject({
      by: 'a.head.rep (headteacher, console)',
      caseRef: '2026-014',
      subject: 'p.pupil',
      outcome: 'granted',
      command: 'report user (console)',
      purpose: 'pastoral concern',
    });
  });

  it('adds a note to a case, closes it with an outcome and reopens it, each recorded', async () => {
    const head = new ConsoleClient(rig);
    await head.signIn('a.head.case');
    const db0 = openAdmin(rig.config);
    openCase(db0, {
      ref: '2026-015',
      subjects: [{ kind: 'user', value: 'p.pupil' }],
      by: 'x',
      osUser: 'test',
      now: Date.now(),
    });
    db0.close();
    const page = '/case?ref=2026-015';
    expect(
      (await head.postForm(page, '/case/note', { ref: '2026-015', text: 'Met the parents' })).status,
    ).toBe(303);
    expect(
      (await head.postForm(page, '/case/close', { ref: '2026-015', text: 'no further action' })).status,
    ).toBe(303);
    const closed = await head.get(page);
    expect(closed.body).toContain('Met the parents');
    expect(closed.body).toContain('Outcome: no further action');
    expect(
      (await head.postForm(page, '/case/reopen', { ref: '2026-015', text: 'new evidence' })).status,
    ).toBe(303);
    expect((await head.get(page)).body).toContain('open, opened');
    const db = openAdmin(rig.config);
    const rows = listAccess(db, { caseRef: '2026-015' });
    db.close();
    expect(rows.map((r) => r.command)).toEqual([
      'case note (console)',
      'case close (console)',
      'case reopen (console)',
    ]);
    expect(rows.every((r) => r.by === 'a.head.case (headteacher, console)')).toBe(true);
  });

  it('lets the auditor run the tamper check and see its result', async () => {
    const aud = new ConsoleClient(rig);
    await aud.signIn('g.aud');
    expect((await aud.postForm('/access-log', '/tamper-check', {})).status).toBe(303);
    const page = await aud.get('/access-log');
    expect(page.body).toContain('chain intact');
  });

  it('refuses a technician a person’s report with 403, and records the refusal', async () => {
    const tech = new ConsoleClient(rig);
    await tech.signIn('t.tech');
    const r = await tech.get('/case/report?ref=2026-014&user=p.pupil&purpose=curious&format=html');
    expect(r.status).toBe(403);
    expect(r.body).toContain('SG_CONSOLE_FORBIDDEN');
    expect(r.body).not.toContain('Pulled by');
    const db = openAdmin(rig.config);
    const rows = listAccess(db, {});
    db.close();
    expect(rows.at(-1)).toMatchObject({
      by: 't.tech (technician, console)',
      subject: 'p.pupil',
      outcome: 'refused',
    });
  });

  it('explains a decision of the running proxy for a profile, escaping what was asked', async () => {
    const tech = new ConsoleClient(rig);
    await tech.signIn('t.tech');
    const r = await tech.get('/explain?url=a.b.blocked.example&profile=pupil');
    expect(r.status).toBe(200);
    expect(r.body).toContain('<strong>block</strong> (profile pupil)');
    expect(r.body).toContain('adult');
    const hostile = await tech.get(`/explain?url=x.test&profile=${encodeURIComponent(HOSTILE)}`);
    expect(hostile.body).toContain('There is no profile');
    expect(hostile.body).not.toContain('<script>');
  });

  it('a technician’s list addition reaches the running proxy, with its reason recorded', async () => {
    const before = await viaProxy(rig.proxy.address.port, 'http://notblocked.example/');
    expect(before.status).not.toBe(403);
    const tech = new ConsoleClient(rig);
    await tech.signIn('t.tech');
    const r = await tech.postForm('/lists', '/lists/add', {
      category: 'adult',
      entry: 'notblocked.example',
      reason: 'ticket 42',
    });
    expect(r.status).toBe(303);
    const after = await viaProxy(rig.proxy.address.port, 'http://notblocked.example/');
    expect(after.status).toBe(403);
    const db = openStateDatabase(rig.config.dataDir);
    const change = db.prepare("SELECT by_name, reason FROM admin_changes WHERE action = 'lists.add'").get();
    db.close();
    expect(change).toEqual({ by_name: 't.tech (technician, console)', reason: 'ticket 42' });
  });
});

describe('web console sign-in limits', () => {
  it('answers 429 once an address has made signInsPerMinute attempts, whatever the account', async () => {
    const rig = await startConsoleRig({ 't.tech': 'technician' }, { console: { signInsPerMinute: 3 } });
    try {
      const c = new ConsoleClient(rig);
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++)
        statuses.push((await c.signIn(`nobody${i}`, '', 'wrong password here')).status);
      expect(statuses).toEqual([401, 401, 401, 429]);
      expect((await c.signIn('t.tech')).status).toBe(429);
    } finally {
      await rig.proxy.stop();
    }
  });

  it('signs out with the form (CSRF-checked), ending the session; a removed account’s session ends too', async () => {
    const rig = await startConsoleRig({ 't.tech': 'technician', 't.two': 'technician' });
    try {
      const c = new ConsoleClient(rig);
      await c.signIn('t.tech');
      const id = c.cookies.get('__Host-sg-console')!;
      expect((await c.postForm('/status', '/sign-out', {})).status).toBe(303);
      const reuse = new ConsoleClient(rig);
      reuse.cookies.set('__Host-sg-console', id);
      expect((await reuse.get('/status')).status).toBe(303);
      const two = new ConsoleClient(rig);
      await two.signIn('t.two');
      expect((await two.get('/status')).status).toBe(200);
      const db = openStateDatabase(rig.config.dataDir);
      new ConsoleAccounts(db).remove('t.two');
      db.close();
      expect((await two.get('/status')).status).toBe(303);
    } finally {
      await rig.proxy.stop();
    }
  });
});

describe('web console networks', () => {
  it('answers 403 to a client outside console.networks', async () => {
    const rig = await startConsoleRig(
      { 't.tech': 'technician' },
      { console: { networks: ['10.99.0.0/16'] } },
    );
    try {
      const r = await new ConsoleClient(rig).get('/sign-in');
      expect(r.status).toBe(403);
      expect(r.body).not.toContain('<form');
    } finally {
      await rig.proxy.stop();
    }
  });
});

describe('web console with reports.people set', () => {
  let rig: ConsoleRig;
  beforeAll(async () => {
    rig = await startConsoleRig(
      { 'a.head': 'headteacher', 'x.stranger': 'headteacher' },
      {
        reports: {
          // An OS account that is not the test's: the console signs people in itself, so it must not matter.
          people: [{ name: 'A.Head', osUser: 'nobody-here', roles: ['headteacher'] }],
        },
      },
    );
    const users = new UserStore(rig.config.dataDir);
    await users.add({ name: 'p.pupil', profile: 'pupil', password: 'pupil-password-1' });
    users.close();
    const db = openAdmin(rig.config);
    try {
      openCase(db, {
        ref: '2026-020',
        subjects: [{ kind: 'user', value: 'p.pupil' }],
        by: 'A.Head',
        osUser: 'test',
        now: Date.now(),
      });
    } finally {
      db.close();
    }
  });
  afterAll(async () => rig?.proxy.stop());

  it('grants a console account that is one of the people, recorded under their name there', async () => {
    const head = new ConsoleClient(rig);
    expect((await head.signIn('a.head')).status).toBe(303);
    const r = await head.get('/case/report?ref=2026-020&user=p.pupil&purpose=pastoral%20concern&format=html');
    expect(r.status).toBe(200);
    const db = openAdmin(rig.config);
    const rows = listAccess(db, { caseRef: '2026-020' });
    db.close();
    expect(rows.at(-1)).toMatchObject({ by: 'A.Head', outcome: 'granted', command: 'report user (console)' });
  });

  it('refuses a console account that is none of the people, and records the refusal', async () => {
    const other = new ConsoleClient(rig);
    expect((await other.signIn('x.stranger')).status).toBe(303);
    const r = await other.get(
      '/case/report?ref=2026-020&user=p.pupil&purpose=pastoral%20concern&format=html',
    );
    expect(r.status).toBe(403);
    const db = openAdmin(rig.config);
    const rows = listAccess(db, { caseRef: '2026-020' });
    db.close();
    expect(rows.at(-1)).toMatchObject({
      by: 'x.stranger',
      outcome: 'refused',
      command: 'report user (console)',
    });
    expect(rows.at(-1)!.reason).toContain('reports.people');
  });
});
