/**
 * Directory sign-in against a real OpenLDAP (Debian's slapd, started here on a loopback port from
 * test/fixtures/ldap/school.ldif): group → profile, wrong passwords, the cache and single-flight (binds
 * counted from slapd's own log), local users first, and outages (slapd stopped, a port nobody listens on,
 * a server that accepts and never answers) ending in the configured fallback, not a hang.
 */
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { controlRequest } from '../../../src/app/control.js';
import type { StatusReport } from '../../../src/app/status.js';
import { validateConfig } from '../../../src/config/load.js';
import { Identifier, OUTAGE_BACKOFF_MS } from '../../../src/identity/identify.js';
import { UserStore } from '../../../src/identity/user-store.js';
import { issue } from '../../helpers/certs.js';
import { basic, viaProxy } from '../../helpers/raw-http.js';
import { startTestProxy, tempDir, testConfig } from '../../helpers/schoolgate.js';
import {
  findSlapd,
  fixtureLdap,
  freePort,
  SLAPD_SKIP_MESSAGE,
  STAFF_DN,
  startSlapd,
  SUFFIX,
  YEAR7_DN,
  type LdapInput,
  type Slapd,
} from '../../helpers/slapd.js';

const AVA = `uid=ava.y7,ou=People,${SUFFIX}`;
const SAM = `uid=sam.staff,ou=People,${SUFFIX}`;
const slapd = findSlapd();
if (!slapd) console.warn(SLAPD_SKIP_MESSAGE);

function ldapConfig(url: string, extra: Partial<LdapInput> = {}): LdapInput {
  // Written with other spacing and case than the server's DNs: compared canonically.
  const groups = { [YEAR7_DN.replace(/,/g, ', ').toUpperCase()]: 'pupil', [STAFF_DN]: 'staff' };
  return fixtureLdap(url, { groups, ...extra });
}

let dataDir: string;
let users: UserStore;
let clock: number;
let outages: string[];

beforeEach(() => {
  dataDir = path.join(tempDir(), 'data');
  users = new UserStore(dataDir);
  clock = 1_700_000_000_000;
  outages = [];
});
afterEach(() => users.close());

function identifier(ldap: LdapInput): Identifier {
  const config = validateConfig(
    { identity: { basicAuth: true, requireAuth: true, ldap } },
    { overrides: { dataDir } },
  );
  return new Identifier(config, users, undefined, {
    now: () => clock,
    onDirectoryOutage: (cause) => outages.push(cause),
  });
}

function login(id: Identifier, user: string, password: string, clientIp = '10.0.0.5') {
  return id.identify({ clientIp, proxyAuthorization: basic(user, password) });
}

