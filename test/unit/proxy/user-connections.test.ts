/**
 * UserConnections: which connections a revocation closes. Streams stand in for client sockets (the
 * registry only destroys them and listens for 'close'); the socket-level behaviour is in
 * test/integration/identity/revoke-connections.test.ts.
 */
import { Duplex } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Identity } from '../../../src/identity/identify-types.js';
import { UserConnections } from '../../../src/proxy/user-connections.js';

const basicUser = (user: string): Identity => ({ user, profile: 'pupil', device: null, via: 'basic' });

function connection(): { socket: Duplex; closed: Promise<void> } {
  const socket = new Duplex({ read() {}, write: (_c, _e, done) => done() });
  return { socket, closed: new Promise((resolve) => socket.once('close', () => resolve())) };
}

function registry(signedIn = new Set(['pupil1', 'pupil2'])) {
  return new UserConnections((u) => signedIn.has(u), pino({ level: 'silent' }));
}

describe('UserConnections', () => {
  it('closes every connection of the revoked user and no other', async () => {
    const users = registry();
    const [a, b, other] = [connection(), connection(), connection()];
    expect(users.hold(basicUser('pupil1'), a.socket)).toBe(true);
    expect(users.hold(basicUser('pupil1'), b.socket)).toBe(true);
    expect(users.hold(basicUser('pupil2'), other.socket)).toBe(true);
    expect(users.revoke({ user: 'pupil1', why: 'disabled' })).toBe(2);
    await Promise.all([a.closed, b.closed]);
    expect(other.socket.destroyed).toBe(false);
    expect(users.users).toBe(1);
  });

  it.each([
    ['a device-mapped user', { user: 'pupil1', profile: 'pupil', device: 'ipad-1', via: 'device' }],
    ['a network profile', { user: null, profile: 'pupil', device: null, via: 'network' }],
    ['the guest', { user: null, profile: 'guest', device: null, via: 'guest' }],
    ['nobody identified', null],
  ] as const)('does not hold %s (nothing can revoke them)', (_what, identity) => {
    const users = registry();
    const c = connection();
    expect(users.hold(identity as Identity | null, c.socket)).toBe(true);
    expect(users.revoke({ user: 'pupil1', why: 'removed' })).toBe(0);
    expect(c.socket.destroyed).toBe(false);
  });

  it('closes at once a connection identified before a revocation it is held after', async () => {
    const users = registry(new Set(['pupil2']));
    const c = connection();
    expect(users.hold(basicUser('pupil1'), c.socket)).toBe(false);
    await c.closed;
    expect(users.users).toBe(0);
  });

  it('forgets a connection that closed by itself, under every user it carried', async () => {
    const users = registry();
    const c = connection();
    // A keep-alive connection that carried requests of two users.
    users.hold(basicUser('pupil1'), c.socket);
    users.hold(basicUser('pupil1'), c.socket);
    users.hold(basicUser('pupil2'), c.socket);
    c.socket.destroy();
    await c.closed;
    expect(users.users).toBe(0);
    expect(users.revoke({ user: 'pupil1', why: 'password-changed' })).toBe(0);
  });

  it('closes a connection shared by two users when either is revoked', async () => {
    const users = registry();
    const c = connection();
    users.hold(basicUser('pupil1'), c.socket);
    users.hold(basicUser('pupil2'), c.socket);
    expect(users.revoke({ user: 'pupil2', why: 'disabled' })).toBe(1);
    await c.closed;
    expect(users.users).toBe(0);
  });
});
