/**
 * The technician's users, networks, imports and reload over real HTTPS against the running proxy: a user
 * added in the console can sign in to the proxy and a removed one cannot; a network added gives the
 * loopback client its profile; a pasted list is imported as a background job whose page shows the real
 * import's progress (held after its first 64 KiB block) and then its summary, and the running proxy blocks
 * the new entry; a broken list keeps the old one and shows its SG code; a second import while one runs is
 * refused; the reload button records who and why. Every change is in the admin-changes record with the
 * signed-in person; other roles get 403 and a recorded refusal; every new form needs its CSRF token; a
 * hostile name or list line is escaped; a password is never put back into a page.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAccess } from '../../../src/audit/report-access.js';
import type { ImportJob } from '../../../src/console/imports.js';
import { openAdmin } from '../../../src/reports/run.js';
import { withState } from '../../../src/state/store.js';
import { ConsoleClient, startConsoleRig, type ConsoleRig } from '../../helpers/console.js';
import { basic, viaProxy } from '../../helpers/raw-http.js';

const HOSTILE = '<script>alert(1)</script>';
const BY = 't.tech (technician, console)';
const SECRET = 'only-the-hash-is-kept-9';

describe('technician console: users, networks, imports, reload', { timeout: 120_000 }, () => {
  let rig: ConsoleRig;
  let tech: ConsoleClient;
  const proxyGet = (url: string, headers: Record<string, string> = {}) =>
    viaProxy(rig.proxy.address.port, url, { headers });
  const changes = (action: string) =>
    withState(rig.config.dataDir, (s) =>
      s.changes.list({ since: new Date(0), ...(action ? { action } : {}) }),
    );

  beforeAll(async () => {
    rig = await startConsoleRig(
      { 't.tech': 'technician', 'd.dsl': 'dsl' },
      { identity: { basicAuth: true }, console: { importMaxKiB: 1024 } },
    );
    tech = new ConsoleClient(rig);
    expect((await tech.signIn('t.tech')).status).toBe(303);
  });
  afterAll(async () => rig?.proxy.stop());

  it('adds a user who can then use the proxy, removes them again; no password is echoed', async () => {
    const creds = { 'proxy-authorization': basic('j.smith', SECRET) };
    expect((await proxyGet('http://allowed.test/', creds)).status).toBe(407);
    const added = await tech.postForm('/users', '/users/add', {
      name: 'j.smith',
      displayName: `Jo ${HOSTILE}`,
      profile: 'staff',
      password: SECRET,
      reason: 'new teacher',
    });
    expect(added.status).toBe(303);
    expect(String(added.headers.location)).not.toContain(SECRET);
    expect((await proxyGet('http://allowed.test/', creds)).status).not.toBe(407);

    const page = await tech.get('/users');
    expect(page.status).toBe(200);
    expect(page.body).toContain('j.smith');
    expect(page.body).toContain('Jo &lt;script&gt;');
    expect(page.body).not.toContain(HOSTILE);
    expect(page.body).not.toContain(SECRET);
    const [row] = await changes('users.add');
    expect(row).toMatchObject({ by: BY, reason: 'new teacher', target: 'user j.smith' });
    expect(JSON.stringify(row)).not.toContain(SECRET);

    const dup = await tech.postForm('/users', '/users/add', {
      name: 'j.smith',
      profile: 'staff',
      reason: 'again',
    });
    expect(dup.status).toBe(400);
    expect(dup.body).toContain('SG_USER_EXISTS');
    const noReason = await tech.postForm('/users', '/users/remove', { name: 'j.smith', reason: '' });
    expect(noReason.status).toBe(400);

    const removed = await tech.postForm('/users', '/users/remove', { name: 'j.smith', reason: 'left' });
    expect(removed.status).toBe(303);
    expect((await proxyGet('http://allowed.test/', creds)).status).toBe(407);
    expect(await changes('users.remove')).toEqual([expect.objectContaining({ by: BY, reason: 'left' })]);
  });

  it('maps a network to a profile the running proxy then gives, refuses a bad CIDR with its SG code', async () => {
    const warned = async () => (await proxyGet('http://social.test/')).body.includes('>Continue</button>');
    expect(await warned()).toBe(false);
    const bad = await tech.postForm('/networks', '/networks/add', {
      cidr: `10.0.0.0/33${HOSTILE}`,
      profile: 'staff',
      name: '',
      reason: 'typo',
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('SG_NETWORK_INVALID');
    expect(bad.body).not.toContain(HOSTILE);

    const added = await tech.postForm('/networks', '/networks/add', {
      cidr: '127.0.0.0/8',
      profile: 'staff',
      name: 'Loopback lab',
      reason: 'test lab',
    });
    expect(added.status).toBe(303);
    // Staff are warned about social sites (a page with Continue), not blocked.
    expect(await warned()).toBe(true);
    const device = await tech.postForm('/networks', '/devices/add', {
      address: '10.20.3.17',
      name: 'Laptop 7',
      user: '',
      profile: 'pupil',
      reason: 'fixed IP',
    });
    expect(device.status).toBe(303);
    const page = await tech.get('/networks');
    expect(page.body).toContain('127.0.0.0/8');
    expect(page.body).toContain('Laptop 7');

    expect(
      (await tech.postForm('/networks', '/networks/remove', { cidr: '127.0.0.0/8', reason: 'lab closed' }))
        .status,
    ).toBe(303);
    expect(await warned()).toBe(false);
    expect(
      (await tech.postForm('/networks', '/devices/remove', { address: '10.20.3.17', reason: 'returned' }))
        .status,
    ).toBe(303);
    const actions = (await changes('')).map((c) => [c.action, c.by]);
    for (const a of ['networks.add', 'networks.remove', 'devices.add', 'devices.remove'])
      expect(actions).toContainEqual([a, BY]);
  });

  it('imports a list as a job: its page shows the real progress, then the summary, and the proxy blocks it', async () => {
    const lines = Array.from({ length: 10_000 }, (_, i) => `d${String(i).padStart(5, '0')}.imported.example`);
    const text = `allowed.test\n${HOSTILE}\n${lines.join('\n')}\n`;
    const total = text.split('\n').length - 1;
    // After the first 64 KiB block the importer has read exactly the lines ending in it.
    const firstBlock = text.slice(0, 1 << 16).split('\n').length - 1;
    const imports = rig.proxy.console!.imports;
    let release!: () => void;
    const held = new Promise<Readonly<ImportJob>>((resolve) => {
      imports.hold = (job) => {
        imports.hold = null;
        resolve(job);
        return new Promise<void>((r) => (release = r));
      };
    });
    expect((await proxyGet('http://allowed.test/')).status).not.toBe(403);
    const started = await tech.postForm('/imports', '/imports/list', {
      category: 'social',
      format: 'plain',
      text,
      reason: 'ticket 9',
    });
    expect(started.status).toBe(303);
    const job = await held;
    const jobPage = String(started.headers.location);
    expect(jobPage).toBe(`/imports/${job.id}`);

    const running = await tech.get(jobPage);
    expect(running.status).toBe(200);
    expect(running.body).toContain(`<progress id="progress" value="${firstBlock}" max="${total}">`);
    expect(running.body).toContain('<meta http-equiv="refresh" content="1" />');
    const second = await tech.postForm('/imports', '/imports/list', {
      category: 'social',
      format: 'plain',
      text: 'x.example\n',
      reason: 'second',
    });
    expect(second.status).toBe(400);
    expect(second.body).toContain('SG_CONSOLE_IMPORT_REFUSED');

    const settled = once(imports, 'settled');
    release();
    await settled;
    const done = await tech.get(jobPage);
    expect(done.body).toContain(`value="${total}" max="${total}"`);
    expect(done.body).toContain('10001 added');
    expect(done.body).toContain('the running proxy reloaded');
    expect(done.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(done.body).not.toContain(HOSTILE);
    expect(done.body).not.toContain('http-equiv="refresh"');
    expect((await proxyGet('http://allowed.test/')).status).toBe(403);
    expect(await changes('lists.import')).toEqual([
      expect.objectContaining({ by: BY, reason: 'ticket 9', target: 'social' }),
    ]);
  });

  it('a broken list changes nothing and its page shows the SG code; too much text is refused', async () => {
    const settled = once(rig.proxy.console!.imports, 'settled');
    const broken = await tech.postForm('/imports', '/imports/list', {
      category: 'social',
      format: 'hosts',
      replace: '1',
      text: 'one.example\ntwo.example\nthree.example\n',
      reason: 'wrong format',
    });
    expect(broken.status).toBe(303);
    await settled;
    const page = await tech.get(String(broken.headers.location));
    expect(page.body).toContain('Import refused');
    expect(page.body).toContain('SG_IMPORT_FORMAT_WRONG');
    expect((await proxyGet('http://allowed.test/')).status).toBe(403);

    const big = await tech.postForm('/imports', '/imports/list', {
      category: 'social',
      format: 'plain',
      text: 'a.example\n'.repeat(110_000),
      reason: 'too big',
    });
    expect(big.status).toBe(400);
    expect(big.body).toContain('SG_CONSOLE_IMPORT_REFUSED');
  });

  it('imports users from a CSV as a job, with its summary', async () => {
    const settled = once(rig.proxy.console!.imports, 'settled');
    const started = await tech.postForm('/imports', '/imports/users', {
      format: 'plain',
      map: '',
      text: `username,display name,profile,password\nk.lee,${HOSTILE},pupil,${SECRET}\n`,
      reason: 'intake',
    });
    expect(started.status).toBe(303);
    await settled;
    const page = await tech.get(String(started.headers.location));
    expect(page.body).toContain('1 added');
    expect(page.body).toContain('add k.lee (pupil)');
    expect(page.body).toContain('value="1" max="1"');
    expect(page.body).not.toContain(SECRET);
    const creds = { 'proxy-authorization': basic('k.lee', SECRET) };
    expect((await proxyGet('http://allowed.test/', creds)).status).toBe(403);
    expect((await changes('users.import'))[0]).toMatchObject({ by: BY, reason: 'intake' });
  });

  it('reloads the proxy from the status page, recorded with who and why', async () => {
    const status = await tech.get('/status');
    expect(status.body).toContain('action="/status/reload"');
    const r = await tech.postForm('/status', '/status/reload', { reason: 'after a config edit' });
    expect(r.status).toBe(303);
    expect(decodeURIComponent(String(r.headers.location))).toMatch(/reloaded in \d+ ms/);
    expect(await changes('reload')).toEqual([
      expect.objectContaining({ action: 'reload', by: BY, reason: 'after a config edit' }),
    ]);
  });

  it('refuses other roles (recorded) and every form without its CSRF token', async () => {
    const dsl = new ConsoleClient(rig);
    await dsl.signIn('d.dsl');
    for (const p of ['/users', '/networks', '/imports', '/imports/x'])
      expect((await dsl.get(p)).status, p).toBe(403);
    const db = openAdmin(rig.config);
    const rows = listAccess(db, {}).filter((r) => r.by === 'd.dsl (dsl, console)');
    db.close();
    expect(rows.map((r) => r.command)).toEqual(
      expect.arrayContaining(['users list /users (console)', 'networks list /networks (console)']),
    );
    const posts = [
      '/users/add',
      '/users/remove',
      '/networks/add',
      '/networks/remove',
      '/devices/add',
      '/devices/remove',
      '/imports/list',
      '/imports/users',
      '/status/reload',
    ];
    for (const p of posts) {
      expect(
        (await tech.request('POST', p, { reason: 'forged', name: 'x', cidr: '10.9.0.0/16' })).status,
        p,
      ).toBe(403);
      expect((await dsl.postForm('/alerts', p, { reason: 'wrong role' })).status, p).toBe(403);
    }
    expect(await changes('')).not.toContainEqual(expect.objectContaining({ reason: 'forged' }));
  });
});