describe.skipIf(!slapd)('directory sign-in against slapd', () => {
  let server: Slapd;
  beforeAll(async () => {
    server = await startSlapd();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it.each([
    ['a member of Year7 gets the pupil profile', 'ava.y7', 'ava-password', 'pupil'],
    ['a member of Staff gets the staff profile', 'sam.staff', 'sam-password', 'staff'],
    ['a user in no configured group gets the guest profile', 'nogroup', 'nogroup-password', 'guest'],
  ])('%s', async (_, user, password, profile) => {
    const result = await login(identifier(ldapConfig(server.url)), user, password);
    expect(result).toEqual({ ok: true, identity: { user, profile, device: null, via: 'basic' } });
  });

  it('the first group in the config order decides (Staff listed first wins for a member of both)', async () => {
    const id = identifier(ldapConfig(server.url, { groups: { [STAFF_DN]: 'staff', [YEAR7_DN]: 'pupil' } }));
    // ava is only in Year7: Staff is asked first, does not match, Year7 does.
    expect(await login(id, 'ava.y7', 'ava-password')).toMatchObject({ identity: { profile: 'pupil' } });
  });

  it.each([
    ['a wrong password', 'ava.y7', 'not-her-password'],
    ['an empty password (an unauthenticated bind slapd would accept)', 'ava.y7', ''],
    ['a user the directory does not have', 'nobody', 'x-password'],
    ['a name two entries share (refused, not one of them picked)', 'twin', 'twin-password'],
    ['a filter wildcard as the name', '*', 'ava-password'],
  ])('refuses %s', async (_, user, password) => {
    const id = identifier(ldapConfig(server.url));
    expect(await login(id, user, password)).toMatchObject({ ok: false, reason: 'bad-credentials' });
    expect(id.authCounters()).toMatchObject({ failures: 1, directory: { outages: 0 } });
  });

  it('never binds with an empty password', async () => {
    const before = server.bindCount(AVA);
    await login(identifier(ldapConfig(server.url)), 'ava.y7', '');
    expect(server.bindCount(AVA)).toBe(before);
  });

  it('a second request with the same credential is answered from the cache: no second bind', async () => {
    const id = identifier(ldapConfig(server.url));
    const before = server.bindCount(AVA);
    expect(await login(id, 'ava.y7', 'ava-password')).toMatchObject({ ok: true });
    expect(await login(id, 'ava.y7', 'ava-password')).toMatchObject({ ok: true });
    expect(server.bindCount(AVA) - before).toBe(1);
    expect(id.authCounters().directory).toMatchObject({ userBinds: 1, cacheHits: 1 });
    // A different password is never answered from the cache.
    expect(await login(id, 'ava.y7', 'ava-password2')).toMatchObject({ ok: false });
    expect(server.bindCount(AVA) - before).toBe(2);
  });

  it('the cache entry ends after cacheTtlSeconds (test clock): the next request binds again', async () => {
    const id = identifier(ldapConfig(server.url, { cacheTtlSeconds: 60 }));
    const before = server.bindCount(AVA);
    await login(id, 'ava.y7', 'ava-password');
    clock += 60_001;
    await login(id, 'ava.y7', 'ava-password');
    expect(server.bindCount(AVA) - before).toBe(2);
  });

  it('concurrent requests with one credential make one bind (single-flight)', async () => {
    const id = identifier(ldapConfig(server.url));
    const before = server.bindCount(SAM);
    const results = await Promise.all(
      Array.from({ length: 8 }, () => login(id, 'sam.staff', 'sam-password')),
    );
    expect(results.every((r) => r.ok && r.identity.profile === 'staff')).toBe(true);
    expect(server.bindCount(SAM) - before).toBe(1);
  });

  it('a local user of the same name is checked locally only; the directory is not asked', async () => {
    await users.add({ name: 'ava.y7', profile: 'staff', password: 'local-password' });
    const id = identifier(ldapConfig(server.url));
    const before = server.bindCount(AVA);
    expect(await login(id, 'ava.y7', 'local-password')).toMatchObject({
      ok: true,
      identity: { user: 'ava.y7', profile: 'staff' },
    });
    expect(await login(id, 'ava.y7', 'ava-password')).toMatchObject({ ok: false });
    expect(server.bindCount(AVA)).toBe(before);
  });

  it('an imported user (a local row without a password) signs in with the directory password and keeps the local profile', async () => {
    await users.add({ name: 'ava.y7', profile: 'staff' });
    const id = identifier(ldapConfig(server.url));
    const revoked: string[] = [];
    id.onRevoked((r) => revoked.push(`${r.user}:${r.why}`));
    expect(await login(id, 'ava.y7', 'ava-password')).toMatchObject({
      ok: true,
      identity: { user: 'ava.y7', profile: 'staff' },
    });
    expect(id.isSignedIn('ava.y7')).toBe(true);
    // `users disable` (another connection): the cached sign-in ends, open connections are told.
    const cli = new UserStore(dataDir);
    cli.update('ava.y7', { disabled: true });
    cli.close();
    const before = server.bindCount(AVA);
    expect(await login(id, 'ava.y7', 'ava-password')).toMatchObject({ ok: false, reason: 'bad-credentials' });
    expect(server.bindCount(AVA)).toBe(before);
    expect(revoked).toEqual(['ava.y7:disabled']);
    expect(id.isSignedIn('ava.y7')).toBe(false);
  });

  it('wrong directory passwords are throttled before they reach the directory (no account lockout)', async () => {
    const id = identifier(ldapConfig(server.url));
    const before = server.bindCount(SAM);
    for (let i = 0; i < 5; i++) await login(id, 'sam.staff', `guess-${i}`);
    expect(await login(id, 'sam.staff', 'guess-6')).toMatchObject({ ok: false, throttle: {} });
    expect(server.bindCount(SAM) - before).toBe(5);
  });

  it('a 407 for a wrong password and the pupil profile for a Year7 pupil through the running proxy', async () => {
    const config = testConfig({
      identity: { basicAuth: true, requireAuth: true, ldap: ldapConfig(server.url) },
    });
    const proxy = await startTestProxy(config);
    try {
      const port = proxy.address.port;
      const wrong = await viaProxy(port, 'http://social.test/', {
        headers: { 'proxy-authorization': basic('ava.y7', 'wrong-password') },
      });
      expect(wrong.status).toBe(407);
      expect(wrong.headers['proxy-authenticate']).toMatch(/^Basic realm=/);
      // social.test: blocked for pupils, a warning for staff (fixture profiles).
      const pupil = await viaProxy(port, 'http://social.test/', {
        headers: { 'proxy-authorization': basic('ava.y7', 'ava-password') },
      });
      expect(pupil.status).toBe(403);
      const staff = await viaProxy(port, 'http://social.test/', {
        headers: { 'proxy-authorization': basic('sam.staff', 'sam-password') },
      });
      // Staff are warned (a page with Continue), pupils blocked outright.
      expect(staff.status).toBe(403);
      expect(staff.body).toMatch(/Continue/);
      expect(pupil.body).not.toMatch(/Continue/);
      // `schoolgate status` shows the directory: three user binds (one refused), none cached, up.
      const status = await controlRequest<StatusReport>(config.dataDir, 'status');
      expect(status.directory).toMatchObject({ userBinds: 3, cacheHits: 0, outages: 0, down: false });
    } finally {
      await proxy.stop();
    }
  });
});

describe.skipIf(!slapd)('TLS to the directory: LDAPS and StartTLS, the certificate verified', () => {
  let server: Slapd;
  let caFile: string;
  beforeAll(async () => {
    const ca = issue({ cn: 'school directory CA', ca: true });
    const leaf = issue({ cn: '127.0.0.1', ips: ['127.0.0.1'], issuer: ca });
    caFile = path.join(tempDir(), 'directory-ca.pem');
    writeFileSync(caFile, ca.certPem);
    server = await startSlapd(undefined, { certPem: leaf.certPem, keyPem: leaf.keyPem });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('ldaps:// with the directory CA in tls.caFile', async () => {
    const id = identifier(ldapConfig(server.ldapsUrl!, { tls: { caFile } }));
    expect(await login(id, 'ava.y7', 'ava-password')).toMatchObject({ identity: { profile: 'pupil' } });
  });

  it('ldap:// upgraded with StartTLS before the password is sent', async () => {
    const id = identifier(ldapConfig(server.url, { tls: { startTls: true, caFile } }));
    expect(await login(id, 'ava.y7', 'ava-password')).toMatchObject({ identity: { profile: 'pupil' } });
    expect(await login(id, 'sam.staff', 'wrong-password')).toMatchObject({ reason: 'bad-credentials' });
  });

  it('a certificate nobody vouches for is an outage (no password sent), not a sign-in', async () => {
    const id = identifier(ldapConfig(server.ldapsUrl!, { onOutage: 'refuse' }));
    expect(await login(id, 'ava.y7', 'ava-password')).toMatchObject({ reason: 'directory-unavailable' });
    expect(outages[0]).toMatch(/certificate/i);
  });
});

describe.skipIf(!slapd)('the directory down: the configured fallback, not a hang', () => {
  it('slapd stopped: cached sign-ins keep working, others get the guest profile, logged once', async () => {
    const server = await startSlapd();
    const id = identifier(ldapConfig(server.url, { onOutage: 'guest' }));
    expect(await login(id, 'ava.y7', 'ava-password')).toMatchObject({ identity: { profile: 'pupil' } });
    await server.stop();
    expect(await login(id, 'ava.y7', 'ava-password')).toMatchObject({
      identity: { user: 'ava.y7', profile: 'pupil' },
    });
    expect(await login(id, 'sam.staff', 'sam-password')).toEqual({
      ok: true,
      identity: { user: null, profile: 'guest', device: null, via: 'guest' },
    });
    expect(await login(id, 'nogroup', 'nogroup-password')).toMatchObject({ identity: { profile: 'guest' } });
    expect(outages).toHaveLength(1);
    expect(id.authCounters().directory).toMatchObject({ down: true });
  });

  it('a port nobody listens on with onOutage refuse: 407 reason directory-unavailable', async () => {
    const id = identifier(ldapConfig(`ldap://127.0.0.1:${await freePort()}`, { onOutage: 'refuse' }));
    expect(await login(id, 'ava.y7', 'ava-password')).toEqual({
      ok: false,
      reason: 'directory-unavailable',
      user: null,
      claimedUser: 'ava.y7',
    });
    expect(outages).toHaveLength(1);
  });

  describe('a server that accepts and never answers', () => {
    let silent: net.Server;
    let connections: number;
    const sockets = new Set<net.Socket>();
    beforeAll(async () => {
      silent = net.createServer((socket) => {
        connections++;
        sockets.add(socket);
        socket.on('error', () => {});
        socket.resume(); // reads the bind request, answers nothing
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    beforeEach(() => (connections = 0));

    it('ends in the fallback after timeoutMs; for the back-off further sign-ins do not connect', async () => {
      const url = `ldap://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
      const id = identifier(ldapConfig(url, { timeoutMs: 300, onOutage: 'guest' }));
      expect(await login(id, 'ava.y7', 'ava-password')).toMatchObject({
        ok: true,
        identity: { user: null, profile: 'guest' },
      });
      expect(connections).toBe(1);
      expect(outages[0]).toMatch(/300 ms|timeout/i);
      expect(await login(id, 'sam.staff', 'sam-password')).toMatchObject({ identity: { profile: 'guest' } });
      expect(connections).toBe(1);
      clock += OUTAGE_BACKOFF_MS;
      expect(await login(id, 'sam.staff', 'sam-password')).toMatchObject({ identity: { profile: 'guest' } });
      expect(connections).toBe(2);
    });
  });
});

describe('the bind password file', () => {
  it('missing: the proxy does not start, and the error names the field and file (never a value)', async () => {
    const ldap = { ...ldapConfig('ldap://127.0.0.1:1'), bindPasswordFile: path.join(tempDir(), 'missing') };
    const config = testConfig({ identity: { basicAuth: true, ldap } });
    await expect(startTestProxy(config)).rejects.toMatchObject({
      code: 'SG_CONFIG_INVALID',
      message: expect.stringMatching(/identity\.ldap\.bindPasswordFile: cannot read .*missing/),
    });
  });
});
