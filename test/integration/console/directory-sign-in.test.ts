/**
 * Console sign-in with directory credentials against a real OpenLDAP (Debian's slapd on a loopback port,
 * test/fixtures/ldap/console.ldif): a DSL-group member enrolled for TOTP signs in with their directory
 * password and code and sees the alerts inbox; a member of no mapped group, and of two, is refused; a wrong
 * password is refused and counted toward the lock; a person taken out of the DSL group is refused at their
 * next sign-in; with slapd stopped a directory sign-in is refused with SG_CONSOLE_DIRECTORY_UNAVAILABLE
 * while a local account still signs in.
 */
import { fileURLToPath } from 'node:url';
import { Attribute, Change, Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleAccounts } from '../../../src/console/accounts.js';
import { SESSION_COOKIE } from '../../../src/console/context.js';
import { openStateDatabase } from '../../../src/state/database.js';
import { ConsoleClient, startConsoleRig, type ConsoleRig } from '../../helpers/console.js';
import {
  ADMIN_DN,
  ADMIN_PASSWORD,
  findSlapd,
  fixtureLdap,
  SLAPD_SKIP_MESSAGE,
  startSlapd,
  SUFFIX,
  type Slapd,
} from '../../helpers/slapd.js';

const LDIF = fileURLToPath(new URL('../../fixtures/ldap/console.ldif', import.meta.url));
const DSL_GROUP = `cn=DSL,ou=Groups,${SUFFIX}`;
const PASSWORDS: Record<string, string> = {
  'd.dsl': 'dsl-directory-password',
  'd.moved': 'moved-directory-password',
  't.tech': 'tech-directory-password',
  'n.none': 'none-directory-password',
  'b.both': 'both-directory-password',
};
const slapd = findSlapd();
if (!slapd) console.warn(SLAPD_SKIP_MESSAGE);

function state<T>(rig: ConsoleRig, fn: (accounts: ConsoleAccounts) => T): T {
  const db = openStateDatabase(rig.config.dataDir);
  try {
    return fn(new ConsoleAccounts(db));
  } finally {
    db.close();
  }
}

const lastSignIn = (rig: ConsoleRig, name: string) =>
  state(rig, (a) => a.signIns().find((r) => r.name === name));

async function signIn(rig: ConsoleRig, name: string, password = PASSWORDS[name]!) {
  const c = new ConsoleClient(rig);
  return { c, r: await c.signIn(name, undefined, password) };
}

describe.skipIf(!slapd)('console sign-in with directory groups as roles (slapd)', () => {
  let server: Slapd;
  let rig: ConsoleRig;
  beforeAll(async () => {
    server = await startSlapd(LDIF);
    rig = await startConsoleRig(
      // A local technician account: it must keep working while the directory is down.
      { 'l.local': 'technician' },
      {
        identity: { basicAuth: true, ldap: fixtureLdap(server.url, { cacheTtlSeconds: 0 }) },
        console: {
          lockAfterFailures: 2,
          // The DSL group by DN (other case and spacing), the technicians by bare name.
          directory: {
            groups: { dsl: [DSL_GROUP.toUpperCase().replace(/,/g, ', ')], technician: ['Technicians'] },
          },
        },
      },
    );
    state(rig, (a) => {
      for (const name of ['d.dsl', 'd.moved', 'n.none', 'b.both'])
        rig.secrets.set(name, a.enrolDirectory(name));
    });
  });
  afterAll(async () => {
    await rig?.proxy.stop();
    await server?.stop();
  });

  it('signs a DSL-group member in with directory password and TOTP; they see the alerts inbox', async () => {
    const { c, r } = await signIn(rig, 'd.dsl');
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/alerts');
    const alerts = await c.get('/alerts');
    expect(alerts.status).toBe(200);
    expect(alerts.body).toContain('d.dsl (dsl)');
    expect(lastSignIn(rig, 'd.dsl')).toMatchObject({ outcome: 'signed-in' });
    expect(state(rig, (a) => a.get('d.dsl'))).toMatchObject({ role: 'dsl', directory: true });
  });

  it('refuses a wrong directory password and counts it toward the lock', async () => {
    const wrong = await signIn(rig, 'd.dsl', 'not-the-password');
    expect(wrong.r.status).toBe(401);
    expect(lastSignIn(rig, 'd.dsl')).toMatchObject({ outcome: 'failed', reason: 'bad-credentials' });
    expect(state(rig, (a) => a.get('d.dsl')!.failures)).toBe(1);
    const locking = await signIn(rig, 'd.dsl', 'not-the-password-either');
    expect(locking.r.body).toContain('locked');
    expect(lastSignIn(rig, 'd.dsl')).toMatchObject({ outcome: 'locked' });
    // Locked: the right password is refused before the directory is asked.
    const right = await signIn(rig, 'd.dsl');
    expect(right.r.status).toBe(401);
    expect(right.c.cookies.has(SESSION_COOKIE)).toBe(false);
    expect(right.r.body).toContain('locked');
  });

  it('refuses a member of no mapped group, and a member of two roles’ groups, recorded', async () => {
    const none = await signIn(rig, 'n.none');
    expect(none.r.status).toBe(403);
    expect(none.r.body).toContain('none of the directory groups');
    expect(lastSignIn(rig, 'n.none')).toMatchObject({ outcome: 'failed', reason: 'no-role' });
    const both = await signIn(rig, 'b.both');
    expect(both.r.status).toBe(403);
    expect(both.r.body).toContain('more than one console role');
    expect(lastSignIn(rig, 'b.both')).toMatchObject({ outcome: 'failed', reason: 'several-roles' });
  });

  it('signs a technician-group member in without enrolment (no personal data), by the group’s bare name', async () => {
    const { c, r } = await signIn(rig, 't.tech');
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/status');
    expect((await c.get('/alerts')).status).toBe(403);
  });

  it('takes the role away at the next sign-in once the person leaves the DSL group', async () => {
    const before = await signIn(rig, 'd.moved');
    expect(before.r.status).toBe(303);
    const admin = new Client({ url: server.url, timeout: 2_000, connectTimeout: 2_000 });
    try {
      await admin.bind(ADMIN_DN, ADMIN_PASSWORD);
      await admin.modify(DSL_GROUP, [
        new Change({
          operation: 'delete',
          modification: new Attribute({ type: 'member', values: [`uid=d.moved,ou=People,${SUFFIX}`] }),
        }),
      ]);
    } finally {
      await admin.unbind();
    }
    const after = await signIn(rig, 'd.moved');
    expect(after.r.status).toBe(403);
    expect(after.r.body).toContain('none of the directory groups');
    expect(after.c.cookies.has(SESSION_COOKIE)).toBe(false);
    expect(lastSignIn(rig, 'd.moved')).toMatchObject({ outcome: 'failed', reason: 'no-role' });
  });

  it('refuses directory sign-in with SG_CONSOLE_DIRECTORY_UNAVAILABLE when slapd is down; local accounts still work', async () => {
    await server.stop();
    const down = await signIn(rig, 'n.none');
    expect(down.r.status).toBe(503);
    expect(down.r.body).toContain('SG_CONSOLE_DIRECTORY_UNAVAILABLE');
    expect(lastSignIn(rig, 'n.none')).toMatchObject({ outcome: 'failed', reason: 'directory-unavailable' });
    const local = new ConsoleClient(rig);
    const ok = await local.signIn('l.local');
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toBe('/status');
  });
});
