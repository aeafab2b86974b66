/**
 * Basic credentials against a real state database: changes made by the CLI (another connection) take
 * effect on the next request, failed logins are throttled without running scrypt, concurrent attempts with
 * one credential share one verification, and a failed login names the user it claimed, never as the user.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.js';
import { Identifier } from '../../../src/identity/identify.js';
import type { IdentifierOptions, Revocation } from '../../../src/identity/identify-types.js';
import { hashPassword, verifyPassword } from '../../../src/identity/password.js';
import { UserStore } from '../../../src/identity/user-store.js';
import { basic } from '../../helpers/raw-http.js';
import { tempDir } from '../../helpers/schoolgate.js';

let dataDir: string;
/** The running proxy's connection to the state database. */
let proxyUsers: UserStore;
/** A second connection, as the `schoolgate users` CLI process has. */
let cli: UserStore;
let clock: number;
/** Passwords actually checked with scrypt, in order. */
let verified: string[];

beforeEach(async () => {
  dataDir = path.join(tempDir(), 'data');
  proxyUsers = new UserStore(dataDir);
  cli = new UserStore(dataDir);
  clock = 1_700_000_000_000;
  verified = [];
  await cli.add({ name: 'staff1', profile: 'staff', password: 'staff-password' });
  await cli.add({ name: 'pupil1', profile: 'pupil', password: 'pupil-password' });
});
afterEach(() => {
  proxyUsers.close();
  cli.close();
});

function identifier(opts: IdentifierOptions = {}): Identifier {
  const config = validateConfig(
    { identity: { basicAuth: true, requireAuth: true } },
    { overrides: { dataDir } },
  );
  return new Identifier(config, proxyUsers, undefined, {
    now: () => clock,
    verify: (password, hash) => {
      verified.push(password);
      return verifyPassword(password, hash);
    },
    ...opts,
  });
}

function login(id: Identifier, user: string, password: string, clientIp = '10.0.0.5') {
  return id.identify({ clientIp, proxyAuthorization: basic(user, password) });
}

describe('user changes take effect on the next request', () => {
  it('refuses the old password right after `users passwd` (from another process), accepts the new one', async () => {
    const id = identifier();
    expect(await login(id, 'staff1', 'staff-password')).toMatchObject({ ok: true });
    expect(await login(id, 'staff1', 'staff-password')).toMatchObject({ ok: true });
    expect(verified).toHaveLength(1); // the second request was a cache hit
    cli.update('staff1', { passwordHash: await hashPassword('new-password') });
    expect(await login(id, 'staff1', 'staff-password')).toMatchObject({
      ok: false,
      reason: 'bad-credentials',
    });
    expect(await login(id, 'staff1', 'new-password')).toMatchObject({
      ok: true,
      identity: { user: 'staff1' },
    });
  });

  it('refuses the old password after a change through the proxy’s own connection too', async () => {
    const id = identifier();
    expect(await login(id, 'staff1', 'staff-password')).toMatchObject({ ok: true });
    proxyUsers.update('staff1', { passwordHash: await hashPassword('new-password') });
    expect(await login(id, 'staff1', 'staff-password')).toMatchObject({ ok: false });
  });

  it.each([
    ['disable', () => cli.update('staff1', { disabled: true }), 'disabled'],
    ['remove', () => cli.remove('staff1'), 'removed'],
  ])(
    'refuses a cached credential right after `users %s`, and says so to listeners',
    async (_what, change, why) => {
      const id = identifier();
      const revoked: Revocation[] = [];
      id.onRevoked((r) => revoked.push(r));
      expect(await login(id, 'staff1', 'staff-password')).toMatchObject({ ok: true });
      change();
      expect(await login(id, 'staff1', 'staff-password')).toMatchObject({
        ok: false,
        reason: 'bad-credentials',
      });
      expect(revoked).toEqual([{ user: 'staff1', why }]);
    },
  );

  it('notices a revocation from a poll alone (for idle tunnels), and a profile change on the next request', async () => {
    const id = identifier();
    const revoked: Revocation[] = [];
    id.onRevoked((r) => revoked.push(r));
    await login(id, 'staff1', 'staff-password');
    await login(id, 'pupil1', 'pupil-password', '10.0.0.9');
    cli.update('pupil1', { profile: 'staff' });
    expect(await login(id, 'pupil1', 'pupil-password', '10.0.0.9')).toMatchObject({
      ok: true,
      identity: { profile: 'staff' },
    });
    cli.update('staff1', { passwordHash: await hashPassword('new-password') });
    id.pollUsers();
    expect(revoked).toEqual([{ user: 'staff1', why: 'password-changed' }]);
  });
});

