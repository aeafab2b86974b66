/**
 * The technician's exceptions, unblock requests, admin-changes and self-test pages over real HTTPS, with
 * the running proxy, its state and audit databases: an exception added in the console is honoured by the
 * running proxy and removing it ends that; a request approved becomes an exception named for the signed-in
 * person, a denial keeps its note, each with its admin-changes row and audit row; the changes page shows
 * them and checks the chain (and finds an edit made behind its back); another role is refused and recorded.
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAccess } from '../../../src/audit/report-access.js';
import { openAdmin } from '../../../src/reports/run.js';
import { withState } from '../../../src/state/store.js';
import { hiddenFields } from '../../helpers/page-forms.js';
import { ConsoleClient, startConsoleRig, type ConsoleRig } from '../../helpers/console.js';
import { viaProxy } from '../../helpers/raw-http.js';

const HOSTILE = '<script>alert(1)</script>';
const BY = 't.tech (technician, console)';

describe('technician console: exceptions, requests, changes, self-test', { timeout: 60_000 }, () => {
  let rig: ConsoleRig;
  let tech: ConsoleClient;
  beforeAll(async () => {
    rig = await startConsoleRig({ 't.tech': 'technician', 'd.dsl': 'dsl' });
    tech = new ConsoleClient(rig);
    expect((await tech.signIn('t.tech')).status).toBe(303);
  });
  afterAll(async () => rig?.proxy.stop());

  it('an exception added in the console is honoured by the running proxy, and removing it ends that', async () => {
    const before = await viaProxy(rig.proxy.address.port, 'http://allowed.test/');
    expect(before.status).not.toBe(403);
    const added = await tech.postForm('/exceptions', '/exceptions/add', {
      site: 'allowed.test',
      action: 'block',
      scope: 'everyone',
      name: '',
      expires: '2w',
      reason: `ticket 7 ${HOSTILE}`,
    });
    expect(added.status).toBe(303);
    expect((await viaProxy(rig.proxy.address.port, 'http://allowed.test/')).status).toBe(403);

    const list = await tech.get('/exceptions');
    expect(list.status).toBe(200);
    expect(list.body).toContain('allowed.test');
    expect(list.body).toContain(BY);
    expect(list.body).toContain('ticket 7 &lt;script&gt;');
    expect(list.body).not.toContain(HOSTILE);
    const db = openStateDatabase(rig);
    const id = String(
      (db.prepare("SELECT id FROM exceptions WHERE site = 'allowed.test'").pluck().get() as number) ?? 0,
    );
    db.close();

    const removed = await tech.postForm('/exceptions', '/exceptions/remove', { id, reason: 'done' });
    expect(removed.status).toBe(303);
    expect((await viaProxy(rig.proxy.address.port, 'http://allowed.test/')).status).not.toBe(403);
    expect((await tech.get('/exceptions')).body).toContain('No exceptions in force.');
    expect((await tech.get('/exceptions?all=1')).body).toContain(`removed`);
    const changes = await tech.get('/changes?action=exceptions');
    expect(changes.body).toContain('exceptions.add');
    expect(changes.body).toContain('exceptions.remove');
  });

  it('refuses an exception that says neither whom nor why, with the CLI’s own checks', async () => {
    const noName = await tech.postForm('/exceptions', '/exceptions/add', {
      site: 'x.test',
      action: 'allow',
      scope: 'user',
      name: '',
      reason: 'r',
    });
    expect(noName.status).toBe(400);
    const badProfile = await tech.postForm('/exceptions', '/exceptions/add', {
      site: 'x.test',
      action: 'allow',
      scope: 'profile',
      name: HOSTILE,
      reason: 'r',
    });
    expect(badProfile.status).toBe(400);
    expect(badProfile.body).toContain('SG_PROFILE_UNKNOWN');
    expect(badProfile.body).not.toContain(HOSTILE);
  });

  it('approves and denies unblock requests as the CLI does, named for the signed-in person', async () => {
    await withState(rig.config.dataDir, (s) => {
      const base = { profile: 'pupil', url: 'http://blocked.example/', blockRef: '', clientIp: '10.1.2.4' };
      s.requests.submit(
        { ...base, subject: 'user:jo', user: 'jo', site: 'blocked.example', reason: `homework ${HOSTILE}` },
        Date.now(),
      );
      s.requests.submit(
        { ...base, subject: 'user:al', user: 'al', site: 'a.b.blocked.example', reason: 'games' },
        Date.now(),
      );
    });
    const page = await tech.get('/requests');
    expect(page.status).toBe(200);
    expect(page.body).toContain('homework &lt;script&gt;');
    expect(page.body).not.toContain(HOSTILE);
    const ids = await withState(rig.config.dataDir, (s) => s.requests.list({ status: 'pending' }));
    const [jo, al] = ids.map((r) => String(r.id));

    const approved = await tech.postForm('/requests', '/requests/approve', {
      id: jo!,
      note: 'for the project',
      expires: '',
    });
    expect(approved.status).toBe(303);
    expect(decodeURIComponent(String(approved.headers.location))).toContain('for user jo');
    const denied = await tech.postForm('/requests', '/requests/deny', { id: al!, note: 'use the library' });
    expect(denied.status).toBe(303);
    const again = await tech.postForm('/requests', '/requests/deny', { id: al!, note: '' });
    expect(again.status).toBe(400);
    expect(again.body).toContain('already denied');
    expect((await tech.get('/requests')).body).toContain('No waiting unblock requests.');
    expect((await tech.get('/requests?all=1')).body).toContain(`denied by ${BY}`);

    const decided = await withState(rig.config.dataDir, (s) => s.requests.list());
    expect(decided.map((r) => [r.user, r.status, r.decidedBy])).toEqual(
      expect.arrayContaining([
        ['jo', 'approved', BY],
        ['al', 'denied', BY],
      ]),
    );
    const exception = await withState(rig.config.dataDir, (s) =>
      s.exceptions.list({ now: new Date() }).find((e) => e.origin === `request:${jo}`),
    );
    expect(exception).toMatchObject({ scope: { kind: 'user', name: 'jo' }, action: 'allow', createdBy: BY });
    const audit = new Database(path.join(rig.config.dataDir, 'audit.sqlite'), { readonly: true });
    const rows = audit
      .prepare("SELECT action, username, note FROM audit_events WHERE action LIKE 'unblock-%' ORDER BY seq")
      .all();
    audit.close();
    expect(rows).toEqual([
      { action: 'unblock-approved', username: 'jo', note: `by ${BY}: for the project` },
      { action: 'unblock-denied', username: 'al', note: `by ${BY}: use the library` },
    ]);
  });

  it('shows the admin-changes record, checks its chain, and finds a change edited behind its back', async () => {
    const page = await tech.get(`/changes?since=${encodeURIComponent('2000-01-01')}&action=requests`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('requests.approve');
    expect(page.body).not.toContain('exceptions.add');
    const ok = await tech.get('/changes?verify=1');
    expect(ok.status).toBe(200);
    expect(ok.body).toMatch(/Chain check: ok,\s+\d+\s+changes chained/);
    expect((await tech.get(`/changes?since=${encodeURIComponent(HOSTILE)}`)).status).toBe(400);

    const db = new Database(path.join(rig.config.dataDir, 'state.sqlite'));
    const denyId = db.prepare("SELECT id FROM admin_changes WHERE action = 'requests.deny'").pluck().get();
    // An edit made by hand, its guarding trigger dropped first: the chain no longer follows.
    db.exec('DROP TRIGGER admin_changes_no_update');
    db.prepare("UPDATE admin_changes SET reason = 'edited' WHERE action = 'requests.deny'").run();
    db.close();
    const broken = await tech.get('/changes?verify=1');
    expect(broken.status).toBe(409);
    expect(broken.body).toContain(`The admin-changes record is broken at change ${String(denyId)}`);
    expect(broken.body).toContain('SG_AUDIT_TAMPERED');
  });

  it('shows recorded self-test runs', async () => {
    expect((await tech.get('/selftest')).body).toContain('No selftest runs recorded');
    await withState(rig.config.dataDir, (s) =>
      s.selftests.record({ passed: 11, failed: 2, result: {}, by: `IT ${HOSTILE}` }),
    );
    const page = await tech.get('/selftest');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<td>11</td>');
    expect(page.body).toContain('IT &lt;script&gt;');
    expect(page.body).not.toContain(HOSTILE);
  });

  it('refuses another role with 403 and records the refusal; a form without its token is refused', async () => {
    const dsl = new ConsoleClient(rig);
    await dsl.signIn('d.dsl');
    for (const p of ['/exceptions', '/requests', '/changes', '/selftest'])
      expect((await dsl.get(p)).status, p).toBe(403);
    const db = openAdmin(rig.config);
    const rows = listAccess(db, {}).filter((r) => r.by === 'd.dsl (dsl, console)');
    db.close();
    expect(rows.map((r) => r.command)).toEqual(
      expect.arrayContaining([
        'exceptions list /exceptions (console)',
        'changes /changes (console)',
        'selftest --history /selftest (console)',
      ]),
    );
    const forged = await tech.request('POST', '/exceptions/add', {
      site: 'x.test',
      action: 'allow',
      scope: 'everyone',
      reason: 'forged',
    });
    expect(forged.status).toBe(403);
    const csrf = hiddenFields((await tech.get('/exceptions')).body)._csrf;
    expect(csrf).toBeTruthy();
  });
});

function openStateDatabase(rig: ConsoleRig): Database.Database {
  return new Database(path.join(rig.config.dataDir, 'state.sqlite'), { readonly: true });
}