describe('failed logins are throttled', () => {
  it('throttles 20 wrong passwords from one address without scrypt; others sign in meanwhile', async () => {
    const id = identifier();
    // staff1 signed in from their own laptop yesterday (the cached credential has expired since).
    expect(await login(id, 'staff1', 'staff-password', '10.0.0.8')).toMatchObject({ ok: true });
    clock += 24 * 3_600_000;
    verified.length = 0;
    const results = [];
    for (let i = 0; i < 20; i++) results.push(await login(id, 'staff1', `guess-${i}`));
    expect(results.slice(0, 5).every((r) => !r.ok && r.throttle === undefined)).toBe(true);
    expect(results.slice(5).every((r) => !r.ok && r.throttle?.scope === 'address')).toBe(true);
    expect(verified).toHaveLength(5);

    // Others are unaffected: another user from another address, and staff1 from their own laptop.
    expect(await login(id, 'pupil1', 'pupil-password', '10.0.0.9')).toMatchObject({
      ok: true,
      identity: { user: 'pupil1' },
    });
    // staff1 on a new machine is throttled by the user name (no scrypt); on their own laptop they sign in.
    expect(await login(id, 'staff1', 'staff-password', '10.0.0.77')).toMatchObject({
      ok: false,
      throttle: { scope: 'user' },
    });
    expect(await login(id, 'staff1', 'staff-password', '10.0.0.8')).toMatchObject({ ok: true });
    expect(verified).toEqual([
      ...['guess-0', 'guess-1', 'guess-2', 'guess-3', 'guess-4'],
      ...['pupil-password', 'staff-password'],
    ]);
    expect(id.authCounters()).toMatchObject({ failures: 5, throttled: 16 });

    // After the back-off (1 s), the next attempt is checked again; another failure doubles it.
    const retry = (await login(id, 'staff1', 'guess-x')) as { throttle?: { retryAfterMs: number } };
    expect(retry.throttle?.retryAfterMs).toBe(1_000);
    clock += 1_000;
    expect(await login(id, 'staff1', 'guess-y')).toMatchObject({ ok: false, reason: 'bad-credentials' });
    expect(verified.at(-1)).toBe('guess-y');
    expect(await login(id, 'staff1', 'guess-z')).toMatchObject({ throttle: { retryAfterMs: 2_000 } });
    clock += 2_000;
    expect(await login(id, 'staff1', 'guess-last')).toEqual({
      ok: false,
      reason: 'bad-credentials',
      user: null,
      claimedUser: 'staff1',
    });
    expect(verified.at(-1)).toBe('guess-last');
  });

  it('throttles a user name guessed from many addresses', async () => {
    const id = identifier();
    for (let i = 0; i < 5; i++) await login(id, 'staff1', `guess-${i}`, `10.0.1.${i}`);
    expect(await login(id, 'staff1', 'guess-5', '10.0.1.99')).toMatchObject({ throttle: { scope: 'user' } });
    expect(verified).toHaveLength(5);
    expect(await login(id, 'pupil1', 'pupil-password', '10.0.1.99')).toMatchObject({ ok: true });
  });

  it('bounds a burst of concurrent guesses by the threshold, and throttles unknown user names too', async () => {
    const id = identifier();
    const burst = await Promise.all(
      Array.from({ length: 30 }, (_, i) => login(id, i % 2 ? 'staff1' : `nobody${i}`, `burst-${i}`)),
    );
    expect(burst.every((r) => !r.ok)).toBe(true);
    expect(verified.length).toBe(5);
    expect(burst.filter((r) => !r.ok && r.throttle).length).toBe(25);
  });

  it('forgets failures after the window', async () => {
    const id = identifier({ throttle: { windowMs: 60_000 } });
    for (let i = 0; i < 4; i++) await login(id, 'staff1', `guess-${i}`);
    clock += 61_000;
    for (let i = 0; i < 4; i++) await login(id, 'staff1', `again-${i}`);
    expect(await login(id, 'staff1', 'staff-password')).toMatchObject({ ok: true });
    expect(verified).toHaveLength(9);
  });
});

describe('scrypt work is bounded', () => {
  it('verifies 16 concurrent first requests with one credential once', async () => {
    const id = identifier();
    const results = await Promise.all(
      Array.from({ length: 16 }, () => login(id, 'staff1', 'staff-password')),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    expect(verified).toHaveLength(1);
  });

  it('runs at most maxConcurrentVerifications at once, and refuses as busy past the queue', async () => {
    for (let i = 0; i < 6; i++) await cli.add({ name: `u${i}`, profile: 'pupil', password: `password-${i}` });
    let running = 0;
    let most = 0;
    const id = identifier({
      maxConcurrentVerifications: 2,
      maxQueuedVerifications: 3,
      verify: async (password, hash) => {
        most = Math.max(most, ++running);
        try {
          return await verifyPassword(password, hash);
        } finally {
          running--;
        }
      },
    });
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => login(id, `u${i}`, `password-${i}`, `10.0.2.${i}`)),
    );
    expect(most).toBe(2);
    expect(results.filter((r) => r.ok)).toHaveLength(5);
    expect(results.filter((r) => !r.ok && r.throttle?.scope === 'busy')).toHaveLength(1);
    expect(id.authCounters()).toMatchObject({ busy: 1, verifications: 5, failures: 0 });
  });
});

describe('a failed login names the user it claimed, never as the user', () => {
  it.each([
    ['a wrong password', 'staff1', 'staff1'],
    ['an unknown user', 'nobody', 'nobody'],
    ['control characters', 'evil\r\nname', 'evil??name'],
  ])('%s', async (_what, name, claimedUser) => {
    const result = await login(identifier(), name, 'wrong-password');
    expect(result).toEqual({ ok: false, reason: 'bad-credentials', user: null, claimedUser });
  });

  it('a disabled user with the right password is refused after the same scrypt work', async () => {
    cli.update('pupil1', { disabled: true });
    expect(await login(identifier(), 'pupil1', 'pupil-password')).toMatchObject({
      ok: false,
      user: null,
      claimedUser: 'pupil1',
    });
    expect(verified).toEqual(['pupil-password']);
  });
});
